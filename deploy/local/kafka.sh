#!/usr/bin/env bash
# Apache Kafka 3.9 in KRaft mode as local processes: one combined broker+controller by default,
# or a cluster of KAFKA_NODES of them (3 for `make chaos`: a controller quorum of three,
# replication factor 3, min.insync.replicas 2).
#   kafka.sh install   resolve the broker's jars from Maven Central into the cache
#   kafka.sh start     install if needed, format storage once, start every node that is not
#                      running (so it also restarts one node of a cluster), wait until all serve
#   kafka.sh stop      stop the nodes this checkout started
#   kafka.sh status    say whether they run (exit 1 when one does not)
#   kafka.sh bootstrap print the bootstrap servers (host:port,…)
# Env: KAFKA_PORT (9092; node n listens on KAFKA_PORT + 2(n-1), its controller one above),
#      KAFKA_NODES (1), KAFKA_HEAP (1g, the ceiling per node), KAFKA_PARTITIONS (default
#      partitions, 4), TYNDAU_KAFKA_CREDENTIALS (the credentials file; admin password made there
#      at first start).
# Layout: one node keeps $STATE_DIR/kafka/{data,logs,kafka.pid}; node n of a cluster keeps
#      $STATE_DIR/kafka/node-n/{data,logs,kafka.pid} (make chaos finds the pids there).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=3.9.2
BASE_PORT="${KAFKA_PORT:-9092}"
NODES="${KAFKA_NODES:-1}"
HEAP="${KAFKA_HEAP:-1g}"
PARTITIONS="${KAFKA_PARTITIONS:-4}"
LIB_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/lib"
KAFKA_DIR="$STATE_DIR/kafka"
SRC_DIR="$REPO_ROOT/deploy/local/kafka"
CREDENTIALS="${TYNDAU_KAFKA_CREDENTIALS:-${TYNDAU_SECRETS_DIR:-$STATE_DIR/secrets}/kafka-credentials.json}"
case "$NODES" in 1|3|5) ;; *) die "KAFKA_NODES must be 1, 3 or 5 (a controller quorum), not '$NODES'" ;; esac

