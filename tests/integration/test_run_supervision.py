"""`make run` supervises: a service that dies is restarted with a log line, and only Ctrl-C
stops the services (never the infrastructure it found running)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from bench.pipeline import SERVICES, free_port
from tests.conftest import Infra

REPO = Path(__file__).resolve().parents[2]


def _wait(predicate, seconds: float, what: str, output: Path) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {seconds} s:\n{output.read_text()}"
        time.sleep(0.2)


def _pid(state: Path, name: str) -> int | None:
    pidfile = state / "services" / f"{name}.pid"
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_service_is_restarted_and_ctrl_c_stops_only_the_services(
    infra: Infra, tmp_path: Path, run_prefix: str
) -> None:
    state = tmp_path / "state"
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URL": infra.mongodb_url,
        # Pid files and logs of this run apart; the credentials of the running broker shared.
        "TYNDAU_STATE_DIR": str(state),
        # Databases of their own: `make run`'s (e.g. the workspace's first admin, made only
        # where there is no user yet) are never this test's.
        "TYNDAU_DATABASE_PREFIX": f"{run_prefix}runsup-",
        "TYNDAU_SECRETS_DIR": os.environ.get("TYNDAU_SECRETS_DIR", str(REPO / ".run" / "secrets")),
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    output = tmp_path / "run.out"
    with output.open("w") as out:
        run = subprocess.Popen(
            [str(REPO / "deploy" / "local" / "run.sh")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: "Tyndau is running" in output.read_text(), 120, "started", output)
        first = _pid(state, "notify")
        assert first is not None

        os.kill(first, signal.SIGKILL)
        _wait(lambda: "restarting notify" in output.read_text(), 30, "restart", output)
        _wait(lambda: _ready(ports["notify"]), 60, "notify ready again", output)
        second = _pid(state, "notify")
        assert second is not None and second != first
        assert "notify exited after" in output.read_text()
        # The others were not touched, and the supervisor itself still runs.
        assert all(_ready(ports[name]) for name in SERVICES)
        assert run.poll() is None

        run.send_signal(signal.SIGINT)
        run.wait(timeout=90)
        assert all(_pid(state, name) is None for name in SERVICES)
        # The broker and store were running before: they still are.
        status = subprocess.run(
            [str(REPO / "deploy" / "local" / "infra.sh"), "status"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stdout + status.stderr
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(timeout=90)
