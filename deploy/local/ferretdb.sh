#!/usr/bin/env bash
# FerretDB v1 (MongoDB wire protocol on an embedded SQLite backend) as a local process.
#   ferretdb.sh install   build the binary from the Go module proxy into the cache
#   ferretdb.sh start     install if needed, start on 127.0.0.1:$FERRETDB_PORT, wait until it answers
#   ferretdb.sh stop      stop the server this checkout started
#   ferretdb.sh status    say whether it is running
# Why not `go install …@v1.24.x`: the module's build/version/version.txt is generated at release
# time and is not in the module zip, so such a binary panics at start. We copy the module source,
# write the version file and build that.
# Patches in deploy/local/ferretdb-patches/ are applied to that copy (each file says why):
#   01 the SQLite backend looked documents up by `_ferretdb_sjson->'$._id'` while the unique
#      _id index is on `->"_id"`; SQLite uses an index only for the identical expression, so
#      every lookup, update and delete by _id scanned the table (40-60 ms per update at 5,000
#      documents, growing linearly). Written as `->'_id'` (the same JSON value) it is indexed.
#   02 push the filter's `_id` condition down to that index even beside other fields
#      ({_id, rev} compare-and-set), for `$in` lists and for string ranges ($gt/$gte/$lt/$lte):
#      upstream read the whole table for anything but exactly {_id: v}. The SLA due index
#      and the per-appeal timer lookups are `_id` ranges.
#   03 close each update's read iterator when that update is done: upstream kept all of a
#      command's iterators open until the end, so a bulk update of ~100 statements hung.
# PostgreSQL backend (issue 18, measured beside SQLite by `python -m bench.backends`):
# FERRETDB_HANDLER=postgresql (default sqlite) starts PostgreSQL (deploy/local/postgres.sh) and a
# second FerretDB on it, in $STATE_DIR/ferretdb-pg, on 127.0.0.1:${FERRETDB_PORT:-27019}, with
# --postgresql-url=${FERRETDB_POSTGRESQL_URL:-that server's URL}. The same binary serves both:
# patches 01 and 02 touch only internal/backends/sqlite, patch 03 the handler both share. The
# upstream PostgreSQL backend pushes down equality (`_jsonb->'f' @> 'v'`, which the btree
# `_id` index cannot serve) and no `$gt/$lt` range at all (its TODO 1875); unique indexes are
# PostgreSQL UNIQUE indexes.
# Durability: SQLite runs in WAL mode; FERRETDB_SQLITE_SYNCHRONOUS (default `normal`) is its
# `synchronous` setting. `normal` syncs the WAL at checkpoints, not at every commit: a
# committed write survives the crash of any process (FerretDB's included); an OS crash or
# power loss may roll back the last commits, as a standalone MongoDB acknowledging with the
# default write concern (j: false) may lose up to 100 ms of writes. `full` syncs at every
# commit (measured: single inserts 328/s against 803/s with `normal`, pipeline 72 against 96
# appeals/s). Production runs MongoDB replica sets with majority writes, not this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FERRETDB_VERSION=v1.24.2
# Bump when the build's patches change, so a cached binary built without them is not reused.
BUILD_REVISION=tyndau2
HANDLER="${FERRETDB_HANDLER:-sqlite}"
case "$HANDLER" in
  sqlite) PORT="${FERRETDB_PORT:-27017}" HOME_DIR="$STATE_DIR/ferretdb" ;;
  postgresql) PORT="${FERRETDB_PORT:-27019}" HOME_DIR="$STATE_DIR/ferretdb-pg" ;;
  *) die "FERRETDB_HANDLER must be sqlite or postgresql, not '$HANDLER'" ;;
esac
SYNCHRONOUS="${FERRETDB_SQLITE_SYNCHRONOUS:-normal}"
# FerretDB's own metrics and Go pprof (e.g. 127.0.0.1:8089; `python -m bench.run --profile`
# then profiles the store too). Off by default: one port less to collide with.
DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:--}"
BIN="$CACHE_DIR/ferretdb-$FERRETDB_VERSION-$BUILD_REVISION/ferretdb"
PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ferretdb-patches"
DATA_DIR="$HOME_DIR/data"
PIDFILE="$HOME_DIR/ferretdb.pid"
LOG_FILE="$HOME_DIR/ferretdb.log"

install() {
  if [ -x "$BIN" ]; then return 0; fi
  need_tool go "install Go 1.24+ (https://go.dev/doc/install, or Debian: apt-get install -y golang-go)"
  need_tool patch "install patch (Debian: apt-get install -y patch)"
  local build_dir module_dir
  build_dir=$(mktemp -d)
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy (first time only, ~2 min)"
  module_dir=$(cd "$build_dir" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$module_dir" ] && [ -d "$module_dir" ] || die "could not download the FerretDB module"
  cp -r "$module_dir" "$build_dir/src" && chmod -R u+w "$build_dir/src"
  echo "$FERRETDB_VERSION" > "$build_dir/src/build/version/version.txt"
  local patch
  for patch in "$PATCH_DIR"/*.patch; do
    (cd "$build_dir/src" && patch -p1 --forward --quiet < "$patch") >&2 \
      || die "FerretDB source changed: $(basename "$patch") no longer applies"
  done
  mkdir -p "$(dirname "$BIN")"
  (cd "$build_dir/src" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./cmd/ferretdb) >&2 \
    || die "building FerretDB failed (see the output above)"
  mv "$BIN.tmp" "$BIN"
  rm -rf "$build_dir"
  "$BIN" --version >/dev/null 2>&1 || die "the built FerretDB binary does not run: $BIN"
}

start() {
  already_serving FerretDB "$PIDFILE" "$PORT" "MongoDB-wire store" && return 0
  case "$SYNCHRONOUS" in
    normal|full) ;;
    *) die "FERRETDB_SQLITE_SYNCHRONOUS must be normal or full, not '$SYNCHRONOUS'" ;;
  esac
  install
  local backend described
  if [ "$HANDLER" = postgresql ]; then
    local here url
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    [ -n "${FERRETDB_POSTGRESQL_URL:-}" ] || "$here/postgres.sh" start
    url="${FERRETDB_POSTGRESQL_URL:-$("$here/postgres.sh" url)}"
    backend=(--handler=postgresql --postgresql-url="$url")
    described="PostgreSQL at $url"
    mkdir -p "$HOME_DIR"
  else
    backend=(--handler=sqlite --sqlite-url="file:$DATA_DIR/?_pragma=synchronous($SYNCHRONOUS)")
    described="SQLite in $DATA_DIR, synchronous=$SYNCHRONOUS"
    mkdir -p "$DATA_DIR"
  fi
  log "starting FerretDB $FERRETDB_VERSION ($described) on 127.0.0.1:$PORT, log $LOG_FILE"
  spawn "$PIDFILE" "$LOG_FILE" "$BIN" "${backend[@]}" --state-dir="$HOME_DIR" \
    --listen-addr="127.0.0.1:$PORT" --debug-addr="$DEBUG_ADDR" --telemetry=disable \
    --log-level="${FERRETDB_LOG_LEVEL:-error}" --log-format=text
  wait_until_ready FerretDB "$PIDFILE" 60 'port_open 127.0.0.1 "$PORT"' "$LOG_FILE"
}

serve_commands FerretDB ferretdb "$PIDFILE" "$PORT" "${1:-}"