node_port() { echo $((BASE_PORT + 2 * ($1 - 1))); }
node_dir() { if [ "$NODES" = 1 ]; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR/node-$1"; fi; }
node_pidfile() { echo "$(node_dir "$1")/kafka.pid"; }
node_log() { echo "$(node_dir "$1")/logs/server.log"; }
bootstrap() {
  local n servers=()
  for n in $(seq 1 "$NODES"); do servers+=("127.0.0.1:$(node_port "$n")"); done
  (IFS=,; echo "${servers[*]}")
}
quorum_voters() {
  local n voters=()
  for n in $(seq 1 "$NODES"); do voters+=("$n@127.0.0.1:$(( $(node_port "$n") + 1 ))"); done
  (IFS=,; echo "${voters[*]}")
}

install() {
  if [ -f "$LIB_DIR/.complete" ]; then return 0; fi
  need_tool java "install a JDK 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
  need_tool mvn "install Apache Maven (Debian: apt-get install -y maven)"
  log "resolving Kafka $KAFKA_VERSION from Maven Central into $LIB_DIR"
  rm -rf "$LIB_DIR" && mkdir -p "$LIB_DIR"
  mvn -q -B -f "$SRC_DIR/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$LIB_DIR" >&2 \
    || die "Maven could not resolve Kafka $KAFKA_VERSION (see the output above)"
  ls "$LIB_DIR"/kafka_2.13-*.jar "$LIB_DIR"/slf4j-reload4j-*.jar >/dev/null \
    || die "Kafka jars or the logging backend are missing from $LIB_DIR"
  touch "$LIB_DIR/.complete"
}

# The admin password: made at the first start into the credentials file every client reads
# (services/common/kafka_auth.py), mode 0600 in a 0700 directory; never printed.
admin_password() {
  if [ ! -s "$CREDENTIALS" ]; then
    mkdir -p "$(dirname "$CREDENTIALS")" && chmod 700 "$(dirname "$CREDENTIALS")"
    (umask 077 && printf '{"admin": "%s"}\n' \
      "$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')" > "$CREDENTIALS")
  fi
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin"])' "$CREDENTIALS" \
    || die "$CREDENTIALS has no admin password"
}

# configure N — node N's server.properties from the template (mode 0600: it holds the password).
configure() {
  local n=$1 dir port password replication=1 min_isr=1
  dir=$(node_dir "$n")
  port=$(node_port "$n")
  mkdir -p "$dir/data" "$dir/logs"
  password=$(admin_password)
  if [ "$NODES" -gt 1 ]; then replication=3 min_isr=2; fi
  (umask 077 && sed -e "s|@DATA_DIR@|$dir/data|" -e "s|@PORT@|$port|g" \
      -e "s|@CONTROLLER_PORT@|$((port + 1))|g" -e "s|@PARTITIONS@|$PARTITIONS|" \
      -e "s|@NODE_ID@|$n|" -e "s|@QUORUM_VOTERS@|$(quorum_voters)|" \
      -e "s|@REPLICATION@|$replication|g" -e "s|@MIN_ISR@|$min_isr|g" -e "s|@OFFSETS_PARTITIONS@|1|" \
      -e "s|@BIND@|127.0.0.1|g" -e "s|@HOST@|127.0.0.1|g" -e "s|@RETENTION_HOURS@|24|" \
      -e "s|@ADMIN_PASSWORD@|$password|g" \
      "$SRC_DIR/server.properties.in" > "$dir/server.properties")
}

# java_cmd N — JAVA_CMD becomes the JVM command line of node N (its own log directory).
java_cmd() {
  JAVA_CMD=(java -Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$SRC_DIR/log4j.properties" "-Dkafka.logs.dir=$(node_dir "$1")/logs"
    -cp "$LIB_DIR/*")
}

# format_storage N — once per node; every node of a cluster gets the same cluster id.
format_storage() {
  # The storage remembers the admin credential it was formatted with (a digest in the
  # marker); storage from before authentication, or of a password since replaced, is
  # local test data and is formatted anew.
  local n=$1 dir digest
  dir=$(node_dir "$n")
  digest=$(admin_password | sha256sum | cut -c1-16)
  if [ -f "$dir/data/meta.properties" ]; then
    [ "$(cat "$dir/data/.admin-scram" 2>/dev/null)" = "$digest" ] && return 0
    log "the storage in $dir/data predates the current admin credential: formatting it anew"
    rm -rf "$dir/data" && mkdir -p "$dir/data"
  fi
  if [ "$NODES" = 1 ] || [ ! -s "$KAFKA_DIR/cluster-id" ]; then
    # A Kafka cluster id is 16 random bytes, URL-safe base64 without padding.
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' > "$KAFKA_DIR/cluster-id"
  fi
  java_cmd "$n"
  log "formatting KRaft storage in $dir/data (cluster $(cat "$KAFKA_DIR/cluster-id"), node $n)"
  # The admin user must exist before anyone can log in to make the others (provisioning).
  "${JAVA_CMD[@]}" kafka.tools.StorageTool format --cluster-id="$(cat "$KAFKA_DIR/cluster-id")" \
    -c "$dir/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(admin_password)]" \
    >>"$dir/logs/format.log" 2>&1 \
    || die "formatting Kafka storage failed; see $dir/logs/format.log"
  echo "$digest" > "$dir/data/.admin-scram"
}

node_ready() {
  grep -q "Kafka Server started" "$(node_log "$1")" 2>/dev/null && port_open 127.0.0.1 "$(node_port "$1")"
}

start() {
  local n dir started=()
  mkdir -p "$KAFKA_DIR"
  for n in $(seq 1 "$NODES"); do
    already_serving "Kafka node $n" "$(node_pidfile "$n")" "$(node_port "$n")" "Kafka broker" && continue
    install
    configure "$n"
    format_storage "$n"
    dir=$(node_dir "$n")
    log "starting Kafka $KAFKA_VERSION node $n on 127.0.0.1:$(node_port "$n") (heap <= $HEAP, log $(node_log "$n"))"
    # A restarted node must not be taken as ready on the previous run's start line.
    : > "$dir/logs/stdout.log"
    [ -f "$(node_log "$n")" ] && mv "$(node_log "$n")" "$(node_log "$n").previous"
    java_cmd "$n"
    spawn "$(node_pidfile "$n")" "$dir/logs/stdout.log" "${JAVA_CMD[@]}" kafka.Kafka "$dir/server.properties"
    started+=("$n")
  done
  # Nodes of a cluster start together: none serves before a quorum of controllers is up.
  for n in "${started[@]}"; do
    PORT=$(node_port "$n") wait_until_ready "Kafka node $n" "$(node_pidfile "$n")" 120 \
      "node_ready $n" "$(node_log "$n")" "$(node_dir "$n")/logs/stdout.log"
  done
}

stop() {
  local n
  for n in $(seq "$NODES" -1 1); do stop_pidfile "Kafka node $n" "$(node_pidfile "$n")"; done
}

status() {
  local n rc=0
  for n in $(seq 1 "$NODES"); do
    server_status "kafka node $n" "$(node_pidfile "$n")" "$(node_port "$n")" || rc=1
  done
  return $rc
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  bootstrap) bootstrap ;;
  *) echo "usage: $0 install|start|stop|status|bootstrap" >&2; exit 2 ;;
esac
