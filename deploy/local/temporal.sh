#!/usr/bin/env bash
# Temporal server (go.temporal.io/server) on SQLite as a local process — only for the bench's
# side-by-side comparison (bench/temporal.py, issue 18); the services never use it.
#   temporal.sh install   build the server from the Go module proxy into the cache (~4 min)
#   temporal.sh start     install if needed, start on 127.0.0.1:$TEMPORAL_PORT, wait until it answers
#   temporal.sh stop      stop the server this checkout started
#   temporal.sh status    say whether it is running
#   temporal.sh reset     delete its database (stopped first): the bench starts from empty
# Choices, and why:
# - v1.31.2 built from the module source, as issue 18 checked it: the module is downloaded
#   from the Go module proxy, copied out of the read-only module cache and built with
#   `go build ./cmd/server` (its config/ directory is needed as well, so it is kept beside the
#   binary). v1.32 asks for a newer Go than this machine's. The CLI's `temporal server
#   start-dev` does not build here: it needs a nested module the proxy does not serve. The
#   binary lives in the cache, never in the repository.
# - SQLite in a file (the module's config/development-sqlite-file.yaml): the same kind of
#   embedded single-file store as the local FerretDB, no other server to run. The config is
#   rendered into $STATE_DIR/temporal/config (the dynamic config copied beside it) with the
#   database in $STATE_DIR/temporal/data; the module's file names it "default", a file in
#   whatever the working directory is. Its `synchronous: 2` (FULL) becomes
#   $TEMPORAL_SQLITE_SYNCHRONOUS, default 1 (NORMAL): the setting the local FerretDB runs
#   with (ferretdb.sh), so both stores sync alike. One history shard, as the module's file.
# - Ports: frontend gRPC $TEMPORAL_PORT (7233, Temporal's usual port); the other services keep
#   the module file's ports (history 7234, matching 7235, worker 7239, membership 6933-6939,
#   frontend HTTP 7243). None collides with Kafka (9092-9097, 19092-19097), FerretDB (27017,
#   27117, 27019), PostgreSQL (25432) or the services (8001-8004). The module's pprof (7936)
#   and Prometheus endpoint (8000) are left out: nothing scrapes them here, they would cost
#   the server CPU the comparison counts, and each is a port less to collide with
#   (TEMPORAL_METRICS_PORT=… turns the Prometheus endpoint back on).
# - --allow-no-auth: a local server bound to the loopback only, as the bench's FerretDB.
# - Log level warn (TEMPORAL_LOG_LEVEL): only what goes wrong, as the services in the bench.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEMPORAL_VERSION=v1.31.2
PORT="${TEMPORAL_PORT:-7233}"
SYNCHRONOUS="${TEMPORAL_SQLITE_SYNCHRONOUS:-1}"
METRICS_PORT="${TEMPORAL_METRICS_PORT:-}"
BUILD_DIR="$CACHE_DIR/temporal-$TEMPORAL_VERSION"
BIN="$BUILD_DIR/temporal-server"
# The module's config directory (development-sqlite-file.yaml and dynamicconfig/), kept with
# the binary so `start` works without the Go module cache.
MODULE_CONFIG="$BUILD_DIR/config"
HOME_DIR="$STATE_DIR/temporal"
CONFIG_DIR="$HOME_DIR/config"
DATA_DIR="$HOME_DIR/data"
PIDFILE="$HOME_DIR/temporal.pid"
LOG_FILE="$HOME_DIR/temporal.log"

