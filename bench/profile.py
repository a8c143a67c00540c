"""Where a stage's time goes: CPU seconds of every process on the path (the four services,
Kafka, FerretDB) over the stage, and — with `--profile` — py-spy samples of each service,
summarised as the functions the service spends its time in.

On a 2-core machine the sum of the processes' CPU over the stage's wall time says whether
the machine is saturated; each process's share says which one to look at first.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.pipeline import REPO

STATE_DIR = Path(os.environ.get("TYNDAU_STATE_DIR", REPO / ".run"))
INFRA_PIDFILES = {
    "kafka": STATE_DIR / "kafka" / "kafka.pid",
    "ferretdb": STATE_DIR / "ferretdb" / "ferretdb.pid",
}
TICKS = os.sysconf("SC_CLK_TCK")
# Up to the part of a frame's path that names it: our package, a library, the stdlib.
_ROOTS = re.compile(r"^.*/(?:services|site-packages|lib/python3\.\d+)/")
# A row of `go tool pprof -top -cum` for a command handler: "… 4.11s 48.41%  …Handler).MsgInsert"
_HANDLER = re.compile(r"\s(?P<cum>[\d.]+)%\s+\S*handler\.\(\*Handler\)\.Msg(?P<command>\w+)$")
# A service's entry frames sit under every sample: they say nothing about where time goes.
_ENTRY = re.compile(r"^<module> |/__main__\.py|/common/serve\.py")
PY_SPY = str(Path(sys.executable).parent / "py-spy")


def stat_fields(pid: int, proc: Path = Path("/proc")) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, …]; utime is
    index 11, stime 12, cutime 13, cstime 14. (The command name may hold spaces; the fields
    after its ")" are fixed.)"""
    return (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def infra_pids() -> dict[str, int]:
    pids = {}
    for name, pidfile in INFRA_PIDFILES.items():
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            continue
        pids[name] = pid
    return pids


# The bench's own process in a CPU account: it sends the calls and watches the last topics.
LOAD_PROCESS = "bench (load + watch)"


def cpu_ms_per_appeal(cpu: dict, appeals: int) -> dict[str, float]:
    """CPU milliseconds per completed appeal of each process of a `CpuShare` result, and
    their total: the figure that stays stable on a noisy shared machine."""
    if not appeals or not cpu.get("cpu_seconds"):
        return {}
    per = {name: s * 1000 / appeals for name, s in cpu["cpu_seconds"].items()}
    ordered = dict(sorted(per.items(), key=lambda kv: -kv[1]))
    return {**ordered, "total": sum(per.values())}


def median_round(
    rounds: list[dict],
    result_key: str = "result",
    per_round: tuple[str, ...] = (),
    always: bool = False,
) -> dict:
    """The round with the median appeals/s (under each round's `result_key`) stands for the
    stage; with several rounds (or `always`), each process's median CPU ms per appeal as
    well, and each round's appeals/s, CPU total and `per_round` figures."""
    ordered = sorted(rounds, key=lambda r: r[result_key].get("appeals_per_s", 0.0))
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    if len(rounds) > 1 or always:
        names = {n for r in rounds for n in r["cpu_ms_per_appeal"]}
        chosen["cpu_ms_per_appeal_median"] = {
            n: statistics.median(r["cpu_ms_per_appeal"].get(n, 0.0) for r in rounds)
            for n in sorted(names)
        }
        chosen["rounds"] = [
            {
                "appeals_per_s": r[result_key].get("appeals_per_s"),
                "cpu_ms_per_appeal_total": r["cpu_ms_per_appeal"].get("total"),
                **{key: r.get(key) for key in per_round},
            }
            for r in rounds
        ]
    return chosen


class CpuShare:
    """CPU seconds each named process used between `start()` and `stop()`, and that as a
    share of the wall time (1.0 = one core busy the whole time)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._before: dict[str, float] = {}
        self._started = 0.0
        self.result: dict = {}

    def start(self) -> None:
        self._started = time.monotonic()
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict:
        wall = time.monotonic() - self._started
        used = {}
        for name, pid in self.pids.items():
            try:
                used[name] = cpu_seconds(pid) - self._before[name]
            except OSError:
                continue
        self.result = {
            "wall_seconds": wall,
            "cpu_seconds": used,
            "cores_busy": {name: seconds / wall for name, seconds in used.items()},
            "cores_busy_total": sum(used.values()) / wall,
            "cores": os.cpu_count(),
        }
        return self.result


@contextmanager
def sampled(pids: dict[str, int], out_dir: Path, rate: int = 50) -> Iterator[dict[str, Path]]:
    """py-spy `record` on each process while the block runs (raw collapsed stacks, one file
    per process); stopped with SIGINT, on which py-spy writes what it has."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / f"{name}.txt" for name in pids}
    spies = [
        subprocess.Popen(
            [PY_SPY, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
            + ["--output", str(files[name]), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    try:
        yield files
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()


@contextmanager
def store_sampled(out: Path, seconds: int) -> Iterator[dict]:
    """FerretDB's CPU profile (Go pprof) over the first `seconds` of the block, when the
    local store serves its debug address (FERRETDB_DEBUG_ADDR, see deploy/local/ferretdb.sh);
    summarised as the share of its CPU each command kind takes."""
    result: dict = {}
    address = os.environ.get("FERRETDB_DEBUG_ADDR", "")
    if not address or address == "-":
        yield result
        return
    url = f"http://{address}/debug/pprof/profile?seconds={seconds}"

    def fetch() -> None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(url, timeout=seconds + 30) as response:
                out.write_bytes(response.read())
        except OSError as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        thread.join(timeout=seconds + 40)
        if out.exists() and "error" not in result:
            result.update(store_commands(out))


def store_commands(pprof_file: Path) -> dict:
    """Share of the store's sampled CPU under each command handler (`MsgInsert`, …), from
    `go tool pprof -top -cum` (Go is on this machine: it builds FerretDB)."""
    top = subprocess.run(
        ["go", "tool", "pprof", "-top", "-cum", str(pprof_file)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    shares = {}
    for line in top.splitlines():
        if match := _HANDLER.search(line):
            shares[match["command"].lower()] = float(match["cum"]) / 100
    return {"profile": str(pprof_file), "cpu_share_by_command": shares}


def summarise(collapsed: str, top: int = 8) -> dict:
    """From py-spy's raw output (`frame;frame;… count` per line): the share of samples whose
    innermost frame is each function (self time), and the share that passes through each of
    our own functions (inclusive time, frames under services/ or contracts/)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[_short(frames[-1])] += count
        ours = {
            _short(f)
            for f in frames
            if ("services/" in f or "contracts/" in f) and not _ENTRY.search(f)
        }
        for frame in ours:
            inclusive[frame] += count
    if not total:
        return {"samples": 0}

    def shares(counter: Counter[str]) -> list[list]:
        return [[name, round(count / total, 3)] for name, count in counter.most_common(top)]

    return {"samples": total, "self": shares(own), "inclusive_ours": shares(inclusive)}


def _short(frame: str) -> str:
    """`handle (services/intake/service.py:120)` → `handle (intake/service.py)`: one entry per
    function, whichever line was running."""
    name, _, where = frame.partition(" (")
    path = _ROOTS.sub("", where.rstrip(")").rsplit(":", 1)[0])
    return f"{name} ({path})" if path else name


def profiles(files: dict[str, Path]) -> dict[str, dict]:
    return {
        name: summarise(path.read_text()) if path.exists() else {"samples": 0}
        for name, path in files.items()
    }
