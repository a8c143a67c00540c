"""`make bench` — one run that measures, on the real broker and store of this machine:

1. the raw limits: aiokafka produce→consume for messages of the pipeline's size, and store
   inserts / indexed updates through PyMongo async; from these and the measured cost of one
   appeal (messages and writes), the bound for the pipeline;
2. throughput: N appeals into the channel topic as fast as possible, until every one is
   registered, routed, timed and notified; appeals/s and the ratio to the bound;
3. latency at a fixed rate: p50/p95/p99 from channel publish to routed and to notified;
4. timers: N open timers (1,000,000; --quick 100,000) seeded into the sla database, then a
   window in which 1,000/s fall due: firing rate, lag p50/p95/p99, sla resident memory
   (bench/timers.py);
5. the HTTP gateway: `POST /v1/appeals` requests/s and p50/p95/p99 on intake alone, loaded
   by a separate client process over 32 connections (bench/gateway.py).

Prints a table and writes bench/results.json. A benchmark reports; it never fails CI.

    python -m bench.run [--quick] [--appeals N] [--rate R --seconds S] [--timers N]
                        [--skip-timers] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
from contextlib import nullcontext
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from bench.gateway import gateway_load
from bench.limits import KafkaLimit, StoreLimit, kafka_limit, store_limit
from bench.pipeline import REPO, latency, proc_status_mb, services_as_processes, throughput
from bench.profile import CpuShare, infra_pids, profiles, sampled, store_sampled
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


async def appeal_cost(bootstrap: str, mongodb_url: str, prefix: str, appeals: int) -> dict:
    """Messages produced and documents written per appeal, counted after the throughput run."""
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **identity_for(ADMIN).aiokafka())
    await consumer.start()
    try:
        messages = sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
    finally:
        await consumer.stop()
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        documents = 0
        for name in await client.list_database_names():
            if name.startswith(prefix):
                db = client[name]
                for collection in await db.list_collection_names():
                    documents += await db[collection].count_documents({})
    finally:
        await client.close()
    return {"messages_per_appeal": messages / appeals, "documents_per_appeal": documents / appeals}


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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a couple of minutes")
    parser.add_argument("--appeals", type=int, default=None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--timers", type=int, default=None, help="open timers to seed")
    parser.add_argument("--skip-timers", action="store_true", help="skip the timer stage")
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
    started = datetime.now(UTC)
    # The code measured is the code at the start (a long run may outlast a commit).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()

    print("measuring raw limits…", flush=True)
    kafka = asyncio.run(kafka_limit(bootstrap, 20_000 if args.quick else 200_000, 1200))
    store = asyncio.run(store_limit(mongodb_url, 5_000 if args.quick else 50_000))

    results: dict = {"started_at": started.isoformat(), "machine": machine()}
    results["limits"] = {"kafka": asdict(kafka), "store": asdict(store)}
    with services_as_processes(bootstrap, mongodb_url, REPO / ".run" / "bench") as running:
        print(f"throughput: {appeals} appeals…", flush=True)
        services = {name: running.pid(name) for name in running.processes}
        cpu = CpuShare(services | infra_pids())
        profiles_dir = REPO / ".run" / "bench" / "profiles"
        with (
            sampled(services, profiles_dir) if args.profile else nullcontext({}) as samples,
            store_sampled(profiles_dir / "ferretdb.pprof", seconds=20)
            if args.profile
            else nullcontext({}) as store_profile,
        ):
            cpu.start()
            tp = asyncio.run(
                throughput(bootstrap, running.prefix, appeals, timeout=max(120, appeals / 20))
            )
            cpu.stop()
        if samples:
            results["profile"] = profiles(samples)
        if store_profile:
            results["store_profile"] = store_profile
        cost = asyncio.run(appeal_cost(bootstrap, mongodb_url, running.prefix, appeals))
        print(f"latency: {args.rate}/s for {seconds} s…", flush=True)
        lat = asyncio.run(latency(bootstrap, running.prefix, args.rate, seconds))
        memory = {name: proc_status_mb(running.pid(name)) for name in running.processes}
    if not args.skip_timers:
        timers = args.timers or (100_000 if args.quick else 1_000_000)
        print(f"timers: {timers:,} open, a window firing 1,000/s…", flush=True)
        results["timers"] = timer_scale(
            bootstrap, mongodb_url, timers, rate=1000, seconds=10 if args.quick else 20
        )
    print("gateway: POST /v1/appeals from a separate load process…", flush=True)
    results["gateway"] = gateway_load(
        bootstrap, mongodb_url, seconds=10 if args.quick else 30, warmup=2 if args.quick else 5
    )

    results["pipeline"] = pipeline_result(kafka, store, tp, cost, lat, memory, cpu.result)
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["commit"] = commit
    RESULTS.write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(r: dict) -> None:
    k, s, p = r["limits"]["kafka"], r["limits"]["store"], r["pipeline"]
    lat, gw = p["latency"], r["gateway"]
    rows = [
        ("raw Kafka produce→consume (1.2 kB)", f"{k['produce_consume_per_s']:,.0f} msg/s"),
        ("raw store insert_one", f"{s['insert_one_per_s']:,.0f} docs/s"),
        ("raw store insert_many", f"{s['insert_many_per_s']:,.0f} docs/s"),
        ("raw store update by _id", f"{s['indexed_update_per_s']:,.0f} docs/s"),
        (
            "cost of one appeal",
            f"{p['cost']['messages_per_appeal']:.1f} msgs, "
            f"{p['cost']['documents_per_appeal']:.1f} docs",
        ),
        ("bound for the pipeline", f"{p['bound_appeals_per_s']:,.0f} appeals/s"),
        (
            "throughput end-to-end",
            f"{p['throughput']['appeals_per_s']:,.1f} appeals/s "
            f"({p['throughput']['completed']}/{p['throughput']['appeals']})",
        ),
        ("ratio to bound", f"{(p['ratio_to_bound'] or 0) * 100:.1f} % (target ≥ 50 %, ≥ 1,000/s)"),
        (
            f"latency @{lat['rate_per_s']:.0f}/s → routed p50/p95/p99",
            "/".join(
                f"{lat['to_routed'].get(q, float('nan')):.0f}"
                for q in ("p50_ms", "p95_ms", "p99_ms")
            )
            + " ms (target p99 ≤ 250)",
        ),
        (
            "latency → notified p50/p95/p99",
            "/".join(
                f"{lat['to_notified'].get(q, float('nan')):.0f}"
                for q in ("p50_ms", "p95_ms", "p99_ms")
            )
            + " ms",
        ),
        (
            f"HTTP gateway POST /v1/appeals ({gw['connections']} conn.)",
            f"{gw['requests_per_s']:,.1f} req/s, {gw['non_2xx']} non-2xx, "
            f"intake {gw['rss_mb']['peak']:.0f} MB (no DESIGN §8 target)",
        ),
        (
            "gateway latency p50/p95/p99",
            "/".join(
                f"{gw['latency_all'].get(q, float('nan')):.0f}"
                for q in ("p50_ms", "p95_ms", "p99_ms")
            )
            + " ms",
        ),
        ("resident memory (MB)", ", ".join(f"{n} {m:.0f}" for n, m in p["rss_mb"].items())),
    ]
    if cpu := p.get("cpu_during_throughput"):
        rows.insert(
            rows.index(next(row for row in rows if row[0] == "ratio to bound")) + 1,
            (
                "cores busy during throughput",
                f"{cpu['cores_busy_total']:.2f} of {cpu['cores']}: "
                + ", ".join(
                    f"{name} {share:.2f}"
                    for name, share in sorted(cpu["cores_busy"].items(), key=lambda x: -x[1])
                ),
            ),
        )
    if t := r.get("timers"):
        rows[-1:-1] = [
            (
                f"timers: {t['open_timers']:,} open, window at {t['target_rate_per_s']:.0f}/s",
                f"fired {t['fired']:,}/{t['window_timers']:,} at "
                f"{t['firing_rate_per_s'] or 0:,.0f}/s (target 1,000/s)",
            ),
            (
                "firing lag p50/p99/max",
                "/".join(
                    f"{t['lag'].get(q, float('nan')):.0f}" for q in ("p50_ms", "p99_ms", "max_ms")
                )
                + " ms (target p99 ≤ 1,000)",
            ),
            ("sla resident memory, peak", f"{t['rss_mb_max']:.0f} MB (target < 300 MB)"),
        ]
    width = max(len(a) for a, _ in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
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
