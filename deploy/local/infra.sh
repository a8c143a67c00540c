#!/usr/bin/env bash
# The infrastructure Tyndau needs on this machine: Kafka and a MongoDB-wire store.
#   infra.sh start | stop | status
# KAFKA_BOOTSTRAP_SERVERS set → that Kafka is used and none is started here.
# MONGODB_URL set             → that MongoDB is used and no FerretDB is started here.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"

want_kafka() { [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; }
want_store() { [ -z "${MONGODB_URL:-}" ]; }

case "${1:-}" in
  start)
    # Install both first (Maven and the Go build are independent), then start them.
    if want_kafka; then "$HERE/kafka.sh" install & kafka_install=$!; fi
    if want_store; then "$HERE/ferretdb.sh" install & store_install=$!; fi
    if want_kafka; then wait "$kafka_install" || die "installing Kafka failed"; fi
    if want_store; then wait "$store_install" || die "installing FerretDB failed"; fi
    if want_kafka; then "$HERE/kafka.sh" start; else log "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS: using it, starting no Kafka"; fi
    if want_store; then "$HERE/ferretdb.sh" start; else log "MONGODB_URL is set: using it, starting no FerretDB"; fi
    ;;
  stop)
    "$HERE/ferretdb.sh" stop
    "$HERE/kafka.sh" stop
    ;;
  status)
    rc=0
    "$HERE/kafka.sh" status || rc=1
    "$HERE/ferretdb.sh" status || rc=1
    exit $rc
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
