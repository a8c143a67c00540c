"""The Temporal comparison's pure parts (bench/temporal.py, deploy/local/temporal.sh): sizes,
result assembly, the Tyndau ÷ Temporal ratios, the table rows and the server's config
rendering. No server is needed."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.temporal import (
    LOAD,
    SERVER,
    STORE,
    WORKER,
    TemporalSizes,
    armed_sample,
    comparison,
    comparison_rows,
    latency_result,
    ratio,
    seconds_until,
    temporal_figures,
    throughput_result,
    timer_result,
    tyndau_figures,
    with_comparison,
)

REPO = Path(__file__).resolve().parents[2]
TEMPORAL_SH = REPO / "deploy" / "local" / "temporal.sh"

# A results dict shaped as bench/run.py writes it (the figures the comparison reads).
TYNDAU_RESULTS = {
    "throughput": {"result": {"appeals_per_s": 150.0, "completed": 3000}},
    "pipeline": {
        "cpu_ms_per_appeal": {
            "ferretdb": 4.8,
            "kafka": 1.9,
            "notify": 1.5,
            "intake": 1.3,
            "sla": 0.9,
            "routing": 0.9,
            "bench (load + watch)": 0.4,
            "total": 11.7,
        }
    },
    "latency": {
        "rate_per_s": 50.0,
        "to_routed": {"p99_ms": 280.0},
        "to_notified": {"p99_ms": 510.0},
    },
    "latency_by_rate": {
        "50": {
            "rate_per_s": 50.0,
            "to_routed": {"p99_ms": 280.0},
            "to_notified": {"p99_ms": 510.0},
        },
        "100": {
            "rate_per_s": 100.0,
            "to_routed": {"p99_ms": 900.0},
            "to_notified": {"p99_ms": 1e4},
        },
    },
    "timers": {
        "open_timers": 1_000_000,
        "target_rate_per_s": 1000.0,
        "lag": {"p50_ms": 200.0, "p99_ms": 600.0},
        "firing_rate_per_s": 1000.0,
        "rss_mb_max": 120.0,
    },
}

TEMPORAL_RESULT = {
    "sizes": {"rate": 50.0},
    "throughput": {"appeals_per_s": 75.0, "completed": 2000, "appeals": 2000},
    "cpu_ms_per_appeal": {SERVER: 6.0, WORKER: 5.0, STORE: 2.4, LOAD: 0.6, "total": 14.0},
    "latency": {
        "rate_per_s": 50.0,
        "above_sustained_rate": True,
        "to_routed": {"p50_ms": 40.0, "p95_ms": 60.0, "p99_ms": 70.0},
        "to_notified": {"p50_ms": 80.0, "p95_ms": 100.0, "p99_ms": 102.0},
    },
    "timers": {
        "open_timers": 10_000,
        "window_timers": 5000,
        "target_rate_per_s": 1000.0,
        "fired": 5000,
        "firing_rate_per_s": 500.0,
        "lag": {"p50_ms": 400.0, "p99_ms": 3000.0},
        "rss_mb_max_total": 480.0,
    },
}


def test_ratio_is_tyndau_over_temporal_and_none_when_a_figure_is_missing() -> None:
    assert ratio(150.0, 75.0) == 2.0
    assert ratio(None, 75.0) is None
    assert ratio(150.0, None) is None
    assert ratio(150.0, 0.0) is None
    assert ratio(float("nan"), 3.0) is None


def test_tyndau_figures_come_from_the_same_results_dict() -> None:
    figures = tyndau_figures(TYNDAU_RESULTS, 50.0)
    assert figures["appeals_per_s"] == 150.0
    assert figures["cpu_ms_per_appeal"]["total"] == 11.7
    assert figures["to_notified_p99_ms"] == 510.0  # the 50/s rate, not the 100/s one
    assert figures["timer_lag_p99_ms"] == 600.0
    assert figures["timer_rss_mb"] == 120.0


def test_tyndau_figures_of_a_run_at_one_rate_or_without_stages() -> None:
    one_rate = {k: v for k, v in TYNDAU_RESULTS.items() if k != "latency_by_rate"}
    assert tyndau_figures(one_rate, 50.0)["to_routed_p99_ms"] == 280.0
    assert tyndau_figures(one_rate, 200.0)["to_routed_p99_ms"] is None
    # Without --profile or with stages that failed: None, never a KeyError.
    assert tyndau_figures({}, 50.0) == {
        "appeals_per_s": None,
        "cpu_ms_per_appeal": {},
        "to_routed_p99_ms": None,
        "to_notified_p99_ms": None,
        "open_timers": None,
        "timer_lag_p50_ms": None,
        "timer_lag_p99_ms": None,
        "firing_rate_per_s": None,
        "timer_window_rate_per_s": None,
        "timer_rss_mb": None,
    }


def test_comparison_gives_every_ratio() -> None:
    ratios = comparison(tyndau_figures(TYNDAU_RESULTS, 50.0), temporal_figures(TEMPORAL_RESULT))
    assert ratios["appeals_per_s"] == pytest.approx(2.0)
    assert ratios["cpu_ms_per_appeal_total"] == pytest.approx(11.7 / 14.0)
    assert ratios["cpu_ms_per_appeal_store"] == pytest.approx(4.8 / 2.4)
    # Kafka and the four services against the server and the worker.
    assert ratios["cpu_ms_per_appeal_backbone"] == pytest.approx(6.5 / 11.0)
    assert ratios["to_routed_p99"] == pytest.approx(4.0)
    assert ratios["to_notified_p99"] == pytest.approx(5.0)
    assert ratios["timer_lag_p50"] == pytest.approx(0.5)
    assert ratios["timer_lag_p99"] == pytest.approx(0.2)
    assert ratios["firing_rate"] == pytest.approx(2.0)
    assert ratios["timer_rss"] == pytest.approx(0.25)


def test_with_comparison_keeps_the_stage_and_adds_tyndau_and_ratios() -> None:
    assembled = with_comparison(TEMPORAL_RESULT, TYNDAU_RESULTS)
    assert assembled["throughput"] == TEMPORAL_RESULT["throughput"]
    assert assembled["tyndau"]["appeals_per_s"] == 150.0
    assert assembled["ratios"]["appeals_per_s"] == pytest.approx(2.0)
    assert "Tyndau ÷ Temporal" in assembled["ratios_are"]
    # The Tyndau stages failed: the Temporal figures are kept, the ratios are None.
    alone = with_comparison(TEMPORAL_RESULT, {})
    assert alone["throughput"] == TEMPORAL_RESULT["throughput"]
    assert set(alone["ratios"].values()) == {None}


def test_table_rows_name_each_figure_and_its_ratio() -> None:
    rows = dict(comparison_rows({"temporal": with_comparison(TEMPORAL_RESULT, TYNDAU_RESULTS)}))
    assert rows["Temporal throughput"].startswith("75.0 appeals/s (2000/2000)")
    assert "Tyndau/Temporal 2.00" in rows["Temporal throughput"]
    assert "14.00 total" in rows["Temporal CPU ms per appeal"]
    latency = rows["Temporal latency @50/s → notified p50/p95/p99"]
    assert "80/100/102 ms" in latency and "a backlog's latency" in latency
    timers = rows["Temporal timers: 10,000 asleep, window at 1000/s"]
    assert "fired 5,000/5,000" in timers and "480 MB" in timers
    assert "Tyndau's window at 1000/s" in timers
    assert comparison_rows({}) == []
    # A stage without ratios (Tyndau's stages did not run) still prints.
    rows = dict(comparison_rows({"temporal": TEMPORAL_RESULT}))
    assert "no ratio" in rows["Temporal throughput"]


def test_throughput_from_the_first_start_to_the_last_notification() -> None:
    result = throughput_result(100.0, 4, {"a": 101.0, "b": 102.0, "c": 104.0, "d": 102.5})
    assert result["appeals_per_s"] == 1.0
    assert result["all_completed"] is True
    missing = throughput_result(100.0, 4, {"a": 102.0})
    assert missing["completed"] == 1 and missing["all_completed"] is False
    assert throughput_result(100.0, 4, {})["appeals_per_s"] == 0.0


def test_latency_spans_start_to_each_step() -> None:
    sent = {"a": 10.0, "b": 11.0}
    reached = {"routed": {"a": 10.05, "b": 11.1}, "notified": {"a": 10.2}}
    result = latency_result(50.0, 1.0, sent, reached)
    assert result["sent"] == 2
    assert result["to_routed"]["count"] == 2
    assert result["to_routed"]["p99_ms"] == pytest.approx(100.0)
    assert result["to_notified"] == {
        "count": 1,
        **{k: pytest.approx(200.0) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
    }


def test_timer_result_lag_rate_and_memory() -> None:
    due = {f"w{i}": 100.0 + i / 10 for i in range(11)}
    fired = {a: t + 0.05 for a, t in due.items()}
    del fired["w10"]
    rss = {SERVER: {"max": 300.0, "last": 290.0}, WORKER: {"max": 150.0, "last": 140.0}}
    result = timer_result(1000, 10.0, due, fired, rss, seed_s=4.0)
    assert result["fired"] == 10 and result["window_timers"] == 11
    assert result["lag"]["p99_ms"] == pytest.approx(50.0)
    assert result["firing_rate_per_s"] == pytest.approx(10 / 0.9)
    assert result["rss_mb_max_total"] == 450.0
    assert result["seed_workflows_per_s"] == 250.0


def test_sizes_quick_full_and_capped() -> None:
    quick = TemporalSizes.for_run(quick=True)
    assert (quick.appeals, quick.rate, quick.seconds, quick.timers) == (1000, 50.0, 15.0, 10_000)
    assert quick.seed_budget_s == 120.0
    full = TemporalSizes.for_run(quick=False, appeals=100_000)
    assert (full.appeals, full.seconds, full.timers) == (5_000, 60.0, 100_000)
    assert (full.seed_budget_s, full.window_rate, full.window_seconds) == (600.0, 50.0, 10.0)
    assert TemporalSizes.for_run(quick=False, appeals=300, rate=100).appeals == 300
    assert TemporalSizes.for_run(quick=True, timers=0).timers == 0  # --skip-timers


def test_armed_sample_spreads_and_ends_with_the_last_started() -> None:
    ids = [f"timer-{n:07d}" for n in range(1000)]
    sample = armed_sample(ids, size=10)
    assert ids[0] in sample and ids[-1] in sample
    assert set(ids[-10:]) <= set(sample)
    assert len(sample) <= 20
    assert armed_sample([]) == []
    assert armed_sample(["a"]) == ["a"]


def test_the_timer_runs_from_the_workflows_now_to_the_deadline() -> None:
    now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert seconds_until((now + timedelta(days=15)).isoformat(), now) == 15 * 86400
    assert seconds_until((now - timedelta(seconds=3)).isoformat(), now) == 0.0


# The parts of go.temporal.io/server v1.31.2's config/development-sqlite-file.yaml the
# rendering changes, as the module has them.
MODULE_CONFIG = """log:
  stdout: true
  level: info

