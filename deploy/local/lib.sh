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

# pid_alive PIDFILE — true when the file names a running process.
pid_alive() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
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
