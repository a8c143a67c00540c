#!/usr/bin/env bash
# PostgreSQL (Debian's `postgresql` package) as a local process: the backend of FerretDB's
# `postgresql` handler (`FERRETDB_HANDLER=postgresql deploy/local/ferretdb.sh start`), measured
# beside the default SQLite backend by `python -m bench.backends` (issue 18).
#   postgres.sh start    initdb once, start on 127.0.0.1:$POSTGRES_PORT, wait until it answers,
#                        create the database FerretDB uses
#   postgres.sh stop     stop the server this checkout started (fast shutdown)
#   postgres.sh status   say whether it is running
#   postgres.sh url      print FerretDB's --postgresql-url
# Env: POSTGRES_PORT (25432: clear of Kafka's 9092-9097/19092-19097, FerretDB's 27017/27019/
#      27117 and Temporal's 7233-7239), POSTGRES_SYNCHRONOUS_COMMIT (off; `on` to compare with
#      FERRETDB_SQLITE_SYNCHRONOUS=full).
# Layout: $STATE_DIR/postgres/{data,postgres.log,postgres.pid} and the unix socket there too.
# Run as root (as in this machine's containers), the server runs as the `postgres` user the
# Debian package creates: PostgreSQL refuses to run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${POSTGRES_PORT:-25432}"
PG_HOME="$STATE_DIR/postgres"
DATA_DIR="$PG_HOME/data"
PIDFILE="$PG_HOME/postgres.pid"
LOG_FILE="$PG_HOME/postgres.log"
# The superuser initdb makes, and the database FerretDB keeps its schemas (one per MongoDB
# database) in.
PG_USER=ferretdb
PG_DATABASE=ferretdb
# Durability, chosen to match the SQLite backend's `synchronous=normal` in WAL mode (see
# ferretdb.sh): there a commit is written to the WAL without an fsync. PostgreSQL has no
# "write but do not sync at commit" setting that keeps the files consistent (fsync=off risks a
# corrupt cluster on an OS crash, which SQLite's normal does not), so the fair counterpart is
# synchronous_commit=off: a commit does not wait for its WAL flush; the WAL writer flushes every
# wal_writer_delay (10 ms here, 200 ms by default), so a crash of PostgreSQL or of the OS may lose
# the last ~30 ms of acknowledged commits but never corrupts anything — the same class as SQLite
# normal losing the last commits on an OS crash and MongoDB's default j:false losing up to
# 100 ms. `on` (POSTGRES_SYNCHRONOUS_COMMIT=on) is the counterpart of SQLite `full`.
SYNC_COMMIT="${POSTGRES_SYNCHRONOUS_COMMIT:-off}"

# The server's binaries: on PATH, or the newest /usr/lib/postgresql/<version>/bin (Debian puts
# them there and only wrappers of the client tools on PATH).
find_bin_dir() {
  local candidate
  if candidate=$(command -v postgres 2>/dev/null) && [ -x "$(dirname "$(readlink -f "$candidate")")/initdb" ]; then
    dirname "$(readlink -f "$candidate")"
    return 0
  fi
  candidate=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$candidate" ] && [ -x "$candidate/postgres" ]; then
    echo "$candidate"
    return 0
  fi
  die "PostgreSQL is not installed (no postgres/initdb on PATH or in /usr/lib/postgresql/*/bin); Debian: apt-get install -y postgresql"
}

# as_owner CMD... — run CMD as the data directory's owner: this user, or `postgres` under root.
# setpriv execs in place (no fork), so a spawned server's pid file names the postmaster itself.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

install() {
  BIN_DIR=$(find_bin_dir)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian: apt-get install -y postgresql)"
    need_tool setpriv "install util-linux (Debian: apt-get install -y util-linux)"
  fi
}

init_cluster() {
  if [ -f "$DATA_DIR/PG_VERSION" ]; then return 0; fi
  mkdir -p "$PG_HOME"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_HOME"
    as_owner test -x "$PG_HOME" || die "the postgres user cannot reach $PG_HOME; give the directories above it o+x"
  fi
  log "initdb: a PostgreSQL cluster in $DATA_DIR (trust for local and loopback connections only)"
  # C collation: strings compare bytewise, as MongoDB orders them. --auth=trust applies to the
  # pg_hba lines initdb writes, which are the unix socket and 127.0.0.1/::1 only.
  as_owner "$BIN_DIR/initdb" --pgdata="$DATA_DIR" --username="$PG_USER" --auth=trust \
    --encoding=UTF8 --no-locale >>"$LOG_FILE" 2>&1 || die "initdb failed; see $LOG_FILE"
}

psql_cmd() {
  as_owner "$BIN_DIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOME" -p "$PORT" -U "$PG_USER" "$@"
}

start() {
  install
  if ! already_serving PostgreSQL "$PIDFILE" "$PORT" "PostgreSQL server"; then
    case "$SYNC_COMMIT" in
      on|off) ;;
      *) die "POSTGRES_SYNCHRONOUS_COMMIT must be on or off, not '$SYNC_COMMIT'" ;;
    esac
    init_cluster
    touch "$LOG_FILE"
    log "starting PostgreSQL $("$BIN_DIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (synchronous_commit=$SYNC_COMMIT, data $DATA_DIR, log $LOG_FILE)"
    local server=("$BIN_DIR/postgres" -D "$DATA_DIR" -c listen_addresses=127.0.0.1 -c port="$PORT"
      -c unix_socket_directories="$PG_HOME" -c synchronous_commit="$SYNC_COMMIT"
      -c wal_writer_delay=10ms
      # FerretDB's pool opens up to 50 connections (pool_max_conns), each a backend process.
      -c max_connections=100 -c shared_buffers=128MB -c log_min_messages=warning)
    if [ "$(id -u)" = 0 ]; then server=(setpriv --reuid=postgres --regid=postgres --init-groups -- "${server[@]}"); fi
    spawn "$PIDFILE" "$LOG_FILE" "${server[@]}"
    wait_until_ready PostgreSQL "$PIDFILE" 60 \
      'as_owner "$BIN_DIR/pg_isready" -q -h "$PG_HOME" -p "$PORT"' "$LOG_FILE"
  fi
  if [ "$(psql_cmd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != 1 ]; then
    log "creating the database '$PG_DATABASE'"
    psql_cmd -d postgres -c "CREATE DATABASE $PG_DATABASE"
  fi
}

stop() {
  # SIGINT is PostgreSQL's fast shutdown: clients (FerretDB's pool) are disconnected, a
  # checkpoint written. (SIGTERM, stop_pidfile's signal, waits for every client to leave.)
  local pid i
  if pid_alive "$PIDFILE"; then
    pid=$(cat "$PIDFILE")
    log "stopping PostgreSQL (pid $pid, fast shutdown)"
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
      sleep 0.5
    done
  fi
  stop_pidfile PostgreSQL "$PIDFILE"  # not running, or did not stop in 30 s: TERM, then KILL
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) server_status postgres "$PIDFILE" "$PORT" ;;
  url) echo "postgres://$PG_USER@127.0.0.1:$PORT/$PG_DATABASE" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
