# Shared helpers for the local infrastructure scripts (sourced, not run).
# Layout:  cache (downloads, builds; reused across clones)  ${TYNDAU_CACHE_DIR:-~/.cache/tyndau}
#          state (data, logs, pid files of this checkout)    ${TYNDAU_STATE_DIR:-<repo>/.run}

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${TYNDAU_CACHE_DIR:-$HOME/.cache/tyndau}"
STATE_DIR="${TYNDAU_STATE_DIR:-$REPO_ROOT/.run}"

log() { printf '[infra] %s\n' "$*" >&2 || true; }  # never fail a stop on a closed terminal
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# need_tool NAME HINT — one clear line when a build tool is missing.
need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}

# port_open HOST PORT — true when something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
  return 1
}

# pid_alive PIDFILE — true when the file names a running process (a killed one its parent has
# not reaped yet is a zombie: dead).
pid_alive() {
  [ -f "$1" ] || return 1
  local pid
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

# spawn PIDFILE LOGFILE CMD... — start CMD detached in its own session (it outlives this script
# and ignores the terminal's Ctrl-C). The child writes its own pid before exec, so the pid file
# names the real server even where setsid has to fork.
spawn() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  die "could not start $1"
}

# stop_pidfile NAME PIDFILE — TERM, wait up to 30 s, then KILL; remove the pid file.
stop_pidfile() {
  local name=$1 pidfile=$2 pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name is not running (nothing to stop)"
    return 0
  fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  # The server leads its own process group (spawn): signal the group, children included.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 30 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

# already_serving NAME PIDFILE PORT ROLE — true (and says why) when this checkout's server runs
# or something else already listens on 127.0.0.1:PORT (then it is used as ROLE).
already_serving() {
  local name=$1 pidfile=$2 port=$3 role=$4
  if pid_alive "$pidfile"; then
    log "$name already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"
    return 0
  fi
  if port_open 127.0.0.1 "$port"; then
    log "something already listens on 127.0.0.1:$port; using it as the $role"
    return 0
  fi
  return 1
}

# wait_until_ready NAME PIDFILE SECONDS READY_CMD LOGFILE... — poll READY_CMD (a shell
# command) every 0.5 s; if the server exits first, show the tail of its logs and fail.
wait_until_ready() {
  local name=$1 pidfile=$2 seconds=$3 ready=$4 waited=0
  shift 4
  until eval "$ready"; do
    if ! pid_alive "$pidfile"; then
      tail -n 30 "$@" >&2 2>/dev/null || true
      rm -f "$pidfile"
      die "$name exited during start-up; see $1"
    fi
    if [ "$waited" -ge $((seconds * 2)) ]; then die "$name did not start within $seconds s; see $1"; fi
    sleep 0.5; waited=$((waited + 1))
  done
  log "$name is ready on 127.0.0.1:$PORT"
}

# server_status KEY PIDFILE PORT — one line: running, served by someone else, or stopped.
server_status() {
  local key=$1 pidfile=$2 port=$3
  if pid_alive "$pidfile"; then echo "$key: running (pid $(cat "$pidfile")) on 127.0.0.1:$port"
  elif port_open 127.0.0.1 "$port"; then echo "$key: 127.0.0.1:$port is served by a process this checkout did not start"
  else echo "$key: stopped"; return 1; fi
}

# serve_commands NAME KEY PIDFILE PORT COMMAND — the install|start|stop|status entry point of
# a server script (which defines `install` and `start`).
serve_commands() {
  local name=$1 key=$2 pidfile=$3 port=$4
  case "${5:-}" in
    install) install ;;
    start) start ;;
    stop) stop_pidfile "$name" "$pidfile" ;;
    status) server_status "$key" "$pidfile" "$port" ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
  esac
}
