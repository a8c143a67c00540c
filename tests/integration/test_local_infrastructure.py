"""The project's own scripts provide the infrastructure: starting again finds the running
servers, and a missing build tool is named in one clear line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from tests.conftest import Infra

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "deploy" / "local"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(INFRA / script), *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_starting_again_finds_the_running_servers_and_starts_no_second_one(infra: Infra) -> None:
    again = run("infra.sh", "start")
    assert again.returncode == 0, again.stderr
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URL"):
        # Configured servers are used as they are: the scripts start nothing.
        assert "starting no Kafka" in again.stderr and "starting no FerretDB" in again.stderr
        return
    before = run("infra.sh", "status")
    again = run("infra.sh", "start")
    after = run("infra.sh", "status")
    assert "already running" in again.stderr or "already listens" in again.stderr
    assert before.stdout == after.stdout  # same pids: nothing restarted


def test_the_local_kafka_broker_logs_to_its_known_file(infra: Infra) -> None:
    status = run("kafka.sh", "status")
    if "running (pid" not in status.stdout:
        # A broker this checkout did not start (configured, or another checkout's): its log
        # is not ours to read. "stopped" would mean the tests have no broker at all.
        assert "stopped" not in status.stdout, status.stdout
        return
    # log4j rolls server.log at 50 MB (a long-running broker creating many test topics):
    # the start line may sit in a rolled file.
    logs = sorted((REPO / ".run" / "kafka" / "logs").glob("server.log*"))
    assert any("Kafka Server started" in log.read_text(errors="replace") for log in logs)


def test_the_local_store_runs_with_the_documented_sqlite_synchronous_setting(
    infra: Infra,
) -> None:
    status = run("ferretdb.sh", "status")
    if "running (pid" not in status.stdout:
        # A store this checkout did not start: its settings are not ours to check.
        assert "stopped" not in status.stdout, status.stdout
        return
    pid = (REPO / ".run" / "ferretdb" / "ferretdb.pid").read_text().strip()
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    [url] = [a.decode() for a in arguments if a.startswith(b"--sqlite-url=")]
    expected = os.environ.get("FERRETDB_SQLITE_SYNCHRONOUS", "normal")
    assert url.endswith(f"?_pragma=synchronous({expected})"), url


def test_an_unknown_sqlite_synchronous_setting_is_refused_in_one_clear_line(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "TYNDAU_STATE_DIR": str(tmp_path / "state"),
        "FERRETDB_PORT": "1",  # nothing listens there, so the script goes on to start one
        "FERRETDB_SQLITE_SYNCHRONOUS": "off",
    }
    result = run("ferretdb.sh", "start", env=env)
    assert result.returncode != 0
    assert "FERRETDB_SQLITE_SYNCHRONOUS must be normal or full, not 'off'" in result.stderr


async def test_the_store_speaks_the_mongodb_wire_protocol_with_unique_indexes(
    infra: Infra, run_prefix: str
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url)
    try:
        collection = client[f"{run_prefix}probe"]["things"]
        await collection.create_index("natural_key", unique=True)
        await collection.insert_one({"natural_key": "a"})
        from pymongo.errors import DuplicateKeyError

        with pytest.raises(DuplicateKeyError):
            await collection.insert_one({"natural_key": "a"})
    finally:
        await client.close()


def test_a_missing_go_toolchain_is_named_in_one_clear_line(tmp_path: Path) -> None:
    # A PATH holding only what the script needs before it looks for go.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "TYNDAU_CACHE_DIR": str(tmp_path / "cache"),
        "TYNDAU_STATE_DIR": str(tmp_path / "state"),
    }
    result = run("ferretdb.sh", "install", env=env)
    assert result.returncode == 1
    [line] = [text for text in result.stderr.splitlines() if text.strip()]
    assert "'go' is not installed" in line and "install" in line
