"""`make bench` — one run that measures, on the real broker and store of this machine:

1. the raw limits: aiokafka produce→consume for messages of the pipeline's size, and store
   inserts / indexed updates through PyMongo async; from these and the measured cost of one
   appeal (messages and writes), the bound for the pipeline;
2. throughput: N appeals into the channel topic as fast as possible, until every one is
   registered, routed, timed and notified; appeals/s and the ratio to the bound;
3. latency at fixed rates (50, 100 and 200/s unless --rate names one): p50/p95/p99 from
   channel publish to routed and to notified, and the first of those rates whose routed p99
   passes 250 ms (DESIGN §8's latency target);
4. timers: N open timers (1,000,000; --quick 100,000) seeded into the sla database, then a
   window in which 1,000/s fall due: firing rate, lag p50/p95/p99, sla resident memory
   (bench/timers.py);
5. the HTTP gateway: `POST /v1/appeals` requests/s and p50/p95/p99 on intake alone, loaded
   by a separate client process over 32 connections (bench/gateway.py);
6. the same lifecycle on Temporal, one workflow per appeal (bench/temporal.py, issue 18):
   appeals/s, CPU ms per appeal per process, p99 at the latency rate, firing lag and memory
   with up to 100,000 sleeping timers (--quick 10,000; as many as are armed in 600 s / 120 s),
   and the ratio Tyndau / Temporal of each;
7. the store's two backends, FerretDB on SQLite and on PostgreSQL, on the same pipeline side
   by side, with their raw limits and the guarantees the services rely on (bench/backends.py).

Prints a table and writes bench/results.json. A benchmark reports; it never fails CI.

    python -m bench.run [--quick] [--appeals N] [--rate R --seconds S] [--timers N]
                        [--skip-timers] [--skip-temporal] [--skip-backends] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from bench import backends
from bench.gateway import gateway_load
from bench.limits import KafkaLimit, StoreLimit, kafka_limit, store_limit
from bench.pipeline import (
    REPO,
    RunningServices,
    current_commit,
    latency,
    proc_status_mb,
    services_as_processes,
    throughput,
)
from bench.profile import (
    LOAD_PROCESS,
    CpuShare,
    cpu_ms_per_appeal,
    infra_pids,
    median_round,
    profiles,
    sampled,
    store_sampled,
)
from bench.timers import timer_scale
from services.common.kafka_auth import ADMIN, identity_for

RESULTS = REPO / "bench" / "results.json"


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: version(p) for p in ("faststream", "aiokafka", "pymongo", "pydantic")},
        "kafka": "3.9.2 (KRaft, local)",
        "store": os.environ.get("MONGODB_URL", "FerretDB v1.24.2 SQLite (local)"),
    }


# Documents whose size is sampled per collection to estimate the bytes stored per appeal.
SIZE_SAMPLE = 1000


async def appeal_cost(bootstrap: str, mongodb_url: str, prefix: str, appeals: int) -> dict:
    """What one appeal costs the broker and the store, counted after the throughput run:
    messages and bytes (key + value + headers) produced per appeal, by topic; documents
    stored per appeal, by database.collection, and their bytes (BSON) estimated from a sample
    of up to SIZE_SAMPLE documents per collection. (Documents *stored*: an update of a
    document already there is a write this does not count.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **identity_for(ADMIN).aiokafka())
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
    ]
    by_topic: Counter[str] = Counter()
    bytes_by_topic: Counter[str] = Counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **identity_for(ADMIN).aiokafka()
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions) if partitions else {}
        wanted = [tp for tp, end in ends.items() if end > 0]
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        remaining = {tp for tp in wanted}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                topic = tp.topic.removeprefix(prefix)
                for record in records:
                    by_topic[topic] += 1
                    bytes_by_topic[topic] += message_bytes(record)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    by_collection: Counter[str] = Counter()
    bytes_by_collection: dict[str, float] = {}
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix):
                db = client[name]
                for collection in await db.list_collection_names():
                    key = f"{name.removeprefix(prefix)}.{collection}"
                    count = await db[collection].count_documents({})
                    sample = await db[collection].find().limit(SIZE_SAMPLE).to_list()
                    by_collection[key] = count
                    bytes_by_collection[key] = count * mean_bson_size(sample)
    finally:
        await client.close()
    return cost_per_appeal(by_topic, bytes_by_topic, by_collection, bytes_by_collection, appeals)


