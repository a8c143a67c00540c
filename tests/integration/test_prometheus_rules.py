"""The Prometheus configuration is valid and every alert and KPI rule passes its promtool unit
tests (deploy/prometheus/tests). promtool comes from Debian's `prometheus` package, installed
by `make test` (deploy/local/tools.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: run `make test` (deploy/local/tools.sh installs it)")
    return subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def test_the_rule_files_are_valid() -> None:
    result = promtool(
        "check", "rules", *sorted(str(p) for p in (PROMETHEUS / "rules").glob("*.yml"))
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml\n  SUCCESS: 9 rules found" in result.stdout
    assert "kpi.yml\n  SUCCESS: 12 rules found" in result.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_the_scrape_configurations_are_valid(config: str) -> None:
    result = promtool("check", "config", "--syntax-only", config)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("suite", ["alerts_test.yml", "kpi_test.yml"])
def test_promtool_unit_tests_pass(suite: str) -> None:
    result = promtool("test", "rules", f"tests/{suite}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
