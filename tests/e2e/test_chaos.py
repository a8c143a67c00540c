"""Kill anything, lose nothing: the short chaos run (chaos/, `make chaos CHAOS_ARGS=--quick`)
on its own three-broker cluster and store — every fault kind once (SIGKILL and SIGTERM of each
service, two services at once, the store, the broker leading the busiest partitions) under
about a thousand 1414 calls at 8/s. Fails on any loss, duplicate, dead letter or lag.
Recovery times and latency are reported by `make chaos`, not asserted here (this machine's
speed varies)."""

from __future__ import annotations

from pathlib import Path

from chaos.faults import plan
from chaos.run import ChaosOptions, chaos_run, table


async def test_a_short_chaos_run_loses_doubles_and_dead_letters_nothing(tmp_path: Path) -> None:
    result = await chaos_run(ChaosOptions.quick(), tmp_path / "services")
    print(table(result))  # shown by pytest when the test fails

    assert len(result["faults"]) == len(plan())
    verdict = result["verdict"]
    assert verdict["calls"] >= 200
    assert result["unacknowledged_calls"] == 0
    assert result["problems"] == [], table(result)
    assert verdict["registered"] == verdict["calls"]
    assert result["lag_at_end"] == {"intake": 0, "routing": 0, "sla": 0, "notify": 0}
