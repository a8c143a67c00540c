"""Scenario suites: one per service, written once against the service core and its store
port, and run twice — in memory (tests/unit, `make unit`, no servers) and against the real
store (tests/integration, FerretDB) — the eventsourcing pattern of shared/STYLE.md. A suite
is a class whose `store` fixture each subclass provides; the events a service publishes are
recorded instead of sent."""

from __future__ import annotations

from contracts import Event


class Recorder:
    """Stands in for a service's publisher: keeps (topic, event) in the order published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Event]] = []

    async def __call__(self, topic: str, event: Event) -> None:
        self.sent.append((topic, event))

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.sent]
