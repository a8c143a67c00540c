"""Calls in like the 1414 call centre: one call per slot at a fixed rate, each with its own
valid citizen (IIN and phone), until told to stop. A call the broker does not acknowledge
(a broker down, a leader moving) is sent again with the same call id, as a channel retries —
intake's idempotency makes that one appeal."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from bench.pipeline import call_1414, call_centre
from contracts import deterministic_id, topics


@dataclass(frozen=True)
class SentCall:
    appeal_id: str
    phone: str
    at: float  # time.monotonic() of the first attempt: when the citizen called
    attempts: int


@dataclass
class CallLoad:
    bootstrap: str
    prefix: str
    rate: float
    seed: int = 1414
    sent: dict[str, SentCall] = field(default_factory=dict)
    unacknowledged: int = 0  # calls given up after every retry (reported, should stay 0)

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=0,
            request_timeout_ms=10_000,
            **call_centre().aiokafka(),
        )
        await producer.start()
        pending: set[asyncio.Task] = set()
        try:
            began = time.monotonic()
            index = 0
            while not stop.is_set():
                # Open loop: each call at its slot, however slow the system is.
                delay = began + index / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                call = call_1414(f"chaos-{self.prefix}{index}", rng)
                task = asyncio.create_task(self._send(producer, call, time.monotonic()))
                pending.add(task)
                task.add_done_callback(pending.discard)
                index += 1
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, call: dict, at: float) -> None:
        payload = json.dumps(call).encode()
        for attempt in range(1, 31):
            try:
                await producer.send_and_wait(
                    self.prefix + topics.CHANNEL_1414, payload, key=call["call_id"].encode()
                )
            except KafkaError:
                await asyncio.sleep(min(2.0, 0.2 * attempt))
                continue
            appeal_id = deterministic_id("appeal", "1414", call["call_id"])
            self.sent[appeal_id] = SentCall(appeal_id, call["caller"]["phone"], at, attempt)
            return
        self.unacknowledged += 1
