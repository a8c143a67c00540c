# Tyndau — the two commands a new machine needs: `make run` and `make test`.
# Everything below installs itself: a virtualenv in .venv, Kafka and FerretDB in
# ~/.cache/tyndau (see deploy/local/), runtime state in .run/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help venv infra tools topics run stop status test unit lint docs bench chaos clean

help:
	@echo "make run     start Kafka, FerretDB and the four services (Ctrl-C stops them)"
	@echo "make test    start what the tests need, run unit, integration and end-to-end tests"
	@echo "make unit    only the unit tests (no servers needed)"
	@echo "make lint    ruff check and format check"
	@echo "make bench   throughput, latency and raw limits on the real broker and store"
	@echo "make chaos   kill services, the store and a broker of a 3-broker cluster under load; count losses"
	@echo "make docs    write docs/asyncapi, docs/openapi and docs/schemas (JSON) from the code"
	@echo "make stop    stop the services and the local Kafka and FerretDB"
	@echo "make status  what is running"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "[make] '$(PYTHON)' not found: install Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

infra:
	deploy/local/infra.sh start

tools:
	deploy/local/tools.sh

topics: venv infra
	$(BIN)/python -m services.common.provisioning

# run.sh starts the infrastructure itself, so that Ctrl-C stops exactly what it started.
run: venv
	deploy/local/run.sh

stop:
	-deploy/local/run.sh stop
	deploy/local/infra.sh stop
	@# The chaos run's own cluster and store, if a run was interrupted and left them.
	-@if [ -d .run/chaos ] && [ -x $(BIN)/python ]; then $(BIN)/python -m chaos --stop; fi
	@# What an interrupted `make bench` may have left: Temporal, FerretDB on PostgreSQL, PostgreSQL.
	-@if [ -d .run/temporal ]; then deploy/local/temporal.sh stop; fi
	-@if [ -d .run/ferretdb-pg ]; then FERRETDB_HANDLER=postgresql deploy/local/ferretdb.sh stop; fi
	-@if [ -d .run/postgres ]; then deploy/local/postgres.sh stop; fi

status:
	-deploy/local/run.sh status
	-deploy/local/infra.sh status

test: venv lint tools infra
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A benchmark reports; it does not pass or fail. BENCH_ARGS=--quick for a short run.
bench: venv infra topics
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Its own 3-broker cluster and store (deploy/local, .run/chaos), stopped at the end; exits 1 on
# any loss, duplicate or dead letter. CHAOS_ARGS=--quick for every fault once.
chaos: venv
	$(BIN)/python -m chaos $(CHAOS_ARGS)

docs: venv
	$(BIN)/python -m services.common.docs

lint: venv
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

clean: stop
	rm -rf .run $(VENV)