persistence:
  defaultStore: sqlite-default
  datastores:
    sqlite-default:
      sql:
        pluginName: "sqlite"
        databaseName: "default"
        connectAttributes:
          cache: "private"
          setup: true
          journal_mode: wal
          synchronous: 2
global:
  pprof:
    port: 7936
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:8000"

services:
  frontend:
    rpc:
      grpcPort: 7233
      membershipPort: 6933

clusterMetadata:
  clusterInformation:
    active:
      rpcAddress: "localhost:7233"

dynamicConfigClient:
  filepath: "config/dynamicconfig/development-sql.yaml"
  pollInterval: "10s"
"""


def render(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "module.yaml").write_text(source)
    out = tmp_path / "config" / "server.yaml"
    out.parent.mkdir(exist_ok=True)
    return subprocess.run(
        [str(TEMPORAL_SH), "config", str(tmp_path / "module.yaml"), str(out)],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TYNDAU_STATE_DIR": str(tmp_path / "state"),
            **env,
        },
        capture_output=True,
        text=True,
    )


def test_config_rendering_sets_paths_ports_and_sync(tmp_path: Path) -> None:
    done = render(tmp_path, MODULE_CONFIG, TEMPORAL_PORT="17233")
    assert done.returncode == 0, done.stderr
    config = (tmp_path / "config" / "server.yaml").read_text()
    assert f'databaseName: "{tmp_path}/state/temporal/data/temporal.db"' in config
    assert "synchronous: 1" in config  # NORMAL, as the local FerretDB
    assert "grpcPort: 17233" in config
    assert 'rpcAddress: "127.0.0.1:17233"' in config
    assert "port: 0" in config  # no pprof
    assert "metrics:" not in config and "listenAddress" not in config
    assert f'filepath: "{tmp_path}/config/dynamicconfig/development-sql.yaml"' in config
    assert "level: warn" in config
    assert "membershipPort: 6933" in config  # the rest as the module has it


def test_config_rendering_keeps_prometheus_on_request(tmp_path: Path) -> None:
    done = render(tmp_path, MODULE_CONFIG, TEMPORAL_METRICS_PORT="19464")
    assert done.returncode == 0, done.stderr
    assert 'listenAddress: "127.0.0.1:19464"' in (tmp_path / "config" / "server.yaml").read_text()


def test_config_rendering_fails_when_the_modules_file_changed(tmp_path: Path) -> None:
    done = render(tmp_path, MODULE_CONFIG.replace('databaseName: "default"', "databaseName: x"))
    assert done.returncode != 0
    assert "could not set" in done.stderr
    assert not (tmp_path / "config" / "server.yaml").exists()
