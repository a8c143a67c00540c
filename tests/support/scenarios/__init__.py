"""Scenario suites: one per service, written once against the service core and its store
port, and run twice — in memory (tests/unit, `make unit`, no servers) and against the real
store (tests/integration, FerretDB) — the eventsourcing pattern of shared/STYLE.md. A suite
is a class whose `store` fixture each subclass provides; the events a service publishes are
recorded instead of sent."""
