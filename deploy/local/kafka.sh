#!/usr/bin/env bash
# Apache Kafka 3.9 (KRaft, single combined broker+controller) as a local process.
#   kafka.sh install   resolve the broker's jars from Maven Central into the cache
#   kafka.sh start     install if needed, format storage once, start, wait until it serves clients
#   kafka.sh stop      stop the broker this checkout started
#   kafka.sh status    say whether it is running
# Env: KAFKA_PORT (9092), KAFKA_HEAP (1g, the ceiling), KAFKA_PARTITIONS (default partitions, 4),
#      TYNDAU_KAFKA_CREDENTIALS (the credentials file; admin password made there at first start).
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
CREDENTIALS="${TYNDAU_KAFKA_CREDENTIALS:-${TYNDAU_SECRETS_DIR:-$STATE_DIR/secrets}/kafka-credentials.json}"

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

configure() {
  mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs"
  local password
  password=$(admin_password)
  (umask 077 && sed -e "s|@DATA_DIR@|$HOME_DIR/data|" -e "s|@PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@PARTITIONS@|$PARTITIONS|" \
      -e "s|@BIND@|127.0.0.1|g" -e "s|@HOST@|127.0.0.1|g" -e "s|@RETENTION_HOURS@|24|" \
      -e "s|@ADMIN_PASSWORD@|$password|g" \
      "$SRC_DIR/server.properties.in" > "$HOME_DIR/server.properties")
}

JAVA_CMD=(java -Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$SRC_DIR/log4j.properties" "-Dkafka.logs.dir=$HOME_DIR/logs"
  -cp "$LIB_DIR/*")

format_storage() {
  # The storage remembers the admin credential it was formatted with (a digest in the
  # marker); storage from before authentication, or of a password since replaced, is
  # local test data and is formatted anew.
  local digest
  digest=$(admin_password | sha256sum | cut -c1-16)
  if [ -f "$HOME_DIR/data/meta.properties" ]; then
    [ "$(cat "$HOME_DIR/data/.admin-scram" 2>/dev/null)" = "$digest" ] && return 0
    log "the storage in $HOME_DIR/data predates the current admin credential: formatting it anew"
    rm -rf "$HOME_DIR/data" && mkdir -p "$HOME_DIR/data"
  fi
  local cluster_id
  # A Kafka cluster id is 16 random bytes, URL-safe base64 without padding.
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  log "formatting KRaft storage in $HOME_DIR/data (cluster $cluster_id)"
  # The admin user must exist before anyone can log in to make the others (provisioning).
  "${JAVA_CMD[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" \
    -c "$HOME_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(admin_password)]" \
    >>"$HOME_DIR/logs/format.log" 2>&1 \
    || die "formatting Kafka storage failed; see $HOME_DIR/logs/format.log"
  echo "$digest" > "$HOME_DIR/data/.admin-scram"
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
