#!/usr/bin/env bash
# Apache Kafka 3.9 (KRaft, single combined broker+controller) as a local process.
#   kafka.sh install   resolve the broker's jars from Maven Central into the cache
#   kafka.sh start     install if needed, format storage once, start, wait until it serves clients
#   kafka.sh stop      stop the broker this checkout started
#   kafka.sh status    say whether it is running
# Env: KAFKA_PORT (9092), KAFKA_HEAP (1g, the ceiling), KAFKA_PARTITIONS (default partitions, 4).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=3.9.2
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
HEAP="${KAFKA_HEAP:-1g}"
PARTITIONS="${KAFKA_PARTITIONS:-4}"
LIB_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/lib"
HOME_DIR="$STATE_DIR/kafka"
PIDFILE="$HOME_DIR/kafka.pid"
LOG_FILE="$HOME_DIR/logs/server.log"
SRC_DIR="$REPO_ROOT/deploy/local/kafka"

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

configure() {
  mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs"
  sed -e "s|@DATA_DIR@|$HOME_DIR/data|" -e "s|@PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@PARTITIONS@|$PARTITIONS|" \
      "$SRC_DIR/server.properties.in" > "$HOME_DIR/server.properties"
}

JAVA_CMD=(java -Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$SRC_DIR/log4j.properties" "-Dkafka.logs.dir=$HOME_DIR/logs"
  -cp "$LIB_DIR/*")

format_storage() {
  [ -f "$HOME_DIR/data/meta.properties" ] && return 0
  local cluster_id
  # A Kafka cluster id is 16 random bytes, URL-safe base64 without padding.
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  log "formatting KRaft storage in $HOME_DIR/data (cluster $cluster_id)"
  "${JAVA_CMD[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" \
    -c "$HOME_DIR/server.properties" >>"$HOME_DIR/logs/format.log" 2>&1 \
    || die "formatting Kafka storage failed; see $HOME_DIR/logs/format.log"
}

start() {
  already_serving Kafka "$PIDFILE" "$PORT" "Kafka broker" && return 0
  install
  configure
  format_storage
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT (heap <= $HEAP, log $LOG_FILE)"
  : > "$HOME_DIR/logs/stdout.log"
  spawn "$PIDFILE" "$HOME_DIR/logs/stdout.log" "${JAVA_CMD[@]}" kafka.Kafka "$HOME_DIR/server.properties"
  wait_until_ready Kafka "$PIDFILE" 120 \
    'grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open 127.0.0.1 "$PORT"' \
    "$LOG_FILE" "$HOME_DIR/logs/stdout.log"
}

serve_commands Kafka kafka "$PIDFILE" "$PORT" "${1:-}"