install() {
  if [ -x "$BIN" ] && [ -f "$MODULE_CONFIG/development-sqlite-file.yaml" ]; then return 0; fi
  need_tool go "install Go 1.26+ (https://go.dev/doc/install)"
  local build_dir module_dir
  build_dir=$(mktemp -d)
  log "building the Temporal server $TEMPORAL_VERSION from the Go module proxy (first time only, ~4 min)"
  module_dir=$( (cd "$build_dir" && go mod init tyndau-temporal-build >/dev/null 2>&1 \
    && go mod download -json "go.temporal.io/server@$TEMPORAL_VERSION") \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$module_dir" ] && [ -d "$module_dir" ] || die "could not download the Temporal server module"
  cp -r "$module_dir" "$build_dir/src" && chmod -R u+w "$build_dir/src"
  mkdir -p "$BUILD_DIR"
  (cd "$build_dir/src" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./cmd/server) >&2 \
    || die "building the Temporal server failed (see the output above)"
  rm -rf "$MODULE_CONFIG" && cp -r "$build_dir/src/config" "$MODULE_CONFIG"
  mv "$BIN.tmp" "$BIN"
  rm -rf "$build_dir"
  "$BIN" --version >/dev/null 2>&1 || die "the built Temporal server does not run: $BIN"
}

# render_config SOURCE OUT — the module's SQLite-file config with this checkout's paths and
# ports: the database file in the state directory, the dynamic config beside OUT, the sync
# mode, the frontend port, no pprof, Prometheus only if asked, log level warn. Each edit is
# checked: a module whose file reads differently fails here, not as a server that silently
# listens elsewhere or writes its database into the working directory.
render_config() {
  local source=$1 out=$2 metrics
  if [ -n "$METRICS_PORT" ]; then
    metrics=("s|listenAddress: \"127.0.0.1:8000\"|listenAddress: \"127.0.0.1:$METRICS_PORT\"|")
  else
    metrics=('/^  metrics:$/,/listenAddress:/d')
  fi
  sed -e "s|databaseName: \"default\"|databaseName: \"$DATA_DIR/temporal.db\"|" \
    -e "s|synchronous: 2$|synchronous: $SYNCHRONOUS|" \
    -e "s|^  level: info$|  level: ${TEMPORAL_LOG_LEVEL:-warn}|" \
    -e "s|grpcPort: 7233$|grpcPort: $PORT|" \
    -e "s|rpcAddress: \"localhost:7233\"|rpcAddress: \"127.0.0.1:$PORT\"|" \
    -e "s|port: 7936$|port: 0|" \
    -e "s|filepath: \"config/dynamicconfig/development-sql.yaml\"|filepath: \"$(dirname "$out")/dynamicconfig/development-sql.yaml\"|" \
    -e "${metrics[0]}" "$source" > "$out.tmp"
  local expected
  for expected in "databaseName: \"$DATA_DIR/temporal.db\"" "synchronous: $SYNCHRONOUS" \
    "grpcPort: $PORT" "rpcAddress: \"127.0.0.1:$PORT\"" "port: 0" "$(dirname "$out")/dynamicconfig/"; do
    grep -qF "$expected" "$out.tmp" || die "$source changed: could not set '$expected' in the Temporal config"
  done
  if [ -z "$METRICS_PORT" ] && grep -q "listenAddress" "$out.tmp"; then
    die "$source changed: could not remove its Prometheus endpoint"
  fi
  mv "$out.tmp" "$out"
}

start() {
  already_serving Temporal "$PIDFILE" "$PORT" "Temporal frontend" && return 0
  install
  mkdir -p "$CONFIG_DIR" "$DATA_DIR"
  rm -rf "$CONFIG_DIR/dynamicconfig" && cp -r "$MODULE_CONFIG/dynamicconfig" "$CONFIG_DIR/"
  render_config "$MODULE_CONFIG/development-sqlite-file.yaml" "$CONFIG_DIR/development-sqlite-file.yaml"
  log "starting the Temporal server $TEMPORAL_VERSION (SQLite in $DATA_DIR) on 127.0.0.1:$PORT, log $LOG_FILE"
  spawn "$PIDFILE" "$LOG_FILE" "$BIN" --allow-no-auth --config-file "$CONFIG_DIR/development-sqlite-file.yaml" start
  wait_until_ready Temporal "$PIDFILE" 120 'port_open 127.0.0.1 "$PORT"' "$LOG_FILE"
}

# reset — delete the SQLite database (the server must be stopped): a run starts from empty.
reset() {
  if pid_alive "$PIDFILE"; then die "stop the Temporal server before resetting its data"; fi
  rm -rf "$DATA_DIR"
  log "Temporal data removed ($DATA_DIR)"
}

case "${1:-}" in
  reset) reset; exit 0 ;;
  # config SOURCE OUT: only the rendering (the unit tests check it on the module's text).
  config) render_config "$2" "$3"; exit 0 ;;
esac
serve_commands Temporal temporal "$PIDFILE" "$PORT" "${1:-}"
