"""The benchmark's own arithmetic and traffic: a wrong percentile or an invalid appeal would
make every figure it reports wrong without failing anything."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import bson

from bench.limits import KafkaLimit, StoreLimit
from bench.pipeline import call_1414, citizen_iin, percentiles
from bench.profile import _HANDLER, LOAD_PROCESS, cpu_ms_per_appeal, cpu_seconds, summarise
from bench.run import (
    Stages,
    commands_per_appeal,
    cost_per_appeal,
    first_rate_over,
    mean_bson_size,
    median_round,
    message_bytes,
    pipeline_result,
    table_rows,
)
from contracts import Call1414Appeal
from services.intake.validation import iin_problem


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    samples = [i / 1000 for i in range(100, 0, -1)]  # 1..100 ms, unordered
    assert percentiles(samples) == {"p50_ms": 50, "p95_ms": 95, "p99_ms": 99, "max_ms": 100}
    assert percentiles([0.25]) == {"p50_ms": 250, "p95_ms": 250, "p99_ms": 250, "max_ms": 250}
    assert percentiles([]) == {}


def test_bench_citizens_have_valid_and_varied_iins() -> None:
    rng = random.Random(7)
    iins = [citizen_iin(rng) for _ in range(500)]
    assert [iin for iin in iins if iin_problem(iin) is not None] == []
    assert len(set(iins)) > 490


def test_bench_calls_are_valid_1414_appeals_from_different_callers() -> None:
    rng = random.Random(11)
    calls = [call_1414(f"1414-bench-{i}", rng) for i in range(50)]
    for call in calls:
        Call1414Appeal.model_validate(call)
    assert len({call["caller"]["iin"] for call in calls}) == 50
    assert len({call["caller"]["phone"] for call in calls}) == 50
    assert {call["lang"] for call in calls} == {"kk", "ru"}


def test_cpu_seconds_grows_while_this_process_works() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert cpu_seconds(os.getpid()) > before


def test_a_profile_summary_gives_self_and_inclusive_shares_of_our_code() -> None:
    root = "/work/.venv/lib/python3.11/site-packages"
    collapsed = "\n".join(
        [
            "<module> (/repo/services/intake/__main__.py:4);"
            "serve (/repo/services/common/serve.py:30);"
            "handle (/repo/services/intake/service.py:120);"
            f"insert_many ({root}/pymongo/collection.py:900) 6",
            "run (asyncio/base_events.py:600);handle (/repo/services/intake/service.py:131);"
            "validate (/repo/services/intake/validation.py:40) 3",
            "run (/usr/lib/python3.11/asyncio/base_events.py:600) 1",
            "garbage line without a count",
        ]
    )
    summary = summarise(collapsed)
    assert summary["samples"] == 10
    assert summary["self"][0] == ["insert_many (pymongo/collection.py)", 0.6]
    inclusive = dict(summary["inclusive_ours"])
    assert inclusive["handle (intake/service.py)"] == 0.9  # one entry whichever line ran
    assert inclusive["validate (intake/validation.py)"] == 0.3
    assert set(inclusive) == {"handle (intake/service.py)", "validate (intake/validation.py)"}
    assert ["run (asyncio/base_events.py)", 0.1] in summary["self"]
    assert summarise("")["samples"] == 0


def test_the_store_profile_reads_command_handlers_from_pprof_rows() -> None:
    rows = {
        "         0     0%     0%      4.11s 48.41%  github.com/FerretDB/FerretDB/internal/"
        "handler.(*Handler).MsgInsert": ("Insert", "48.41"),
        "     0.01s  0.12% 23.20%      0.50s  5.89%  github.com/FerretDB/FerretDB/internal/"
        "handler.(*Handler).MsgFind": ("Find", "5.89"),
    }
    for row, (command, cum) in rows.items():
        match = _HANDLER.search(row)
        assert match is not None and (match["command"], match["cum"]) == (command, cum)
    # Callees of a handler are not handlers.
    assert not _HANDLER.search(
        "  0  0%  0%  2.11s 24.85%  github.com/FerretDB/FerretDB/internal/"
        "handler.(*Handler).updateDocument"
    )


def test_the_pipeline_result_is_assembled_from_the_limits_and_the_stages() -> None:
    # Was: a `with … as store` of the profiling stage shadowed the store limits and the run
    # crashed here after every stage, writing nothing.
    kafka = KafkaLimit(1000, 1200, 12_000.0, 12_000.0, 6_000.0)
    store = StoreLimit(1000, 800.0, 15_000.0, 300.0, 500.0)
    cost = {"messages_per_appeal": 6.0, "documents_per_appeal": 15.0}

    result = pipeline_result(
        kafka, store, {"appeals_per_s": 250.0}, cost, {"p99_ms": 240}, {"intake": 80.0}, {}
    )

    assert result["bound_appeals_per_s"] == 1000.0  # min(6,000 / 6, 15,000 / 15)
    assert result["ratio_to_bound"] == 0.25
    assert result["latency"] == {"p99_ms": 240} and result["rss_mb"] == {"intake": 80.0}


def test_cpu_per_appeal_is_each_process_cpu_over_the_completed_appeals() -> None:
    cpu = {"cpu_seconds": {"intake": 1.0, "kafka": 2.5, LOAD_PROCESS: 0.5}}
    per = cpu_ms_per_appeal(cpu, 500)
    assert per == {"kafka": 5.0, "intake": 2.0, LOAD_PROCESS: 1.0, "total": 8.0}
    assert list(per)[:3] == ["kafka", "intake", LOAD_PROCESS]  # the costliest first
    assert cpu_ms_per_appeal(cpu, 0) == {} and cpu_ms_per_appeal({}, 10) == {}


def test_the_cost_of_an_appeal_is_the_runs_counts_over_its_appeals() -> None:
    cost = cost_per_appeal(
        Counter({"appeals.registered.v1": 100, "channel.1414.appeals.v1": 100}),
        Counter({"appeals.registered.v1": 150_000, "channel.1414.appeals.v1": 50_000}),
        Counter({"intake.appeals": 100, "routing.decisions": 300}),
        {"intake.appeals": 80_000.0, "routing.decisions": 120_000.0},
        100,
    )
    assert cost["messages_per_appeal"] == 2 and cost["bytes_produced_per_appeal"] == 2000
    assert cost["documents_per_appeal"] == 4 and cost["bytes_stored_per_appeal"] == 2000
    assert list(cost["documents_by_collection"]) == ["routing.decisions", "intake.appeals"]
    assert cost["bytes_by_collection"] == {"routing.decisions": 1200.0, "intake.appeals": 800.0}


def test_a_message_counts_its_key_value_and_headers() -> None:
    record = SimpleNamespace(key=b"abc", value=b"0123456789", headers=[("h", b"xy")])
    assert message_bytes(record) == 3 + 10 + 1 + 2
    assert message_bytes(SimpleNamespace(key=None, value=b"v", headers=None)) == 1
    assert mean_bson_size([]) == 0.0
    assert mean_bson_size([{"_id": "a"}, {"_id": "a"}]) == len(bson.encode({"_id": "a"}))


def test_a_failed_stage_is_recorded_and_the_stages_before_and_after_are_kept(
    tmp_path: Path,
) -> None:
    out = tmp_path / "results.json"
    stages = Stages({"commit": "abc"}, out)
    assert stages.run("limits", "limits", lambda: {"kafka": 1}) == {"kafka": 1}
    assert json.loads(out.read_text())["limits"] == {"kafka": 1}  # saved at once

    def broken() -> dict:
        raise RuntimeError("the store went away")

    assert stages.run("cost", "cost", broken) is None
    stages.run("gateway", "gateway", lambda: {"requests_per_s": 5})
    saved = json.loads(out.read_text())
    assert saved["limits"] == {"kafka": 1} and saved["gateway"] == {"requests_per_s": 5}
    assert "cost" not in saved and "the store went away" in saved["errors"]["cost"]


def test_the_table_shows_what_was_measured_and_names_what_failed() -> None:
    partial = {
        "limits": {
            "kafka": {"produce_consume_per_s": 12_000.0},
            "store": {
                "insert_one_per_s": 800.0,
                "insert_many_per_s": 15_000.0,
                "indexed_update_per_s": 300.0,
            },
        },
        "errors": {"throughput": "Traceback…\nTimeoutError: not every appeal completed"},
    }
    rows = dict(table_rows(partial))
    assert rows["raw store insert_many"] == "15,000 docs/s"
    assert rows["FAILED: throughput"] == "TimeoutError: not every appeal completed"
    assert not any(name.startswith("throughput") for name in rows)


def _latency(rate: float, p99: float, sent: int = 100, routed: int = 100) -> dict:
    figures = {"count": routed, "p50_ms": p99 / 2, "p95_ms": p99 * 0.9, "p99_ms": p99}
    return {"rate_per_s": rate, "sent": sent, "to_routed": figures, "to_notified": figures}


def test_the_first_rate_whose_routed_p99_passes_the_limit_is_named() -> None:
    by_rate = {"200": _latency(200, 900), "50": _latency(50, 120), "100": _latency(100, 260)}
    assert first_rate_over(by_rate, 250) == 100.0  # by rate, not by the order measured
    assert first_rate_over({"50": _latency(50, 120)}, 250) is None
    # Appeals that never completed at a rate count against it, whatever the p99 of the rest.
    assert first_rate_over({"50": _latency(50, 100, sent=100, routed=90)}, 250) == 50.0


def test_the_table_has_a_row_pair_per_latency_rate_and_the_crossing() -> None:
    results = {
        "latency": _latency(50, 120),
        "latency_by_rate": {"50": _latency(50, 120), "100": _latency(100, 260)},
        "routed_p99_passes_250ms_at": 100.0,
    }
    rows = dict(table_rows(results))
    assert rows["latency @50/s → routed p50/p95/p99"].startswith("60/108/120 ms (100/100")
    assert "latency @100/s → notified" in rows
    assert rows["routed p99 passes 250 ms at"] == "100/s"


def test_store_commands_per_appeal_are_the_stages_difference_by_data_command() -> None:
    before = {"insert": 10, "update": 5, "ismaster": 100, "find": 2}
    after = {"insert": 310, "update": 205, "ismaster": 900, "find": 2, "delete": 100}
    per = commands_per_appeal(before, after, 100)
    assert per == {"insert": 3.0, "update": 2.0, "delete": 1.0, "total": 6.0}
    assert commands_per_appeal(before, after, 0) == {}


def _round(rate: float, ferretdb: float, kafka: float) -> dict:
    per = {"ferretdb": ferretdb, "kafka": kafka, "total": ferretdb + kafka}
    return {"result": {"appeals_per_s": rate}, "cpu": {}, "cpu_ms_per_appeal": per}


def test_repeated_rounds_report_the_median_round_and_the_median_cpu_per_process() -> None:
    rounds = [_round(100, 5.0, 2.0), _round(150, 4.0, 1.0), _round(120, 4.5, 3.0)]
    chosen = median_round(rounds)
    assert chosen["result"]["appeals_per_s"] == 120  # the median round stands for the stage
    assert chosen["cpu_ms_per_appeal_median"] == {"ferretdb": 4.5, "kafka": 2.0, "total": 7.0}
    assert [r["cpu_ms_per_appeal_total"] for r in chosen["rounds"]] == [7.0, 5.0, 7.5]
    single = median_round([_round(100, 5.0, 2.0)])
    assert "rounds" not in single and single["result"]["appeals_per_s"] == 100


def test_the_workspace_bench_spreads_its_appeals_over_the_bodies_one_in_a_hundred_waiting() -> None:
    from bench.workspace import documents
    from services.workspace.views import view_from

    made = documents(300, ["astana-energy", "ministry-health"])
    views = [view_from(d) for d in made]
    waiting = [v for v in views if v.state()["status"] == "in_triage"]
    assert [v.appeal_id for v in waiting] == ["w-99", "w-199", "w-299"]
    assert all(d["in_triage"] == (v in waiting) for d, v in zip(made, views, strict=True))
    energy = [v for v in views if v.bodies == ("astana-energy",)]
    health = [v for v in views if v.bodies == ("ministry-health",)]
    assert (len(energy), len(health)) == (150, 147)  # the three waiting were odd: health's
    assert len({v.registration_number for v in views}) == 300