async def store_command_counts(mongodb_url: str) -> dict[str, int]:
    """The store's count of each command since it started (`serverStatus`, metrics.commands:
    MongoDB and FerretDB both keep it). Commands, not documents: a batched insert is one."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        status = await client.admin.command("serverStatus")
    finally:
        await client.close()
    commands = status.get("metrics", {}).get("commands", {})
    return {name: int(c.get("total", 0)) for name, c in commands.items() if isinstance(c, dict)}


# The commands that write or read appeal data (not the drivers' handshakes and monitoring).
DATA_COMMANDS = ("insert", "update", "delete", "find", "findAndModify", "aggregate", "count")


def commands_per_appeal(before: dict[str, int], after: dict[str, int], appeals: int) -> dict:
    """Store round trips per completed appeal by command, over a stage (the bench's own
    counting reads are outside it)."""
    if not appeals:
        return {}
    per = {
        name: (after.get(name, 0) - before.get(name, 0)) / appeals
        for name in DATA_COMMANDS
        if after.get(name, 0) > before.get(name, 0)
    }
    return {**per, "total": sum(per.values())}


def message_bytes(record: object) -> int:
    """Bytes a Kafka record carries: key, value and headers (names and values)."""
    key, value = getattr(record, "key", None) or b"", getattr(record, "value", None) or b""
    headers = getattr(record, "headers", None) or ()
    return len(key) + len(value) + sum(len(k) + len(v or b"") for k, v in headers)


def mean_bson_size(documents: list[dict]) -> float:
    return sum(len(bson.encode(d)) for d in documents) / len(documents) if documents else 0.0


def cost_per_appeal(
    messages: Counter[str],
    message_bytes_by_topic: Counter[str],
    documents: Counter[str],
    document_bytes: dict[str, float],
    appeals: int,
) -> dict:
    """The counts of a run divided by its appeals, in total and by topic / collection."""
    n = max(appeals, 1)
    return {
        "messages_per_appeal": sum(messages.values()) / n,
        "bytes_produced_per_appeal": sum(message_bytes_by_topic.values()) / n,
        "messages_by_topic": {t: c / n for t, c in messages.most_common()},
        "documents_per_appeal": sum(documents.values()) / n,
        "bytes_stored_per_appeal": sum(document_bytes.values()) / n,
        "documents_by_collection": {c: k / n for c, k in documents.most_common()},
        "bytes_by_collection": {
            c: b / n for c, b in sorted(document_bytes.items(), key=lambda kv: -kv[1])
        },
    }


def pipeline_result(
    kafka: KafkaLimit,
    store: StoreLimit,
    throughput: dict,
    cost: dict,
    latency: dict,
    rss_mb: dict,
    cpu: dict,
) -> dict:
    """The pipeline stage's figures, with the bound the raw limits give: the broker carries
    `produce_consume_per_s` messages, the store `insert_many_per_s` writes (the services'
    writes are single inserts and updates, but batching is ours to do, so the batched rate
    is the honest ceiling)."""
    bound = min(
        kafka.produce_consume_per_s / max(cost["messages_per_appeal"], 1),
        store.insert_many_per_s / max(cost["documents_per_appeal"], 1),
    )
    return {
        "throughput": throughput,
        "cost": cost,
        "bound_appeals_per_s": bound,
        "ratio_to_bound": throughput["appeals_per_s"] / bound if bound else None,
        "latency": latency,
        "rss_mb": rss_mb,
        "cpu_during_throughput": cpu,
        "cpu_ms_per_appeal": cpu_ms_per_appeal(cpu, throughput.get("completed", 0)),
    }


# Latency is measured at each of these rates (appeals/s) in one run.
LATENCY_RATES = (50.0, 100.0, 200.0)


def first_rate_over(by_rate: dict[str, dict], limit_ms: float) -> float | None:
    """The lowest measured rate whose channel → routed p99 exceeds `limit_ms` (None: none
    did). A rate whose appeals did not all complete counts as over."""
    for rate, figures in sorted(by_rate.items(), key=lambda kv: float(kv[0])):
        routed = figures.get("to_routed", {})
        if (
            routed.get("count", 0) < figures.get("sent", 0)
            or routed.get("p99_ms", float("inf")) > limit_ms
        ):
            return float(rate)
    return None


class Stages:
    """Runs the bench's stages one after another, keeping what each measured: a stage that
    fails records its error (results["errors"]) and the run goes on with the stages that do
    not need it; results.json is rewritten after every stage, so a failure late in a long run
    loses nothing measured before it."""

    def __init__(self, results: dict, out: Path = RESULTS) -> None:
        self.results, self.out = results, out

    def run(self, key: str, what: str, measure: Callable[[], Any]) -> Any:
        """`measure()` into results[key]; None (and the error recorded) if it raised."""
        print(f"{what}…", flush=True)
        try:
            value = measure()
        except Exception as exc:  # noqa: BLE001 - reported, and the other stages still run
            traceback.print_exc()
            self.results.setdefault("errors", {})[key] = "".join(
                traceback.format_exception_only(exc)
            ).strip()
            value = None
        else:
            self.results[key] = value
        self.save()
        return value

    def save(self) -> None:
        self.out.write_text(json.dumps(self.results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a couple of minutes")
    parser.add_argument("--appeals", type=int, default=None)
    parser.add_argument(
        "--rate", type=float, default=None, help="one latency rate instead of 50, 100 and 200/s"
    )
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--timers", type=int, default=None, help="open timers to seed")
    parser.add_argument("--skip-timers", action="store_true", help="skip the timer stage")
    parser.add_argument(
        "--skip-backends", action="store_true", help="skip FerretDB on PostgreSQL beside SQLite"
    )
    parser.add_argument("--skip-temporal", action="store_true", help="skip the Temporal comparison")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="throughput rounds; the median round is reported with every round's CPU per "
        "appeal (3 to compare two versions: one round varies by ±15 %% here)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample each service with py-spy during the throughput stage",
    )
    args = parser.parse_args()
    appeals = args.appeals or (2_000 if args.quick else 100_000)
    seconds = args.seconds or (15 if args.quick else 60)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    mongodb_url = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/")
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        # The code measured is the code at the start (a long run may outlast a commit).
        "commit": current_commit(),
    }
    stages = Stages(results)

    def limits() -> dict:
        kafka = asyncio.run(kafka_limit(bootstrap, 20_000 if args.quick else 200_000, 1200))
        store = asyncio.run(store_limit(mongodb_url, 5_000 if args.quick else 50_000))
        return {"kafka": asdict(kafka), "store": asdict(store)}

    stages.run("limits", "measuring raw limits", limits)
    try:
        with services_as_processes(bootstrap, mongodb_url, REPO / ".run" / "bench") as running:
            pipeline_stages(stages, running, args, appeals, seconds, bootstrap, mongodb_url)
    except Exception as exc:  # noqa: BLE001 - the services did not start: say so, go on
        traceback.print_exc()
        results.setdefault("errors", {})["services"] = str(exc)
    if {"limits", "throughput", "cost"} <= results.keys():
        results["pipeline"] = pipeline_result(
            KafkaLimit(**results["limits"]["kafka"]),
            StoreLimit(**results["limits"]["store"]),
            results["throughput"]["result"],
            results["cost"],
            results.get("latency", {}),
            results.get("rss_mb", {}),
            results["throughput"]["cpu"],
        )
    if not args.skip_backends:
        # Both backends in this stage, at the same size (small: on PostgreSQL every _id read
        # scans), adjacent in time; the throughput stage's figures are of another size.
        stages.run(
            "store_backends",
            "store backends: FerretDB on SQLite and on PostgreSQL, the same pipeline",
            lambda: backends.store_backends(bootstrap, mongodb_url, min(appeals, 1_000), 5_000),
        )
    if not args.skip_timers:
        timers = args.timers or (100_000 if args.quick else 1_000_000)
        stages.run(
            "timers",
            f"timers: {timers:,} open, a window firing 1,000/s",
            lambda: timer_scale(
                bootstrap, mongodb_url, timers, rate=1000, seconds=10 if args.quick else 20
            ),
        )
    stages.run(
        "gateway",
        "gateway: POST /v1/appeals from a separate load process",
        lambda: gateway_load(
            bootstrap, mongodb_url, seconds=10 if args.quick else 30, warmup=2 if args.quick else 5
        ),
    )
    if not args.skip_temporal:

        def temporal() -> dict:
            from bench.temporal import TemporalSizes, temporal_comparison  # needs temporalio

            sizes = TemporalSizes.for_run(
                args.quick, args.appeals, args.rate, args.seconds, 0 if args.skip_timers else None
            )
            return temporal_comparison(results, mongodb_url, sizes)

        stages.run("temporal", "temporal: one workflow per appeal, side by side", temporal)
    results["finished_at"] = datetime.now(UTC).isoformat()
    stages.save()
    print_table(results)


def pipeline_stages(
    stages: Stages,
    running: RunningServices,
    args: argparse.Namespace,
    appeals: int,
    seconds: float,
    bootstrap: str,
    mongodb_url: str,
) -> None:
    """Throughput (with every process's CPU and, with --profile, samples), the cost of one
    appeal, latency at a fixed rate, resident memory — on the running services."""
    services = {name: running.pid(name) for name in running.processes}
    # The bench process itself sends the calls and watches the last topics.
    cpu = CpuShare(services | infra_pids() | {LOAD_PROCESS: os.getpid()})
    profiles_dir = REPO / ".run" / "bench" / "profiles"

    def one_round(round_no: int) -> dict:
        commands_before = asyncio.run(store_command_counts(mongodb_url))
        cpu.start()
        result = asyncio.run(
            throughput(
                bootstrap, running.prefix, appeals, max(120, appeals / 20), round_no=round_no
            )
        )
        cpu.stop()
        commands_after = asyncio.run(store_command_counts(mongodb_url))
        completed = result.get("completed", 0)
        return {
            "result": result,
            "cpu": cpu.result,
            "cpu_ms_per_appeal": cpu_ms_per_appeal(cpu.result, completed),
            "store_commands_per_appeal": commands_per_appeal(
                commands_before, commands_after, completed
            ),
        }

    def measure_throughput() -> dict:
        with (
            sampled(services, profiles_dir) if args.profile else nullcontext({}) as samples,
            store_sampled(profiles_dir / "ferretdb.pprof", seconds=20)
            if args.profile
            else nullcontext({}) as store_profile,
        ):
            rounds = [one_round(n) for n in range(args.repeat)]
        if samples:
            stages.results["profile"] = profiles(samples)
        if store_profile:
            stages.results["store_profile"] = store_profile
        return median_round(rounds)

    if stages.run("throughput", f"throughput: {appeals} appeals", measure_throughput) is None:
        return
    sent = appeals * args.repeat  # every round's appeals are in the prefix's topics and store
    stages.run(
        "cost",
        "cost of one appeal: messages, documents, bytes",
        lambda: asyncio.run(appeal_cost(bootstrap, mongodb_url, running.prefix, sent)),
    )
    rates = (args.rate,) if args.rate else LATENCY_RATES
    by_rate = {}
    for rate in rates:
        measured = stages.run(
            f"latency_{rate:g}",
            f"latency: {rate:g}/s for {seconds} s",
            lambda rate=rate: asyncio.run(latency(bootstrap, running.prefix, rate, seconds)),
        )
        if measured is not None:
            by_rate[f"{rate:g}"] = stages.results.pop(f"latency_{rate:g}")
    if by_rate:
        stages.results["latency"] = next(iter(by_rate.values()))  # the lowest rate
        stages.results["latency_by_rate"] = by_rate
        stages.results["routed_p99_passes_250ms_at"] = first_rate_over(by_rate, 250.0)
        stages.save()
    stages.run(
        "rss_mb",
        "resident memory",
        lambda: {name: proc_status_mb(running.pid(name)) for name in running.processes},
    )


def _ms(figures: dict, keys: tuple[str, ...] = ("p50_ms", "p95_ms", "p99_ms")) -> str:
    return "/".join(f"{figures.get(q, float('nan')):.0f}" for q in keys)


def table_rows(r: dict) -> list[tuple[str, str]]:
    """The summary table of a results dict, one (name, value) row per figure; the rows of a
    stage that failed or did not run are left out (its error is listed instead)."""
    rows: list[tuple[str, str]] = []
    if limits := r.get("limits"):
        k, s = limits["kafka"], limits["store"]
        rows += [
            ("raw Kafka produce→consume (1.2 kB)", f"{k['produce_consume_per_s']:,.0f} msg/s"),
            ("raw store insert_one", f"{s['insert_one_per_s']:,.0f} docs/s"),
            ("raw store insert_many", f"{s['insert_many_per_s']:,.0f} docs/s"),
            ("raw store update by _id", f"{s['indexed_update_per_s']:,.0f} docs/s"),
        ]
    if cost := r.get("cost"):
        rows.append(
            (
                "cost of one appeal",
                f"{cost['messages_per_appeal']:.1f} msgs "
                f"({cost.get('bytes_produced_per_appeal', 0):,.0f} B), "
                f"{cost['documents_per_appeal']:.1f} docs stored "
                f"({cost.get('bytes_stored_per_appeal', 0):,.0f} B)",
            )
        )
    if p := r.get("pipeline"):
        tp = p["throughput"]
        rows += [
            ("bound for the pipeline", f"{p['bound_appeals_per_s']:,.0f} appeals/s"),
            (
                "throughput end-to-end",
                f"{tp['appeals_per_s']:,.1f} appeals/s ({tp['completed']}/{tp['appeals']})",
            ),
            ("ratio to bound", f"{(p['ratio_to_bound'] or 0) * 100:.1f} % (target ≥ 50 %)"),
        ]
        if cpu := p.get("cpu_during_throughput"):
            rows.append(
                (
                    "cores busy during throughput",
                    f"{cpu['cores_busy_total']:.2f} of {cpu['cores']}: "
                    + ", ".join(
                        f"{name} {share:.2f}"
                        for name, share in sorted(cpu["cores_busy"].items(), key=lambda x: -x[1])
                    ),
                )
            )
        if commands := (r.get("throughput") or {}).get("store_commands_per_appeal"):
            rows.append(
                (
                    "store commands per appeal",
                    f"{commands['total']:.2f}: "
                    + ", ".join(f"{n} {c:.2f}" for n, c in commands.items() if n != "total"),
                )
            )
        if rounds := (r.get("throughput") or {}).get("rounds"):
            median = r["throughput"]["cpu_ms_per_appeal_median"]
            rows.append(
                (
                    f"CPU ms per appeal, median of {len(rounds)} rounds",
                    f"{median['total']:.2f} total (rounds: "
                    + " / ".join(f"{x['cpu_ms_per_appeal_total']:.2f}" for x in rounds)
                    + "): "
                    + ", ".join(
                        f"{n} {ms:.2f}"
                        for n, ms in sorted(median.items(), key=lambda kv: -kv[1])
                        if n != "total"
                    ),
                )
            )
        if per := p.get("cpu_ms_per_appeal"):
            rows.append(
                (
                    "CPU ms per appeal",
                    f"{per['total']:.2f} total: "
                    + ", ".join(f"{n} {ms:.2f}" for n, ms in per.items() if n != "total"),
                )
            )
    by_rate = r.get("latency_by_rate") or ({"": r["latency"]} if "latency" in r else {})
    for lat in by_rate.values():
        done = f"{lat['to_routed'].get('count', 0)}/{lat['sent']}"
        rows += [
            (
                f"latency @{lat['rate_per_s']:.0f}/s → routed p50/p95/p99",
                _ms(lat["to_routed"]) + f" ms ({done} routed; target p99 ≤ 250)",
            ),
            (f"latency @{lat['rate_per_s']:.0f}/s → notified", _ms(lat["to_notified"]) + " ms"),
        ]
    if "routed_p99_passes_250ms_at" in r:
        over = r["routed_p99_passes_250ms_at"]
        rows.append(
            (
                "routed p99 passes 250 ms at",
                f"{over:g}/s" if over is not None else "none of the rates measured",
            )
        )
    if gw := r.get("gateway"):
        rows += [
            (
                f"HTTP gateway POST /v1/appeals ({gw['connections']} conn.)",
                f"{gw['requests_per_s']:,.1f} req/s, {gw['non_2xx']} non-2xx, "
                f"intake {gw['rss_mb']['peak']:.0f} MB (no DESIGN §8 target)",
            ),
            ("gateway latency p50/p95/p99", _ms(gw["latency_all"]) + " ms"),
        ]
    if t := r.get("timers"):
        rows += [
            (
                f"timers: {t['open_timers']:,} open, window at {t['target_rate_per_s']:.0f}/s",
                f"fired {t['fired']:,}/{t['window_timers']:,} at "
                f"{t['firing_rate_per_s'] or 0:,.0f}/s (target 1,000/s)",
            ),
            (
                "firing lag p50/p99/max",
                _ms(t["lag"], ("p50_ms", "p99_ms", "max_ms")) + " ms (target p99 ≤ 1,000)",
            ),
            ("sla resident memory, peak", f"{t['rss_mb_max']:.0f} MB (target < 300 MB)"),
        ]
    if memory := r.get("rss_mb"):
        rows.append(("resident memory (MB)", ", ".join(f"{n} {m:.0f}" for n, m in memory.items())))
    if r.get("temporal"):
        from bench.temporal import comparison_rows

        rows += comparison_rows(r)
    rows += backends.table_rows(r.get("store_backends") or {})
    for stage, error in r.get("errors", {}).items():
        rows.append((f"FAILED: {stage}", error.splitlines()[-1] if error else "?"))
    return rows


def print_table(r: dict) -> None:
    rows = table_rows(r)
    width = max((len(a) for a, _ in rows), default=0)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if cost := r.get("cost"):
        print("\n  documents stored per appeal, by collection:")
        for name, count in cost.get("documents_by_collection", {}).items():
            size = cost.get("bytes_by_collection", {}).get(name, 0)
            print(f"    {count:5.2f}  {size:7,.0f} B  {name}")
    for service, summary in r.get("profile", {}).items():
        print(f"\n  {service} ({summary['samples']} samples), where the time goes:")
        for name, share in summary.get("inclusive_ours", [])[:5]:
            print(f"    {share * 100:5.1f} %  {name}")
        for name, share in summary.get("self", [])[:3]:
            print(f"    {share * 100:5.1f} %  self: {name}")
    if shares := r.get("store_profile", {}).get("cpu_share_by_command"):
        print(
            "\n  ferretdb, share of its CPU by command: "
            + ", ".join(f"{name} {share * 100:.0f} %" for name, share in shares.items())
        )
    print(f"\n  written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
