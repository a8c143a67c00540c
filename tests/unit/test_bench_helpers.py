"""The benchmark's own arithmetic and traffic: a wrong percentile or an invalid appeal would
make every figure it reports wrong without failing anything."""

from __future__ import annotations

import random

from bench.pipeline import call_1414, citizen_iin, percentiles
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
