#!/usr/bin/env bash
# Runs the four Tyndau services as local processes (used by `make run`).
#   run.sh          start them, wait until healthy, print where to look, stay in the foreground;
#                   Ctrl-C stops the services and the infrastructure this run started
#   run.sh stop     stop the services
#   run.sh status   which services run
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(intake routing sla notify)
declare -A PORTS=([intake]=${INTAKE_PORT:-8001} [routing]=${ROUTING_PORT:-8002} [sla]=${SLA_PORT:-8003} [notify]=${NOTIFY_PORT:-8004})
RUN_DIR="$STATE_DIR/services"
PYTHON="$REPO_ROOT/.venv/bin/python"

stop_services() {
  touch "$RUN_DIR/stop-requested"
  for name in "${SERVICES[@]}"; do stop_pidfile "$name" "$RUN_DIR/$name.pid"; done
}

status() {
  for name in "${SERVICES[@]}"; do
    if pid_alive "$RUN_DIR/$name.pid"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid")) on :${PORTS[$name]}"
    else echo "$name: stopped"; fi
  done
}

wait_healthy() {
  local name=$1 port=$2 i
  for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
    pid_alive "$RUN_DIR/$name.pid" || { tail -n 30 "$RUN_DIR/$name.log" >&2; die "$name exited; see $RUN_DIR/$name.log"; }
    sleep 0.5
  done
  die "$name did not become healthy in 60 s; see $RUN_DIR/$name.log"
}

start() {
  [ -x "$PYTHON" ] || die "no virtualenv: run 'make run' (it creates .venv)"
  mkdir -p "$RUN_DIR"
  rm -f "$RUN_DIR/stop-requested"
  # Remember what was already up, so Ctrl-C stops only what this run started.
  local infra_was_running=0
  "$REPO_ROOT/deploy/local/infra.sh" status >/dev/null 2>&1 && infra_was_running=1
  "$REPO_ROOT/deploy/local/infra.sh" start
  (cd "$REPO_ROOT" && "$PYTHON" -m services.common.provisioning)
  # The lookup and audit keys and the local token issuer's key pair, made at the first start.
  (cd "$REPO_ROOT" && "$PYTHON" -m services.common.secret_files)
  for name in "${SERVICES[@]}"; do
    if pid_alive "$RUN_DIR/$name.pid"; then log "$name already running"; continue; fi
    (cd "$REPO_ROOT" && spawn "$RUN_DIR/$name.pid" "$RUN_DIR/$name.log" env TYNDAU_INSTANCE_ID="$name-0" "$PYTHON" -m "services.$name")
  done
  for name in "${SERVICES[@]}"; do wait_healthy "$name" "${PORTS[$name]}"; done

  cat <<INFO

Tyndau is running.
  intake   http://127.0.0.1:${PORTS[intake]}   GET /v1/appeals/{registration_number}
  routing  http://127.0.0.1:${PORTS[routing]}   GET /v1/agencies
  sla      http://127.0.0.1:${PORTS[sla]}
  notify   http://127.0.0.1:${PORTS[notify]}   /v1/preferences/{iin}, /v1/notifications (bearer token)
  every service: /health  /metrics  /docs/asyncapi
  Kafka 127.0.0.1:9092, MongoDB wire (FerretDB) 127.0.0.1:27017
  logs: $RUN_DIR/*.log

Send an appeal (call centre 1414 format):  .venv/bin/python deploy/local/send_appeal.py
A token for the protected routes (roles: see services/common/auth/roles.py):
  .venv/bin/python -m services.common.auth token --subject me --role call-centre-operator
Stop: Ctrl-C here, or 'make stop' from another terminal.
INFO

  cleanup() {
    trap - INT TERM EXIT
    # Stopping must finish even when the terminal or a pipe reading our output is gone.
    trap '' PIPE INT
    set +e
    echo
    stop_services
    if [ "$infra_was_running" = 0 ]; then "$REPO_ROOT/deploy/local/infra.sh" stop; fi
    exit "${1:-0}"
  }
  trap cleanup INT TERM EXIT
  # Stay in the foreground while the services live.
  while :; do
    for name in "${SERVICES[@]}"; do
      if ! pid_alive "$RUN_DIR/$name.pid"; then
        # 'make stop' from another terminal is a normal end; a service dying is not.
        if [ -f "$RUN_DIR/stop-requested" ]; then cleanup 0; fi
        log "$name stopped unexpectedly; see $RUN_DIR/$name.log"; cleanup 1
      fi
    done
    sleep 2
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop_services ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
