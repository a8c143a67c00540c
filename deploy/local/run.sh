#!/usr/bin/env bash
# Runs the Tyndau services as local processes (used by `make run`): the four of the backbone
# and the workspace (the officers' pages, plain HTTP on localhost: its cookie is not Secure).
#   run.sh          start them, wait until healthy, print where to look, stay in the foreground
#                   supervising them: a service that exits is restarted with backoff (1 s,
#                   doubling to 30 s; back to 1 s once it has run a minute) and a log line.
#                   Only Ctrl-C (or `make stop`) stops the services and the infrastructure this
#                   run started.
#   run.sh stop     stop the services
#   run.sh status   which services run
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(intake routing sla notify workspace)
declare -A PORTS=([intake]=${INTAKE_PORT:-8001} [routing]=${ROUTING_PORT:-8002} [sla]=${SLA_PORT:-8003} [notify]=${NOTIFY_PORT:-8004} [workspace]=${WORKSPACE_PORT:-8005})
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

# start_service NAME — one instance, under the fixed identity <name>-0: a restarted instance
# is the same static member of its consumer groups (it takes its partitions back without a
# rebalance) and the same notify worker (its interrupted attempts are resumed at once).
start_service() {
  local name=$1
  STARTED_AT[$name]=$(date +%s)
  (cd "$REPO_ROOT" && spawn "$RUN_DIR/$name.pid" "$RUN_DIR/$name.log" env TYNDAU_INSTANCE_ID="$name-0" WORKSPACE_SECURE_COOKIES="${WORKSPACE_SECURE_COOKIES:-false}" WORKSPACE_FIRST_ADMIN_FILE="$RUN_DIR/workspace-first-admin.txt" "$PYTHON" -m "services.$name")
}

declare -A STARTED_AT=() RESTARTS=() RESTART_AT=()

# supervise NAME — called every second for a service found not running: schedule its restart
# with backoff, then restart it when the time comes.
supervise() {
  local name=$1 now ran delay
  now=$(date +%s)
  if [ -z "${RESTART_AT[$name]:-}" ]; then
    ran=$((now - ${STARTED_AT[$name]:-now}))
    # A service that ran a minute crashed anew; one that keeps exiting waits longer each time.
    if [ "$ran" -ge 60 ]; then RESTARTS[$name]=0; fi
    delay=$((1 << ${RESTARTS[$name]:-0}))
    if [ "$delay" -gt 30 ]; then delay=30; fi
    RESTARTS[$name]=$(( ${RESTARTS[$name]:-0} + 1 ))
    RESTART_AT[$name]=$((now + delay))
    log "$name exited after ${ran} s; restarting it in ${delay} s (restart ${RESTARTS[$name]}; log: $RUN_DIR/$name.log)"
  elif [ "$now" -ge "${RESTART_AT[$name]}" ]; then
    unset "RESTART_AT[$name]"
    log "restarting $name"
    start_service "$name"
  fi
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
    start_service "$name"
  done
  for name in "${SERVICES[@]}"; do wait_healthy "$name" "${PORTS[$name]}"; done

  cat <<INFO

Tyndau is running.
  intake   http://127.0.0.1:${PORTS[intake]}   GET /v1/appeals/{registration_number}
  routing  http://127.0.0.1:${PORTS[routing]}   GET /v1/agencies
  sla      http://127.0.0.1:${PORTS[sla]}
  notify   http://127.0.0.1:${PORTS[notify]}   /v1/preferences/{iin}, /v1/notifications (bearer token)
  workspace http://127.0.0.1:${PORTS[workspace]}  the officers' pages (log in in the browser)
  every service: /health  /metrics  /docs/asyncapi
  Kafka 127.0.0.1:9092, MongoDB wire (FerretDB) 127.0.0.1:27017
  logs: $RUN_DIR/*.log

Send an appeal (call centre 1414 format):  .venv/bin/python deploy/local/send_appeal.py
A token for the protected routes (roles: see services/common/auth/roles.py):
  .venv/bin/python -m services.common.auth token --subject me --role call-centre-operator
Stop: Ctrl-C here, or 'make stop' from another terminal.
INFO
  # The workspace's first start made an admin: its password, shown once, then forgotten.
  if [ -f "$RUN_DIR/workspace-first-admin.txt" ]; then
    cat "$RUN_DIR/workspace-first-admin.txt"; rm -f "$RUN_DIR/workspace-first-admin.txt"
  fi

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
  # Stay in the foreground, restarting what exits, until Ctrl-C or 'make stop'.
  while :; do
    for name in "${SERVICES[@]}"; do
      if ! pid_alive "$RUN_DIR/$name.pid"; then
        # 'make stop' from another terminal stops the services: the end of this run.
        if [ -f "$RUN_DIR/stop-requested" ]; then cleanup 0; fi
        supervise "$name"
      fi
    done
    sleep 1
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop_services ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
