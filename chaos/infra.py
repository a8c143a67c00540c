"""The chaos run's own broker cluster and store, started and restarted by the project's
scripts (deploy/local) under a state directory and ports of their own, so that killing them
disturbs neither `make run` nor the broker and store of `make test`.

Layout: $TYNDAU_STATE_DIR/chaos/kafka/node-n/kafka.pid (deploy/local/kafka.sh) and
$TYNDAU_STATE_DIR/chaos/ferretdb/ferretdb.pid; the Kafka credentials are the checkout's
(.run/secrets), so every principal logs in to this cluster with its usual password.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from services.common.topics_admin import admin_identity

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "deploy" / "local"
STATE = Path(os.environ.get("TYNDAU_STATE_DIR", REPO / ".run"))


@dataclass(frozen=True)
class ChaosInfraConfig:
    brokers: int = 3
    kafka_port: int = 19092  # node n: 19092 + 2(n-1), its controller one above
    store_port: int = 27117
    kafka_heap: str = "512m"


class ChaosInfra:
    def __init__(self, config: ChaosInfraConfig = ChaosInfraConfig()) -> None:
        self.config = config
        self.state = STATE / "chaos"

    def _env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # This run's servers, not configured ones.
            if key not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL")
        }
        return env | {
            "TYNDAU_STATE_DIR": str(self.state),
            "TYNDAU_SECRETS_DIR": os.environ.get("TYNDAU_SECRETS_DIR", str(STATE / "secrets")),
            "KAFKA_NODES": str(self.config.brokers),
            "KAFKA_PORT": str(self.config.kafka_port),
            "KAFKA_HEAP": self.config.kafka_heap,
            "FERRETDB_PORT": str(self.config.store_port),
        }

    def _script(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(SCRIPTS / args[0]), *args[1:]],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    @property
    def bootstrap(self) -> str:
        ports = [self.config.kafka_port + 2 * n for n in range(self.config.brokers)]
        return ",".join(f"127.0.0.1:{port}" for port in ports)

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.config.store_port}/"

    def start(self) -> None:
        """Start (or restart) whatever of the cluster and the store is not running."""
        self._script("infra.sh", "start")

    def restart_brokers(self) -> None:
        self._script("kafka.sh", "start", timeout=180)

    def restart_store(self) -> None:
        self._script("ferretdb.sh", "start", timeout=120)

    def stop(self) -> None:
        self._script("infra.sh", "stop", timeout=180)

    def broker_pid(self, node: int) -> int:
        where = self.state / "kafka" / (f"node-{node}" if self.config.brokers > 1 else "")
        return int((where / "kafka.pid").read_text())

    def store_pid(self) -> int:
        return int((self.state / "ferretdb" / "ferretdb.pid").read_text())

    def kill_broker(self, node: int, sig: signal.Signals) -> None:
        os.kill(self.broker_pid(node), sig)

    def kill_store(self, sig: signal.Signals) -> None:
        os.kill(self.store_pid(), sig)

    async def busiest_leader(self, topics: list[str]) -> int:
        """The broker that leads the most partitions of `topics` (the busiest ones): the one
        whose death moves the most leadership under load."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **admin_identity())
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        led: dict[int, int] = {}
        for topic in described:
            for partition in topic["partitions"]:
                led[partition["leader"]] = led.get(partition["leader"], 0) + 1
        return max(sorted(led), key=lambda node: led[node])
