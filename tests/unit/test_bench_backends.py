"""The store-backends stage's arithmetic (bench/backends.py): the CPU of a process tree read
from /proc, the result assembled from each backend's figures, the faster chosen, and the
guarantees judged — a wrong sum or verdict would recommend the wrong default store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.backends import (
    BACKENDS,
    DUPLICATE_KEY,
    Store,
    assemble,
    children_of,
    choose_faster,
    guarantee_verdict,
    lookup_verdict,
    median_of,
    plan_summary,
    store_ms,
    table_rows,
    tree_cpu_seconds,
    unique_kept,
    uses_index,
    with_trees,
)
from bench.profile import TICKS


def fake_proc(root: Path, processes: dict[int, tuple[int, int, int, int, int]]) -> Path:
    """A /proc with one `stat` per pid: (ppid, utime, stime, cutime, cstime) in ticks; the
    command name holds a space and a ")" as a real one may."""
    for pid, (ppid, utime, stime, cutime, cstime) in processes.items():
        (root / str(pid)).mkdir(parents=True)
        fields = ["S", ppid, 0, 0, 0, 0, 0, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0]
        (root / str(pid) / "stat").write_text(
            f"{pid} (postgres: x) y) " + " ".join(str(f) for f in fields) + "\n"
        )
    (root / "self").mkdir()  # not a pid: ignored
    return root


def test_a_process_tree_sums_its_live_descendants_and_their_reaped_children(
    tmp_path: Path,
) -> None:
    proc = fake_proc(
        tmp_path,
        {
            1: (0, 500, 500, 0, 0),  # init: not in the tree
            100: (1, 10, 5, 30, 20),  # postmaster, with 50 ticks of exited backends
            101: (100, 40, 10, 0, 0),  # a backend
            102: (100, 7, 3, 0, 0),  # the checkpointer
            103: (102, 1, 1, 2, 0),  # a grandchild
            200: (1, 999, 999, 0, 0),  # another process
        },
    )
    assert sorted(children_of(proc)[100]) == [101, 102]
    expected = (10 + 5 + 30 + 20) + (40 + 10) + (7 + 3) + (1 + 1 + 2)
    assert tree_cpu_seconds(100, proc) == pytest.approx(expected / TICKS)
    assert tree_cpu_seconds(101, proc) == pytest.approx(50 / TICKS)
    assert tree_cpu_seconds(4242, proc) == 0.0  # gone: nothing


def test_a_backend_that_exits_between_two_readings_still_counts(tmp_path: Path) -> None:
    before = fake_proc(tmp_path / "a", {100: (1, 10, 0, 0, 0), 101: (100, 40, 0, 0, 0)})
    # 101 used 20 more ticks, exited and was reaped: its 60 ticks are now the postmaster's.
    after = fake_proc(tmp_path / "b", {100: (1, 12, 0, 60, 0)})
    assert tree_cpu_seconds(100, after) - tree_cpu_seconds(100, before) == pytest.approx(22 / TICKS)


def test_the_real_tree_of_this_process_is_at_least_its_own_cpu() -> None:
    assert tree_cpu_seconds(os.getpid()) > 0


def test_trees_join_the_cpu_share_as_processes_of_their_own() -> None:
    cpu = {
        "wall_seconds": 2.0,
        "cpu_seconds": {"ferretdb": 1.0, "intake": 0.5},
        "cores_busy": {"ferretdb": 0.5, "intake": 0.25},
        "cores_busy_total": 0.75,
        "cores": 2,
    }
    joined = with_trees(cpu, {"postgres": 1.5})
    assert joined["cpu_seconds"] == {"ferretdb": 1.0, "intake": 0.5, "postgres": 1.5}
    assert joined["cores_busy"]["postgres"] == 0.75
    assert joined["cores_busy_total"] == 1.5
    assert joined["cores"] == 2 and cpu["cpu_seconds"] == {"ferretdb": 1.0, "intake": 0.5}
    assert with_trees({}, {"postgres": 1.0}) == {}


def test_the_store_cpu_is_ferretdb_and_postgresql_together() -> None:
    per = {"ferretdb": 3.0, "postgres": 2.5, "kafka": 2.0, "total": 7.5}
    pg = Store("postgresql", "mongodb://x", pids={"ferretdb": 1}, trees={"postgres": 2})
    assert store_ms(per, pg) == 5.5
    assert store_ms(per, Store("sqlite", "mongodb://y", pids={"ferretdb": 3})) == 3.0
    assert store_ms({}, pg) is None


def pipeline(appeals_per_s: float, total_ms: float, completed: bool = True) -> dict:
    return {
        "throughput": {
            "appeals": 1000,
            "completed": 1000 if completed else 900,
            "all_completed": completed,
            "appeals_per_s": appeals_per_s,
        },
        "cpu_ms_per_appeal": {"ferretdb": total_ms / 2, "kafka": total_ms / 2, "total": total_ms},
        "store_cpu_ms_per_appeal": total_ms / 2,
    }


def kept_guarantees(flat: bool = True) -> dict:
    bulk = {"errors": [[0, DUPLICATE_KEY], [2, DUPLICATE_KEY]], "inserted": ["d", "f"]}
    return {
        "unique": {
            "duplicate_insert": "DuplicateKeyError",
            "duplicate_update": "OperationFailure code 1",
            "duplicate_id": "DuplicateKeyError",
            "documents_unchanged": True,
            "unordered_insert_many": bulk,
        },
        "ranges": {"prefix_ranges_right": True, "wrong_prefixes": [], "gt_lt_range_right": True},
        "lookups": {"id_lookup_flat": flat, "id_range_flat": flat},
    }


def test_the_faster_is_the_higher_appeals_per_s_of_the_runs_that_completed() -> None:
    assert (
        choose_faster(
            {
                "sqlite": {"pipeline": pipeline(150, 10)},
                "postgresql": {"pipeline": pipeline(120, 9)},
            }
        )
        == "sqlite"
    )
    assert (
        choose_faster(
            {
                "sqlite": {"pipeline": pipeline(150, 10, completed=False)},
                "postgresql": {"pipeline": pipeline(120, 9)},
            }
        )
        == "postgresql"
    )
    assert choose_faster({"sqlite": {}, "postgresql": {"pipeline": pipeline(1, 1, False)}}) is None


def test_the_default_switches_only_to_a_faster_backend_that_keeps_every_guarantee() -> None:
    faster_but_scans = assemble(
        {
            "sqlite": {"pipeline": pipeline(150, 10), "guarantees": kept_guarantees()},
            "postgresql": {"pipeline": pipeline(180, 9), "guarantees": kept_guarantees(flat=False)},
        }
    )
    assert faster_but_scans["faster"] == "postgresql"
    assert faster_but_scans["guarantees"]["postgresql"]["id_lookup_flat"] is False
    assert faster_but_scans["switch_default_to"] is None
    assert faster_but_scans["appeals_per_s"] == {"sqlite": 150, "postgresql": 180}
    assert faster_but_scans["cpu_ms_per_appeal_total"] == {"sqlite": 10, "postgresql": 9}

    faster_and_keeps = assemble(
        {
            "sqlite": {"pipeline": pipeline(150, 10), "guarantees": kept_guarantees()},
            "postgresql": {"pipeline": pipeline(180, 9), "guarantees": kept_guarantees()},
        }
    )
    assert faster_and_keeps["switch_default_to"] == "postgresql"

    default_faster = assemble(
        {
            "sqlite": {"pipeline": pipeline(200, 10), "guarantees": kept_guarantees()},
            "postgresql": {"pipeline": pipeline(180, 9), "guarantees": kept_guarantees()},
        }
    )
    assert default_faster["faster"] == "sqlite" and default_faster["switch_default_to"] is None
    # Guarantees not checked (the stage failed before): no switch.
    unchecked = assemble(
        {"sqlite": {"pipeline": pipeline(1, 1)}, "postgresql": {"pipeline": pipeline(2, 1)}}
    )
    assert unchecked["switch_default_to"] is None


def test_a_unique_index_is_kept_only_if_every_duplicate_is_refused_as_the_services_expect() -> None:
    unique = kept_guarantees()["unique"]
    assert unique_kept(unique)
    assert not unique_kept(unique | {"duplicate_insert": "OperationFailure code 1"})
    assert not unique_kept(unique | {"duplicate_update": "accepted"})
    assert not unique_kept(unique | {"documents_unchanged": False})
    assert not unique_kept(
        unique | {"unordered_insert_many": {"errors": [[0, DUPLICATE_KEY]], "inserted": ["d"]}}
    )
    verdict = guarantee_verdict(kept_guarantees())
    assert verdict == {
        "unique_index": True,
        "id_range_reads_right": True,
        "id_lookup_flat": True,
        "id_range_flat": True,
    }
    wrong_ranges = kept_guarantees()
    wrong_ranges["ranges"]["gt_lt_range_right"] = False
    assert guarantee_verdict(wrong_ranges)["id_range_reads_right"] is False


def test_a_lookup_is_flat_when_the_index_serves_it_and_it_costs_about_the_same() -> None:
    def size(lookup: float, update: float, rng: float, plan: str) -> dict:
        return {
            "lookup_ms": lookup,
            "update_by_id_ms": update,
            "range_read_ms": rng,
            "plan": {"id_lookup": plan, "id_range": plan},
        }

    flat = lookup_verdict(
        {
            "20000": size(1.0, 1.5, 1.6, "SEARCH t USING INDEX t__id_ (<expr>=?)"),
            "1000": size(0.8, 0.8, 1.4, "SEARCH t USING INDEX t__id_ (<expr>=?)"),
        }
    )
    assert flat["id_lookup_flat"] and flat["id_range_flat"] and flat["id_lookup_uses_index"]
    assert flat["growth"]["lookup_ms"] == pytest.approx(1.25)
    scans = lookup_verdict(
        {"1000": size(1.1, 1.7, 42, "Seq Scan"), "20000": size(9.3, 11.3, 920, "Seq Scan")}
    )
    assert not scans["id_lookup_flat"] and not scans["id_range_flat"]
    assert not scans["id_lookup_uses_index"]
    index = "SEARCH t USING INDEX t__id_ (<expr>=?)"
    # Timing noise (a busy shared machine) does not fail an indexed read; a real growth does,
    # and a scan is not flat even when its table is too small to show it.
    noisy = lookup_verdict(
        {"1000": size(1.0, 1.2, 1.4, index), "20000": size(2.9, 3.5, 3.0, index)}
    )
    assert noisy["id_lookup_flat"] and noisy["id_range_flat"]
    grows = lookup_verdict(
        {"1000": size(1.0, 1.0, 1.0, index), "20000": size(6.0, 1.0, 1.0, index)}
    )
    assert not grows["id_lookup_flat"] and grows["id_range_flat"]
    small_scan = lookup_verdict(
        {"1000": size(1, 1, 1, "Seq Scan"), "20000": size(1, 1, 1, "Seq Scan")}
    )
    assert not small_scan["id_lookup_flat"] and not small_scan["id_range_flat"]


def test_plans_of_both_backends_are_summarised_in_one_line() -> None:
    sqlite = {
        "queryPlanner": {
            "Plan": ["id=3 parent=0 notused=0 detail=SEARCH t USING INDEX t__id_ (<expr>=?)"]
        }
    }
    assert plan_summary(sqlite) == "SEARCH t USING INDEX t__id_ (<expr>=?)"
    postgres = {
        "queryPlanner": {
            "Plan": {
                "Node Type": "Limit",
                "Plans": [{"Node Type": "Index Scan", "Index Name": "t__id__idx"}],
            }
        }
    }
    assert plan_summary(postgres) == "Limit > Index Scan using t__id__idx"
    assert uses_index(plan_summary(postgres)) and uses_index(plan_summary(sqlite))
    assert not uses_index(plan_summary({"queryPlanner": {"Plan": {"Node Type": "Seq Scan"}}}))
    assert plan_summary({}) == ""


def test_repeated_rounds_give_the_median_round_and_each_process_median() -> None:
    rounds = [pipeline(100, 12), pipeline(150, 10), pipeline(130, 8)]
    chosen = median_of(rounds)
    assert chosen["throughput"]["appeals_per_s"] == 130
    assert chosen["cpu_ms_per_appeal_median"]["total"] == 10
    assert [r["appeals_per_s"] for r in chosen["rounds"]] == [100, 150, 130]


def test_the_table_puts_both_backends_side_by_side() -> None:
    by_backend = {}
    for name, speed in zip(BACKENDS, (150.0, 60.0), strict=True):
        lookups = {
            "by_size": {
                "1000": {"lookup_ms": 0.8, "plan": {"id_lookup": "SEARCH"}},
                "20000": {
                    "lookup_ms": 1.0 if name == "sqlite" else 9.3,
                    "plan": {"id_lookup": "Seq Scan"},
                },
            },
            "id_lookup_flat": name == "sqlite",
            "id_range_flat": name == "sqlite",
        }
        checked = kept_guarantees() | {"lookups": lookups}
        by_backend[name] = {
            "pipeline": pipeline(speed, 10),
            "store_limit": {
                "insert_one_per_s": 800,
                "insert_many_per_s": 9000,
                "indexed_update_per_s": 700,
            },
            "guarantees": checked,
        }
    rows = dict(table_rows(assemble(by_backend)))
    assert (
        rows["store backends: appeals/s"] == "sqlite 150.0 (1000/1000); postgresql 60.0 (1000/1000)"
    )
    assert (
        "postgresql 10.00 total, store 5.00 (ferretdb 5.00)"
        in rows["store backends: CPU ms per appeal"]
    )
    assert "0.80 → 9.30 (Seq Scan)" in rows["store backends: _id lookup ms at 1,000 → 20,000 docs"]
    assert "postgresql unique_index yes" in rows["store backends: guarantees kept"]
    assert "id_lookup_flat NO" in rows["store backends: guarantees kept"]
    assert rows["store backends: faster / switch default to"] == "sqlite / no (stays sqlite)"
    assert table_rows({}) == []
