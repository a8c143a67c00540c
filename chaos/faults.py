"""The scripted faults of a chaos run, and how each is injected and recovered from.

Each fault kills something, leaves it dead for `down` seconds (what a supervisor's restart
delay or an operator's reaction costs), restarts it with the project's own means (the service
process under the same identity; the store and broker by their deploy/local scripts), and
measures how long until every affected service is ready again (/health/ready: broker and store
answer, every consumer holds its partitions).
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

from chaos.fleet import SERVICES, ServiceFleet
from chaos.infra import ChaosInfra
from contracts import topics

# Where the load is: the broker leading most of these partitions is the one a chaos run kills.
BUSY_TOPICS = (topics.CHANNEL_1414, topics.APPEALS_REGISTERED, topics.APPEALS_ROUTED)


@dataclass(frozen=True)
class Fault:
    name: str
    target: str  # "service" | "store" | "broker"
    signal: signal.Signals = signal.SIGKILL
    services: tuple[str, ...] = ()
    down: float | None = None  # how long it stays dead; None: the run's `down`


@dataclass(frozen=True)
class FaultResult:
    fault: str
    detail: str
    stop_s: float | None  # signal → process gone (services): a SIGTERM's orderly shutdown
    down_s: float  # how long it stayed dead
    # restart begun → the restarted thing serves (a service: answers /health/live; the store
    # or a broker: its start script says it serves)
    restart_s: float
    # → every affected service ready (consuming, store and broker answering): from its own
    # restart for a service, from the server serving again for the store or a broker
    ready_s: float


def plan() -> list[Fault]:
    """Every fault kind once: SIGKILL then SIGTERM of each service, two services at once,
    the store, and the broker leading the busiest partitions. (A long store outage is a
    phase of its own: `long_store_outage`.)"""
    faults = [
        Fault(f"{sig.name} {name}", "service", sig, (name,))
        for sig in (signal.SIGKILL, signal.SIGTERM)
        for name in SERVICES
    ]
    faults.append(Fault("SIGKILL intake + notify", "service", signal.SIGKILL, ("intake", "notify")))
    faults.append(Fault("SIGKILL store", "store"))
    faults.append(Fault("SIGKILL broker (busiest leader)", "broker"))
    return faults


def long_store_outage(seconds: float) -> Fault:
    """The store away for `seconds`: services must wait and retry (nothing dead-lettered,
    skipped or committed early), say not-ready on /health, and not crash."""
    return Fault(f"store down {seconds:g} s", "store", signal.SIGKILL, down=seconds)


async def inject(
    fault: Fault, fleet: ServiceFleet, infra: ChaosInfra, prefix: str, down: float
) -> FaultResult:
    down = fault.down if fault.down is not None else down
    if fault.target == "service":
        for name in fault.services:
            fleet.signal(name, fault.signal)
        stopped = await asyncio.gather(*(fleet.wait_exit(name) for name in fault.services))
        await asyncio.sleep(down)
        restarted = time.monotonic()
        for name in fault.services:
            fleet.start(name)
        await asyncio.gather(*(fleet.wait_live(name) for name in fault.services))
        live = time.monotonic() - restarted
        await fleet.wait_ready(fault.services)
        return FaultResult(
            fault.name,
            "",
            round(max(stopped), 3),
            down,
            round(live, 3),
            round(time.monotonic() - restarted, 3),
        )

    if fault.target == "store":
        detail = f"store pid {infra.store_pid()}"
        infra.kill_store(fault.signal)
        restart = infra.restart_store
    else:
        node = await infra.busiest_leader([prefix + t for t in BUSY_TOPICS])
        infra.kill_broker(node, fault.signal)
        detail = f"broker node {node} of {infra.config.brokers}"
        restart = infra.restart_brokers
    await asyncio.sleep(down / 2)
    # Half-way through: who says not-ready (the store gone: all should; one broker of three
    # gone: none need), and has anyone exited (no one should: wait, do not crash).
    not_ready = [name for name in SERVICES if await fleet.health(name) is None]
    exited = [name for name in SERVICES if fleet.processes[name].poll() is not None]
    detail += f"; mid-outage {len(not_ready)}/{len(SERVICES)} not ready, {len(exited)} exited"
    await asyncio.sleep(down / 2)
    restarted = time.monotonic()
    await asyncio.to_thread(restart)
    serving = time.monotonic()
    await fleet.wait_ready(SERVICES)
    return FaultResult(
        fault.name,
        detail,
        None,
        down,
        round(serving - restarted, 3),
        round(time.monotonic() - serving, 3),
    )
