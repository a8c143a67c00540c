"""Stage 6 of `make bench`: the same lifecycle on Temporal, side by side (issue 18).

What an engineer handed "durable deadline timers and a multi-step lifecycle per appeal"
would reach for: one Temporal workflow per appeal. The server is built from
go.temporal.io/server v1.31.2 and runs on SQLite (deploy/local/temporal.sh: its own config
and database under .run/temporal, reset at the start of the stage, stopped at its end); the
workflow and its activities run in a worker process of their own (the Python SDK,
`temporalio`), so the CPU of the server, the worker, the store and the load client are counted
separately (bench/profile.py's CpuShare).

The workflow (`AppealLifecycle`), per appeal, as the pipeline does it:
  register  intake's pure steps (adapt the 1414 call, Art. 64 registration time, the answer
            deadline) and intake's writes: the number claim (unique `_id`
            `<day>-<sequence>`), the applicant's matter (repeat detection), the appeal
            document with the registered event;
  route     routing's own rules (services.routing.decisions.decide_route, the same registry,
            classifier and policy) and its decision record (the decision, not a copy of the
            appeal);
  timer     a durable timer for the statutory answer deadline (`workflow.sleep` until
            `answer_due_at`: days ahead, it does not fire in the run), started in the same
            workflow task as —
  notify    the citizen's "appeal registered" notification (notify's template, rendered) as
            one document;
  breach    when the timer fires: the breach recorded as one document (sla's sla.breached).
Writes Tyndau makes only because it has no workflow engine are left out: the timer and its
three due-index entries, the outbox, the notification keys, the delivery-attempt record, the
per-service appeal copies, the timeline entries (Temporal's history holds all of these: 5
documents per appeal against the pipeline's 15). No SMS is sent (nor is one in the pipeline's
bench). The database is the shared FerretDB under a prefix of its own (`benchtemporal<pid>-`),
dropped at the end. The worker runs workflows without the SDK's sandbox (`workflow_runner`).

Measured (sizes in `TemporalSizes`):
  throughput  N appeals started as fast as the client can (64 starts in flight), until every
              one is notified: appeals/s, CPU ms per appeal of each process;
  latency     appeals started at a fixed rate (50/s, the pipeline's first latency rate),
              start → routed and start → notified p50/p95/p99;
  timers      K workflows asleep on their deadline 5–30 days ahead (started at the timer
              step: Tyndau's timer stage seeds its timers straight into the store too; as
              many as are armed within a time budget, in chunks of 1,000), then a window
              whose timers fall due at WINDOW_RATE (50/s: see there why not 1,000/s): firing
              lag (the breach recorded minus the deadline) p50/p95/p99/max, firing rate,
              server and worker memory.
The worker reports each routed / notified / breached appeal to the bench over a local TCP
connection (a line each), as the pipeline's bench watches the last topics: the moment is when
the activity's write returned.

Ratios (`comparison`) are Tyndau ÷ Temporal, each from the same results dict: above 1 Tyndau's
figure is the higher one (faster for appeals/s and firing rate; costlier or slower for CPU,
latency, lag and memory).

    python -m bench.temporal [--quick] [--appeals N] [--rate R --seconds S] [--timers K]
                             [--window-rate R --window-seconds S]
                             [--compare bench/results.json]
writes .run/bench-temporal/result.json (bench/results.json only as part of `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from bench.pipeline import (
        REPO,
        call_1414,
        latency_result,
        percentiles,
        proc_status_mb,
        stop_processes,
    )
    from bench.profile import STATE_DIR, CpuShare, cpu_ms_per_appeal, infra_pids
    from services.common.topics_admin import drop_prefixed_databases

TEMPORAL_SH = REPO / "deploy" / "local" / "temporal.sh"
TEMPORAL_PIDFILE = STATE_DIR / "temporal" / "temporal.pid"
TASK_QUEUE = "appeals"
NAMESPACE = "tyndau-bench"
WORKFLOW = "AppealLifecycle"
# Workflow starts the load client keeps in flight (one gRPC call each).
START_CONCURRENCY = 64
ACTIVITY_TIMEOUT = timedelta(seconds=60)
# The process names in the CPU account.
SERVER, WORKER, STORE, LOAD = "temporal server", "temporal worker", "ferretdb", "bench (load)"


# --- the workflow -------------------------------------------------------------------------


def seconds_until(due_at: str, now: datetime) -> float:
    """The timer's duration: from the workflow's `now` to the ISO deadline, never negative
    (a deadline already past fires at once)."""
    return max((datetime.fromisoformat(due_at) - now).total_seconds(), 0.0)


@workflow.defn(name=WORKFLOW)
class AppealLifecycle:
    """One appeal: register → route → answer timer + notify → (when the timer fires) breach.
    A job with `call` runs the whole lifecycle; one with `appeal_id` and `due_at` starts at
    the timer (the timer stage's population, already registered, routed and notified)."""

    @workflow.run
    async def run(self, job: dict) -> str:
        if "call" in job:
            registered = await workflow.execute_activity(
                "register", job["call"], start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            routed = await workflow.execute_activity(
                "route", registered, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            appeal_id, due_at = registered["appeal_id"], registered["answer_due_at"]
            # Timer and notification in one workflow task: both commands in one completion.
            timer = asyncio.create_task(workflow.sleep(seconds_until(due_at, workflow.now())))
            await workflow.execute_activity(
                "notify",
                {"registered": registered, "agency_code": routed.get("agency_code")},
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
        else:
            appeal_id, due_at = job["appeal_id"], job["due_at"]
            timer = asyncio.create_task(workflow.sleep(seconds_until(due_at, workflow.now())))
        await timer
        await workflow.execute_activity(
            "breach",
            {"appeal_id": appeal_id, "due_at": due_at},
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return "breached"


# --- the activities (in the worker process) -----------------------------------------------


class Reporter:
    """The worker's side of the measurement: one line per step an appeal reached,
    `<step> <appeal id> <unix time>`, to the bench's TCP listener."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def send(self, step: str, appeal_id: str, moment: float) -> None:
        if not self.address:
            return
        if self._writer is None:
            async with self._lock:
                if self._writer is None:
                    host, port = self.address.rsplit(":", 1)
                    _, self._writer = await asyncio.open_connection(host, int(port))
        self._writer.write(f"{step} {appeal_id} {moment:.6f}\n".encode())


class Activities:
    """register, route, notify and breach, with the services' pure rules and the writes that
    are their work (see the module docstring)."""

    def __init__(self, mongodb_url: str, prefix: str, reporter: Reporter) -> None:
        from pymongo import AsyncMongoClient

        from reference.agencies import AgencyRegistry
        from reference.calendar import WorkingCalendar
        from services.routing.decisions import Rules

        self.client: Any = AsyncMongoClient(mongodb_url, tz_aware=True)
        self.intake = self.client[f"{prefix}intake"]
        self.routing = self.client[f"{prefix}routing"]
        self.notify_db = self.client[f"{prefix}notify"]
        self.sla = self.client[f"{prefix}sla"]
        self.calendar = WorkingCalendar.default()
        self.rules = Rules.default(AgencyRegistry.default(), self.calendar)
        self.reporter = reporter
        # Per registration day, the next number this process tries (intake's DailySequence:
        # taken without an await, so concurrent activities never try the same number).
        self._next: dict[str, int] = {}

    async def ensure_indexes(self) -> None:
        """Intake's indexes (the store maintains them on every insert)."""
        from pymongo import ASCENDING, DESCENDING

        appeals = self.intake["appeals"]
        await appeals.create_index([("registration_number", ASCENDING)], unique=True)
        await appeals.create_index([("channel", ASCENDING), ("channel_appeal_id", ASCENDING)])
        await self.intake["registration_numbers"].create_index(
            [("day", ASCENDING), ("sequence", DESCENDING)]
        )

    async def _claim(self, appeal_id: str, day: str) -> int:
        from pymongo.errors import DuplicateKeyError

        while True:
            sequence = self._next.get(day, 1)
            self._next[day] = sequence + 1
            claim = {"_id": f"{day}-{sequence:06d}", "day": day, "sequence": sequence}
            try:
                await self.intake["registration_numbers"].insert_one(
                    claim | {"appeal_id": appeal_id}
                )
                return sequence
            except DuplicateKeyError:  # taken before a restart of this worker: the next one
                continue

    async def _note_matter(self, draft: Any, appeal_id: str) -> str | None:
        """The applicant's matter: a new one is one insert; an existing one gets this appeal
        added and names the latest earlier appeal within 90 days (intake's repeat window)."""
        from pymongo.errors import DuplicateKeyError

        from contracts import deterministic_id

        iin = draft.applicant.iin
        if not iin or draft.applicant.anonymous:
            return None
        key = deterministic_id("matter", iin, draft.category.value, draft.region_kato or "")
        entry = {"appeal_id": appeal_id, "received_at": draft.received_at}
        matters = self.intake["applicant_matters"]
        try:
            await matters.insert_one({"_id": key, "appeals": [entry]})
            return None
        except DuplicateKeyError:
            found = await matters.find_one({"_id": key}) or {"appeals": []}
            await matters.update_one({"_id": key}, {"$addToSet": {"appeals": entry}})
        since = draft.received_at - timedelta(days=90)
        earlier = [
            e
            for e in found["appeals"]
            if e["appeal_id"] != appeal_id and since <= e["received_at"] <= draft.received_at
        ]
        return max(earlier, key=lambda e: e["received_at"])["appeal_id"] if earlier else None

    @activity.defn(name="register")
    async def register(self, call: dict) -> dict:
        from pymongo.errors import DuplicateKeyError

        from contracts import Call1414Appeal
        from services.intake.adapters import Rejection, adapt_1414
        from services.intake.registration import appeal_id_for, register, registration_time

        now = datetime.now(UTC)
        draft = adapt_1414(Call1414Appeal.model_validate(call), now)
        if isinstance(draft, Rejection):
            raise ValueError(f"the bench's call was rejected: {draft.errors}")
        appeal_id = appeal_id_for(draft.channel, draft.channel_appeal_id)
        registered_at = registration_time(draft, self.calendar)
        repeat_of = await self._note_matter(draft, appeal_id)
        sequence = await self._claim(appeal_id, f"{registered_at:%Y%m%d}")
        event = register(
            draft, self.calendar, now, None, sequence=sequence, repeat_of=repeat_of
        ).model_dump(mode="json")
        document = {
            "_id": appeal_id,
            "registration_number": event["registration_number"],
            "channel": event["channel"],
            "channel_appeal_id": event["channel_appeal_id"],
            "status": "registered",
            "registered_at": registered_at,
            "received_at": draft.received_at,
            "event": event,
        }
        try:
            await self.intake["appeals"].insert_one(document)
        except DuplicateKeyError:  # a retry of this activity: the first registration stands
            stored = await self.intake["appeals"].find_one({"_id": appeal_id})
            event = stored["event"]
        return event

    @activity.defn(name="route")
    async def route(self, registered: dict) -> dict:
        from pymongo.errors import DuplicateKeyError

        from contracts import AppealRegistered
        from services.routing.decisions import Routed, decide_route

        appeal = AppealRegistered.model_validate(registered)
        decision = decide_route(appeal, self.rules.registry, self.rules)
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "_id": f"{appeal.appeal_id}:0",
            "appeal_id": appeal.appeal_id,
            "hop": 0,
            "category": decision.category.value,
            "reason": decision.reason,
            "decided_at": now,
        }
        if isinstance(decision, Routed):
            record |= {
                "outcome": "routed",
                "agency_code": decision.agency.code,
                "level": decision.agency.level.value,
                "rule_id": decision.rule_id,
                "rule_version": decision.rule_version,
                "forwarded": decision.forwarded,
            }
        else:
            record |= {"outcome": "triaged", "reason_code": decision.reason_code}
        with contextlib.suppress(DuplicateKeyError):  # a retry: the first decision stands
            await self.routing["decisions"].insert_one(record)
        await self.reporter.send("routed", appeal.appeal_id, time.time())
        return {"outcome": record["outcome"], "agency_code": record.get("agency_code")}

    @activity.defn(name="notify")
    async def notify(self, job: dict) -> None:
        from pymongo.errors import DuplicateKeyError

        from contracts import Language
        from services.notify.templates import local_time, render

        event = job["registered"]
        language = Language(event["language"])
        registered_at = datetime.fromisoformat(event["registered_at"])
        due_at = datetime.fromisoformat(event["answer_due_at"])
        text = render(
            "appeal_registered",
            language,
            {
                "registration_number": event["registration_number"],
                "registered_at": local_time(registered_at, self.calendar.tz),
                "answer_due_at": local_time(due_at, self.calendar.tz),
                "lookup": "",
            },
        )
        notification = {
            "_id": f"{event['appeal_id']}:appeal_registered",
            "appeal_id": event["appeal_id"],
            "template": "appeal_registered",
            "channel": "sms",
            "recipient": event["applicant"].get("phone"),
            "language": language.value,
            "agency_code": job.get("agency_code"),
            "text": text,
            "status": "recorded",
            "recorded_at": datetime.now(UTC),
        }
        with contextlib.suppress(DuplicateKeyError):
            await self.notify_db["notifications"].insert_one(notification)
        await self.reporter.send("notified", event["appeal_id"], time.time())

    @activity.defn(name="breach")
    async def breach(self, job: dict) -> None:
        from pymongo.errors import DuplicateKeyError

        fired_at = datetime.now(UTC)
        with contextlib.suppress(DuplicateKeyError):
            await self.sla["breaches"].insert_one(
                {
                    "_id": job["appeal_id"],
                    "due_at": datetime.fromisoformat(job["due_at"]),
                    "fired_at": fired_at,
                }
            )
        await self.reporter.send("breached", job["appeal_id"], time.time())


def workflow_runner() -> Any:
    """How the worker runs workflow code. Default: the SDK's UnsandboxedWorkflowRunner. The
    default sandbox re-imports the workflow's module for every workflow it creates (and
    again after each eviction from the worker's cache): with the workflow in this module,
    the whole stage, that was 30 % of the worker's CPU (py-spy, 400 appeals) and would count
    the bench's own code against Temporal. The workflow code here is deterministic (it
    reads time only through `workflow.now()`), which is what the sandbox checks.
    TEMPORAL_SANDBOX=1 runs it sandboxed (the bench's and the services' modules passed
    through), to measure that cost."""
    from temporalio.worker import UnsandboxedWorkflowRunner
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    if os.environ.get("TEMPORAL_SANDBOX") != "1":
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "bench", "services", "contracts", "reference", "pymongo", "bson", "pydantic"
        )
    )


async def run_worker(address: str, namespace: str, mongodb_url: str, prefix: str, report: str):
    """The worker process: polls the task queue until SIGTERM, with the SDK's default
    concurrency (100 workflow tasks, 100 activities at once) and workflow cache (1,000)."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address, namespace=namespace)
    activities = Activities(mongodb_url, prefix, Reporter(report))
    await activities.ensure_indexes()
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[AppealLifecycle],
        activities=[activities.register, activities.route, activities.notify, activities.breach],
        workflow_runner=workflow_runner(),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    running = asyncio.create_task(worker.run())
    await stop.wait()
    await worker.shutdown()
    with contextlib.suppress(Exception):
        await running
    await activities.client.close()


# --- pure parts: sizes, results, the comparison ------------------------------------------


@dataclass(frozen=True)
class TemporalSizes:
    appeals: int
    rate: float
    seconds: float
    timers: int
    seed_budget_s: float
    window_rate: float
    window_seconds: float

    @classmethod
    def for_run(
        cls,
        quick: bool,
        appeals: int | None = None,
        rate: float | None = None,
        seconds: float | None = None,
        timers: int | None = None,
    ) -> TemporalSizes:
        """The stage's sizes. Appeals: at most 5,000 (1,000 quick): the per-appeal figures
        settle long before the pipeline's 100,000, and at the ~20 appeals/s measured here
        more would add minutes to `make bench` for nothing. Latency: the pipeline's first
        rate and its seconds. Timers: 100,000 asleep (10,000 quick), or as many as are armed
        within 600 s (120 s quick): at the ~33/s measured here, about 20,000 (4,000); the
        result records how many and the target. Then a window at WINDOW_RATE for 10 s
        (5 s quick)."""
        cap = 1_000 if quick else 5_000
        return cls(
            appeals=min(appeals or cap, cap),
            rate=rate or 50.0,
            seconds=seconds or (15.0 if quick else 60.0),
            timers=timers if timers is not None else (10_000 if quick else 100_000),
            seed_budget_s=120.0 if quick else 600.0,
            window_rate=WINDOW_RATE,
            window_seconds=5.0 if quick else 10.0,
        )


# The rate at which the window's timers fall due. Not the pipeline's 1,000/s: here the
# server and the worker arm about 33 timers/s (start + first workflow task) and fire 49/s
# of 50/s with p99 0.65 s (2,000 asleep, the machine shared); one firing is a workflow
# task, the breach activity and a second workflow task. Far above what they sustain, the lag
# would measure only the backlog.
WINDOW_RATE = 50.0


def throughput_result(started: float, appeals: int, notified: dict[str, float]) -> dict:
    """Appeals/s over the time from the first start to the last notification."""
    done = len(notified)
    elapsed = (max(notified.values()) - started) if notified else float("nan")
    return {
        "appeals": appeals,
        "completed": done,
        "all_completed": done >= appeals,
        "seconds": elapsed,
        "appeals_per_s": done / elapsed if notified and elapsed > 0 else 0.0,
    }


def timer_result(
    open_timers: int,
    rate: float,
    due: dict[str, float],
    fired: dict[str, float],
    rss: dict[str, dict[str, float]],
    seed_s: float,
) -> dict:
    """The window's firing lag (fired − due), rate and the processes' memory."""
    lags = [fired[a] - due[a] for a in due if a in fired]
    moments = sorted(fired[a] for a in due if a in fired)
    span = moments[-1] - moments[0] if len(moments) > 1 else float("nan")
    return {
        "open_timers": open_timers,
        "window_timers": len(due),
        "target_rate_per_s": rate,
        "fired": len(lags),
        "firing_rate_per_s": len(lags) / span if span == span and span > 0 else None,
        "lag": percentiles(lags),
        "seed_s": seed_s,
        "seed_workflows_per_s": open_timers / seed_s if seed_s else None,
        "rss_mb": rss,
        "rss_mb_max_total": sum(m.get("max", 0.0) for m in rss.values()),
    }


def _get(d: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def tyndau_figures(results: dict, rate: float) -> dict:
    """Tyndau's figures of the same run (or of a results.json) that the comparison needs."""
    cpu = _get(results, "pipeline", "cpu_ms_per_appeal") or _get(
        results, "throughput", "cpu_ms_per_appeal"
    )
    latency = _get(results, "latency_by_rate", f"{rate:g}")
    if latency is None and _get(results, "latency", "rate_per_s") == rate:
        latency = results["latency"]
    timers = results.get("timers") or {}
    return {
        "appeals_per_s": _get(results, "throughput", "result", "appeals_per_s"),
        "cpu_ms_per_appeal": cpu or {},
        "to_routed_p99_ms": _get(latency, "to_routed", "p99_ms"),
        "to_notified_p99_ms": _get(latency, "to_notified", "p99_ms"),
        "open_timers": timers.get("open_timers"),
        "timer_lag_p50_ms": _get(timers, "lag", "p50_ms"),
        "timer_lag_p99_ms": _get(timers, "lag", "p99_ms"),
        "firing_rate_per_s": timers.get("firing_rate_per_s"),
        "timer_window_rate_per_s": timers.get("target_rate_per_s"),
        "timer_rss_mb": timers.get("rss_mb_max"),
    }


def temporal_figures(temporal: dict) -> dict:
    """The same figures from this stage's result."""
    timers = temporal.get("timers") or {}
    return {
        "appeals_per_s": _get(temporal, "throughput", "appeals_per_s"),
        "cpu_ms_per_appeal": temporal.get("cpu_ms_per_appeal") or {},
        "to_routed_p99_ms": _get(temporal, "latency", "to_routed", "p99_ms"),
        "to_notified_p99_ms": _get(temporal, "latency", "to_notified", "p99_ms"),
        "open_timers": timers.get("open_timers"),
        "timer_lag_p50_ms": _get(timers, "lag", "p50_ms"),
        "timer_lag_p99_ms": _get(timers, "lag", "p99_ms"),
        "firing_rate_per_s": timers.get("firing_rate_per_s"),
        "timer_window_rate_per_s": timers.get("target_rate_per_s"),
        "timer_rss_mb": timers.get("rss_mb_max_total"),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b, or None when either is missing or b is zero."""
    if a is None or b is None or not b or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


# Tyndau's processes by role: its backbone (the broker and four services) against Temporal's
# (the server and the worker that runs the workflow and activities).
TYNDAU_BACKBONE = ("kafka", "intake", "routing", "sla", "notify")
TEMPORAL_BACKBONE = (SERVER, WORKER)


def comparison(tyndau: dict, temporal: dict) -> dict:
    """Tyndau ÷ Temporal for each figure both measured (None where one is missing)."""
    t_cpu, o_cpu = tyndau["cpu_ms_per_appeal"], temporal["cpu_ms_per_appeal"]

    def backbone(cpu: dict, names: tuple[str, ...]) -> float | None:
        return sum(cpu[n] for n in names if n in cpu) if any(n in cpu for n in names) else None

    return {
        "appeals_per_s": ratio(tyndau["appeals_per_s"], temporal["appeals_per_s"]),
        "cpu_ms_per_appeal_total": ratio(t_cpu.get("total"), o_cpu.get("total")),
        "cpu_ms_per_appeal_store": ratio(t_cpu.get(STORE), o_cpu.get(STORE)),
        "cpu_ms_per_appeal_backbone": ratio(
            backbone(t_cpu, TYNDAU_BACKBONE), backbone(o_cpu, TEMPORAL_BACKBONE)
        ),
        "to_routed_p99": ratio(tyndau["to_routed_p99_ms"], temporal["to_routed_p99_ms"]),
        "to_notified_p99": ratio(tyndau["to_notified_p99_ms"], temporal["to_notified_p99_ms"]),
        "timer_lag_p50": ratio(tyndau["timer_lag_p50_ms"], temporal["timer_lag_p50_ms"]),
        "timer_lag_p99": ratio(tyndau["timer_lag_p99_ms"], temporal["timer_lag_p99_ms"]),
        "firing_rate": ratio(tyndau["firing_rate_per_s"], temporal["firing_rate_per_s"]),
        "timer_rss": ratio(tyndau["timer_rss_mb"], temporal["timer_rss_mb"]),
    }


def with_comparison(temporal: dict, results: dict) -> dict:
    """The stage's result with Tyndau's figures beside it and the ratios."""
    tyndau = tyndau_figures(results, temporal.get("sizes", {}).get("rate", 50.0))
    return {
        **temporal,
        "tyndau": tyndau,
        "ratios": comparison(tyndau, temporal_figures(temporal)),
        "ratios_are": "Tyndau ÷ Temporal; above 1 Tyndau's figure is the higher one",
    }


def comparison_rows(r: dict) -> list[tuple[str, str]]:
    """The summary table's rows for results["temporal"] (bench/run.py's table_rows)."""
    t = r.get("temporal")
    if not t:
        return []
    ratios = t.get("ratios", {})

    def x(key: str) -> str:
        value = ratios.get(key)
        return f"Tyndau/Temporal {value:.2f}" if value is not None else "no ratio"

    rows = []
    if tp := t.get("throughput"):
        rows.append(
            (
                "Temporal throughput",
                f"{tp['appeals_per_s']:,.1f} appeals/s ({tp['completed']}/{tp['appeals']}); "
                + x("appeals_per_s"),
            )
        )
    if per := t.get("cpu_ms_per_appeal"):
        rows.append(
            (
                "Temporal CPU ms per appeal",
                f"{per['total']:.2f} total: "
                + ", ".join(f"{n} {ms:.2f}" for n, ms in per.items() if n != "total")
                + f"; {x('cpu_ms_per_appeal_total')}",
            )
        )
    if lat := t.get("latency"):
        rows.append(
            (
                f"Temporal latency @{lat['rate_per_s']:.0f}/s → notified p50/p95/p99",
                "/".join(
                    f"{lat['to_notified'].get(q, float('nan')):.0f}"
                    for q in ("p50_ms", "p95_ms", "p99_ms")
                )
                + f" ms; p99 {x('to_notified_p99')}"
                + (
                    " (above the rate it sustains: a backlog's latency)"
                    if lat.get("above_sustained_rate")
                    else ""
                ),
            )
        )
    if tm := t.get("timers"):
        lag = tm.get("lag", {})
        tyndau_rate = (t.get("tyndau") or {}).get("timer_window_rate_per_s")
        rows.append(
            (
                f"Temporal timers: {tm['open_timers']:,} asleep, window at "
                f"{tm['target_rate_per_s']:.0f}/s",
                f"fired {tm['fired']:,}/{tm['window_timers']:,} at "
                f"{tm['firing_rate_per_s'] or 0:,.0f}/s, lag p50/p99 "
                f"{lag.get('p50_ms', float('nan')):.0f}/{lag.get('p99_ms', float('nan')):.0f} "
                f"ms ({x('timer_lag_p99')}"
                + (f", Tyndau's window at {tyndau_rate:g}/s" if tyndau_rate else "")
                + f"), server + worker {tm['rss_mb_max_total']:.0f} MB ({x('timer_rss')})",
            )
        )
    return rows


# --- the measurement ----------------------------------------------------------------------


class Reports:
    """The bench's side of the workers' reports: when each appeal reached each step."""

    def __init__(self) -> None:
        self.reached: dict[str, dict[str, float]] = {"routed": {}, "notified": {}, "breached": {}}
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._read, "127.0.0.1", 0)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                step, appeal_id, moment = line.decode().split()
                self.reached[step].setdefault(appeal_id, float(moment))
                self.changed.set()
        writer.close()

    async def wait_for(self, step: str, ids: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not ids <= self.reached[step].keys():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
        return True

    async def stop(self) -> None:
        """Close the listener and the workers' connections (their readers then end)."""
        if self.server:
            self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.sleep(0)


async def start_many(
    client: Any,
    jobs: Iterable[tuple[str, dict]],
    concurrency: int,
    deadline: float = math.inf,
) -> list[str]:
    """Start a workflow per (id, job), `concurrency` starts in flight, none after
    `deadline` (time.monotonic()); the ids started."""
    gate = asyncio.Semaphore(concurrency)

    async def one(workflow_id: str, job: dict) -> None:
        try:
            await client.start_workflow(WORKFLOW, job, id=workflow_id, task_queue=TASK_QUEUE)
        finally:
            gate.release()

    tasks, started = [], []
    for workflow_id, job in jobs:
        await gate.acquire()
        if time.monotonic() > deadline:
            gate.release()
            break
        tasks.append(asyncio.create_task(one(workflow_id, job)))
        started.append(workflow_id)
    await asyncio.gather(*tasks)
    return started


# Workflows started (and armed) at a time while seeding the timer population.
SEED_CHUNK = 1_000

# A workflow that starts at the timer has started it once its history holds 5 events:
# started, workflow task scheduled / started / completed, timer started.
ARMED_HISTORY_LENGTH = 5


def armed_sample(ids: list[str], size: int = 30) -> list[str]:
    """The ids to check for arming: spread over the list, and its last ones (started last,
    their first workflow task is the last to be done)."""
    if not ids:
        return []
    spread = ids[:: max(1, len(ids) // size)]
    return sorted(set(spread) | set(ids[-size:]))


async def wait_armed(client: Any, ids: list[str], timeout: float) -> bool:
    """Until each workflow of `ids` has started its timer: `start_workflow` returns once the
    workflow exists; the worker starts its timer later, in the workflow's first task."""
    pending, deadline = list(ids), time.monotonic() + timeout
    while pending:
        still = []
        for workflow_id in pending:
            described = await client.get_workflow_handle(workflow_id).describe()
            if described.history_length < ARMED_HISTORY_LENGTH:
                still.append(workflow_id)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(1)
    return True


def appeal_calls(tag: str, count: int, seed: int) -> list[tuple[str, dict]]:
    """(appeal id, 1414 call) pairs: the pipeline's own load (bench.pipeline.call_1414)."""
    from contracts import deterministic_id

    rng = random.Random(seed)
    calls = [call_1414(f"{tag}-{i}", rng) for i in range(count)]
    return [(deterministic_id("appeal", "1414", c["call_id"]), c) for c in calls]


async def register_namespace(address: str, namespace: str) -> Any:
    """Register the namespace through the API and wait until the frontend serves it (its
    namespace cache refreshes every few seconds)."""
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.workflowservice.v1 import (
        DescribeNamespaceRequest,
        RegisterNamespaceRequest,
    )
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    deadline = time.monotonic() + 120
    while True:
        try:
            admin = await Client.connect(address)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        await admin.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                description="Tyndau bench: the appeal lifecycle on Temporal (issue 18)",
                workflow_execution_retention_period=Duration(seconds=24 * 3600),
            )
        )
    except RPCError as exc:  # a server whose data was kept: the namespace is there
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    while True:
        try:
            await admin.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            break
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    return await Client.connect(address, namespace=namespace)


async def warm_up(client: Any, reports: Reports, tag: str) -> None:
    """One appeal all the way through: the namespace is served, the worker polls, every
    activity reaches the store. Retries the start while the frontend does not know the
    namespace yet."""
    from temporalio.service import RPCError

    [(appeal_id, call)] = appeal_calls(tag, 1, 1)
    deadline = time.monotonic() + 90
    while True:
        try:
            await client.start_workflow(
                WORKFLOW, {"call": call}, id=appeal_id, task_queue=TASK_QUEUE
            )
            break
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    if not await reports.wait_for("notified", {appeal_id}, 90):
        raise RuntimeError("the warm-up appeal was not notified within 90 s (see the worker log)")


async def measure_throughput(
    client: Any, reports: Reports, cpu: CpuShare, appeals: int, tag: str
) -> dict:
    calls = appeal_calls(tag, appeals, 7)
    ids = {a for a, _ in calls}
    cpu.start()
    started = time.time()
    await start_many(client, ((a, {"call": c}) for a, c in calls), START_CONCURRENCY)
    started_s = time.time() - started
    await reports.wait_for("notified", ids, max(120, appeals / 10))
    cpu.stop()
    notified = {a: reports.reached["notified"][a] for a in ids if a in reports.reached["notified"]}
    result = throughput_result(started, appeals, notified)
    result["start_seconds"] = started_s
    return {
        "throughput": result,
        "cpu_during_throughput": cpu.result,
        "cpu_ms_per_appeal": cpu_ms_per_appeal(cpu.result, result["completed"]),
    }


async def measure_latency(
    client: Any, reports: Reports, rate: float, seconds: float, tag: str
) -> dict:
    calls = appeal_calls(tag, int(rate * seconds), 11)
    sent_at: dict[str, float] = {}
    starts = []
    begin = time.perf_counter()
    for i, (appeal_id, call) in enumerate(calls):
        # Open loop: each appeal at its slot, however slow the system is.
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at[appeal_id] = time.time()
        starts.append(
            asyncio.create_task(
                client.start_workflow(WORKFLOW, {"call": call}, id=appeal_id, task_queue=TASK_QUEUE)
            )
        )
    await asyncio.gather(*starts)
    # Room for a backlog to drain when the rate is above what the machine sustains.
    await reports.wait_for("notified", set(sent_at), 60 + len(sent_at) / 5)
    return latency_result(rate, seconds, sent_at, reports.reached)


class RssSampler:
    """Resident memory of named processes, sampled every second: max and last, in MB."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[float]] = {n: [] for n in pids}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                self.samples[name].append(proc_status_mb(pid))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(1)

    def result(self) -> dict[str, dict[str, float]]:
        return {
            n: {"max": max(s), "last": s[-1], "peak_hwm": _hwm(self.pids[n])}
            for n, s in self.samples.items()
            if s
        }


def _hwm(pid: int) -> float:
    try:
        return proc_status_mb(pid, "VmHWM")
    except OSError:
        return float("nan")


async def measure_timers(
    client: Any,
    reports: Reports,
    pids: dict[str, int],
    sizes: TemporalSizes,
) -> dict:
    """Up to K workflows asleep on deadlines 5–30 days ahead (as many as start within the
    seeding budget), then a window of `window_rate × window_seconds` whose deadlines fall due
    at `window_rate`/s once they are all armed."""
    now = datetime.now(UTC).replace(microsecond=0)

    def standing(n: int) -> tuple[str, dict]:
        due = now + timedelta(days=5 + n % 25, seconds=n % 36000)
        return f"timer-{n:07d}", {"appeal_id": f"timer-{n:07d}", "due_at": due.isoformat()}

    rss = RssSampler(pids)
    sampling = asyncio.create_task(rss.run())
    try:
        t0 = time.monotonic()
        asleep: list[str] = []
        armed = True
        # In chunks, each armed before the next starts: the budget bounds the timers that
        # are asleep, not merely started, and no backlog of first workflow tasks is left
        # to compete with the window.
        while len(asleep) < sizes.timers and time.monotonic() - t0 < sizes.seed_budget_s:
            chunk = range(len(asleep), min(sizes.timers, len(asleep) + SEED_CHUNK))
            started = await start_many(client, map(standing, chunk), START_CONCURRENCY)
            armed = await wait_armed(client, armed_sample(started), sizes.seed_budget_s)
            asleep += started
            if not armed:
                break
        seed_s = time.monotonic() - t0
        rss_asleep = {n: s[-1] for n, s in rss.samples.items() if s}
        per_s = len(asleep) / seed_s if seed_s > 0 else 50.0
        window = int(sizes.window_rate * sizes.window_seconds)
        # The window falls due once its own workflows are surely armed (at the rate just
        # measured, with room to spare), so the starts do not compete with the firing.
        start_at = time.time() + 5 + 1.5 * window / max(per_s, 10.0)
        due = {f"window-{i:06d}": start_at + i / sizes.window_rate for i in range(window)}
        jobs = (
            (a, {"appeal_id": a, "due_at": datetime.fromtimestamp(t, UTC).isoformat()})
            for a, t in due.items()
        )
        await start_many(client, jobs, START_CONCURRENCY)
        window_armed = await wait_armed(
            client, armed_sample(list(due)), max(start_at - time.time(), 1.0)
        )
        late_s = max(time.time() - start_at, 0.0)
        await reports.wait_for("breached", set(due), sizes.window_seconds + 120 + late_s)
    finally:
        sampling.cancel()
        rss.sample()
    result = timer_result(
        len(asleep), sizes.window_rate, due, reports.reached["breached"], rss.result(), seed_s
    )
    return result | {
        "target_timers": sizes.timers,
        "seed_budget_s": sizes.seed_budget_s,
        "all_armed": armed,
        "rss_mb_asleep": rss_asleep,
        "window_armed_before_due": window_armed,
        "window_armed_late_s": late_s,
    }


def temporal_sh(command: str) -> None:
    subprocess.run([str(TEMPORAL_SH), command], check=True, cwd=REPO)


def server_pid() -> int:
    try:
        return int(TEMPORAL_PIDFILE.read_text().strip())
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            "the Temporal server on 127.0.0.1:7233 was not started by this checkout's "
            "deploy/local/temporal.sh: its CPU and memory cannot be counted"
        ) from exc


async def _measure(
    address: str,
    mongodb_url: str,
    prefix: str,
    sizes: TemporalSizes,
    log_dir: Path,
    step: Callable[[str], None],
) -> dict:
    reports = Reports()
    report_address = await reports.start()
    client = await register_namespace(address, NAMESPACE)
    worker_log = (log_dir / "worker.log").open("w")
    # Started once the namespace exists (its address and the report port are known only
    # here); a one-off start, not on a path the stage measures.
    worker = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "bench.temporal", "worker", "--address", address]
        + ["--namespace", NAMESPACE, "--mongodb-url", mongodb_url, "--prefix", prefix]
        + ["--report", report_address],
        cwd=REPO,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        await warm_up(client, reports, f"warm-{prefix}")
        pids = {SERVER: server_pid(), WORKER: worker.pid}
        store = infra_pids().get("ferretdb")
        cpu = CpuShare(pids | ({STORE: store} if store else {}) | {LOAD: os.getpid()})
        result: dict[str, Any] = {"sizes": asdict(sizes), "namespace": NAMESPACE}
        step(f"throughput: {sizes.appeals:,} appeals")
        result |= await measure_throughput(client, reports, cpu, sizes.appeals, f"tp-{prefix}")
        step(f"latency: {sizes.rate:g}/s for {sizes.seconds:g} s")
        result["latency"] = await measure_latency(
            client, reports, sizes.rate, sizes.seconds, f"lat-{prefix}"
        )
        # Above the rate it sustains, the latency is the backlog's: say so beside it.
        result["latency"]["above_sustained_rate"] = (
            result["throughput"]["appeals_per_s"] < sizes.rate
        )
        if sizes.timers:
            step(
                f"timers: {sizes.timers:,} asleep, then {sizes.window_rate:g}/s falling due "
                f"for {sizes.window_seconds:g} s"
            )
            result["timers"] = await measure_timers(client, reports, pids, sizes)
            # Every workflow of the stage sleeps in the server meanwhile, not only K.
            result["timers"]["asleep_total"] = (
                result["timers"]["open_timers"]
                + sizes.appeals
                + int(sizes.rate * sizes.seconds)
                + 1
            )
        result["store_documents_per_appeal"] = await documents_per_appeal(
            mongodb_url, prefix, sizes.appeals + int(sizes.rate * sizes.seconds) + 1
        )
        return result
    finally:
        stop_processes([worker], timeout=30)
        worker_log.close()
        await reports.stop()


async def documents_per_appeal(mongodb_url: str, prefix: str, appeals: int) -> dict:
    """Documents stored per appeal by database.collection (the breach records excluded:
    those are the timer stage's)."""
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(mongodb_url)
    counts: dict[str, float] = {}
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix) and not name.endswith("sla"):
                for collection in await client[name].list_collection_names():
                    n = await client[name][collection].count_documents({})
                    counts[f"{name.removeprefix(prefix)}.{collection}"] = n / max(appeals, 1)
    finally:
        await client.close()
    return {"total": sum(counts.values()), **counts}


def temporal_comparison(
    results: dict,
    mongodb_url: str,
    sizes: TemporalSizes,
    log_dir: Path = REPO / ".run" / "bench-temporal",
) -> dict:
    """The stage: a fresh server (its database reset), the namespace, the worker; throughput,
    latency and timers; the server stopped and the stage's databases dropped whatever
    happens. Returns the figures with Tyndau's from `results` and the ratios."""
    log_dir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{os.environ.get('TEMPORAL_PORT', '7233')}"
    prefix = f"benchtemporal{os.getpid() % 10000}-"
    temporal_sh("stop")
    temporal_sh("reset")
    temporal_sh("start")

    def step(what: str) -> None:
        print(f"  temporal {what}…", flush=True)

    try:
        measured = asyncio.run(_measure(address, mongodb_url, prefix, sizes, log_dir, step))
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            temporal_sh("stop")
            temporal_sh("reset")  # its SQLite file: hundreds of MB after the timers
        asyncio.run(drop_prefixed_databases(mongodb_url, prefix))
    return with_comparison(measured, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="(the stage starts it) the worker process")
    worker.add_argument("--address", required=True)
    worker.add_argument("--namespace", required=True)
    worker.add_argument("--mongodb-url", required=True)
    worker.add_argument("--prefix", required=True)
    worker.add_argument("--report", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--appeals", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--timers", type=int, default=None)
    parser.add_argument("--window-rate", type=float, default=None)
    parser.add_argument("--window-seconds", type=float, default=None)
    parser.add_argument(
        "--compare",
        type=Path,
        default=REPO / "bench" / "results.json",
        help="Tyndau's figures to compare with (read only; default bench/results.json)",
    )
    args = parser.parse_args()
    if args.command == "worker":
        asyncio.run(
            run_worker(args.address, args.namespace, args.mongodb_url, args.prefix, args.report)
        )
        return
    results = json.loads(args.compare.read_text()) if args.compare.exists() else {}
    sizes = TemporalSizes.for_run(args.quick, args.appeals, args.rate, args.seconds, args.timers)
    sizes = replace(
        sizes,
        window_rate=args.window_rate or sizes.window_rate,
        window_seconds=args.window_seconds or sizes.window_seconds,
    )
    out = temporal_comparison(
        results, os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"), sizes
    )
    (REPO / ".run" / "bench-temporal" / "result.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    for name, value in comparison_rows({"temporal": out}):
        print(f"  {name}  {value}")


if __name__ == "__main__":
    main()
