"""The four services as processes, run the way `make run` runs them (one instance each under
the fixed identity <service>-0, so a restarted one is the same static consumer-group member
and the same notify worker), which the fault script signals and restarts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.pipeline import SERVICES, free_port, service_env, spawn_service, stop_processes

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ServiceFleet:
    environment: dict[str, str]
    log_dir: Path
    # False: no TYNDAU_INSTANCE_ID — dynamic group members, as before static membership
    # (`python -m chaos --dynamic` measures what it saves).
    static: bool = True
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # One HTTP client for every health poll of the run (made on first use, in the loop).
    _client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=2)
        return self._client

    def start(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment | {f"{name.upper()}_PORT": str(self.ports[name])}
        if self.static:
            env["TYNDAU_INSTANCE_ID"] = f"{name}-0"
        # One log per service and run: its restarts append to it.
        self.processes[name] = spawn_service(
            name, env, self.log_dir / f"{name}.log", append=name in self.processes
        )

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.processes[name].send_signal(sig)

    async def wait_exit(self, name: str, timeout: float = 60) -> float:
        """Seconds until the process has exited (killed after `timeout`)."""
        began = time.monotonic()
        process = self.processes[name]
        while process.poll() is None:
            if time.monotonic() - began > timeout:
                process.kill()
            await asyncio.sleep(0.02)
        return time.monotonic() - began

    async def health(self, name: str) -> dict | None:
        """The body of /health/ready when it says ready, else None."""
        try:
            response = await self.client.get(f"http://127.0.0.1:{self.ports[name]}/health/ready")
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    # Polled 10 times a second: each /health/ready asks the broker and the store, and a
    # starting service should spend its CPU on starting.
    POLL_S = 0.1

    async def wait_live(self, name: str, timeout: float = 60) -> None:
        """Until the process answers /health/live (started, whatever its dependencies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log_dir / name}.log")
            try:
                response = await self.client.get(f"http://127.0.0.1:{self.ports[name]}/health/live")
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{name} not live after {timeout} s")

    async def wait_ready(self, names: tuple[str, ...] = SERVICES, timeout: float = 120) -> float:
        """Seconds until every one of `names` is ready (consuming with its partitions)."""
        began = time.monotonic()
        waiting = set(names)
        while waiting:
            for name in list(waiting):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({process.returncode}); see {self.log_dir / name}.log"
                    )
                if await self.health(name) is not None:
                    waiting.discard(name)
            if waiting:
                if time.monotonic() - began > timeout:
                    raise TimeoutError(f"not ready after {timeout} s: {sorted(waiting)}")
                await asyncio.sleep(self.POLL_S)
        return time.monotonic() - began

    async def lag(self) -> dict[str, int | None]:
        """Each service's consumer lag as its /health reports it."""
        return {name: (await self.health(name) or {}).get("lag") for name in SERVICES}

    async def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after 30 s) and the health client."""
        if self._client is not None:
            await self._client.aclose()
        stop_processes(self.processes.values(), timeout=30)


def service_environment(
    bootstrap: str, mongodb_url: str, prefix: str, providers: dict[str, str]
) -> dict[str, str]:
    """What every service process of the run gets: the bench's environment (this run's broker,
    store and prefix), notify delivering to the stand-ins at any hour (no quiet hours: the
    run must not depend on the time of day)."""
    return service_env(
        bootstrap,
        mongodb_url,
        prefix,
        NOTIFY_QUIET_START="00:00",
        NOTIFY_QUIET_END="00:00",
        **providers,
    )
