"""The benchmark's own arithmetic and traffic: a wrong percentile or an invalid appeal would
make every figure it reports wrong without failing anything."""

from __future__ import annotations

import os
import random

from bench.limits import KafkaLimit, StoreLimit
from bench.pipeline import call_1414, citizen_iin, percentiles
from bench.profile import _HANDLER, cpu_seconds, summarise
from bench.run import pipeline_result
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
