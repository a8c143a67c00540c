"""What a citizen and an agency would see, counted from the topics and the stand-in providers.

`TopicLedger` reads the pipeline's topics from the beginning, as an outside consumer (no
consumer group: nothing it does can disturb the services' groups), and keeps per appeal what
happened to it. `tally` is a pure function of what was sent, what the topics hold and what the
providers received: the run's verdict.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from bench.pipeline import percentiles
from chaos.load import SentCall
from chaos.providers import Delivery
from contracts import topics
from services.common.kafka_auth import ADMIN, identity_for

REGISTRATION_NOTICE = "appeal_registered"


@dataclass
class Observed:
    """Per appeal, what the topics hold."""

    registrations: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    rejected: set[str] = field(default_factory=set)
    routed: set[str] = field(default_factory=set)
    timers: set[str] = field(default_factory=set)
    # notification id → (appeal id, template)
    notices: dict[str, tuple[str, str]] = field(default_factory=dict)
    dead_letters: int = 0

    def take(self, topic: str, event: dict) -> None:
        appeal = event.get("appeal_id")
        if topic == topics.APPEALS_REGISTERED:
            self.registrations[appeal].append((event["event_id"], event["registration_number"]))
        elif topic == topics.APPEALS_REJECTED:
            self.rejected.add(appeal)
        elif topic in (topics.APPEALS_ROUTED, topics.APPEALS_TRIAGE):
            self.routed.add(appeal)
        elif topic == topics.SLA_EVENTS and event.get("event_type") == "sla.started":
            self.timers.add(appeal)
        elif topic == topics.NOTIFICATION_OUTCOMES:
            self.notices[event["notification_id"]] = (appeal, event["template"])
        elif topic == topics.APPEALS_DLQ:
            self.dead_letters += 1


WATCHED = (
    topics.APPEALS_REGISTERED,
    topics.APPEALS_REJECTED,
    topics.APPEALS_ROUTED,
    topics.APPEALS_TRIAGE,
    topics.SLA_EVENTS,
    topics.NOTIFICATION_OUTCOMES,
    topics.APPEALS_DLQ,
)


class TopicLedger:
    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.prefix = prefix
        self.observed = Observed()
        self.consumer = AIOKafkaConsumer(
            *(prefix + name for name in WATCHED),
            bootstrap_servers=bootstrap,
            **identity_for(ADMIN).aiokafka(),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=300, max_records=5000)
            for partition, records in batch.items():
                topic = partition.topic.removeprefix(self.prefix)
                for record in records:
                    try:
                        event = json.loads(record.value)
                    except ValueError:
                        event = {}
                    self.observed.take(topic, event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


@dataclass(frozen=True)
class Verdict:
    calls: int
    registered: int
    lost_registrations: int  # acknowledged calls neither registered nor rejected
    rejected_valid_calls: int
    duplicate_registrations: int  # appeals with more than one registration number
    shared_numbers: int  # registration numbers given to more than one appeal
    redelivered_registration_events: int  # the same event seen again (at-least-once; harmless)
    not_routed: int
    no_timer: int
    lost_notices: int  # registered appeals whose citizen got no registration notice
    duplicate_notices: int  # (appeal, template) delivered under more than one key
    dead_letters: int
    call_to_notice: dict[str, float]
    # The same, of the calls made in each named window (e.g. before any fault, under faults).
    call_to_notice_by_window: dict[str, dict[str, float]]

    @property
    def complete(self) -> bool:
        """Every call has gone all the way: registered, routed, timer armed, citizen told."""
        return not (
            self.lost_registrations or self.not_routed or self.no_timer or self.lost_notices
        )

    def problems(self) -> list[str]:
        """What a citizen or an agency would notice, one line each; empty when all is well."""
        counts = {
            "lost registrations": self.lost_registrations,
            "valid calls rejected": self.rejected_valid_calls,
            "duplicate registrations": self.duplicate_registrations,
            "registration numbers shared": self.shared_numbers,
            "appeals not routed": self.not_routed,
            "appeals without a timer": self.no_timer,
            "lost notices": self.lost_notices,
            "duplicate notices": self.duplicate_notices,
            "dead letters": self.dead_letters,
        }
        return [f"{count} {what}" for what, count in counts.items() if count]


def tally(
    sent: dict[str, SentCall],
    observed: Observed,
    deliveries: list[Delivery],
    windows: dict[str, tuple[float, float]] | None = None,
) -> Verdict:
    """The verdict on `sent`; `windows` (name → [from, to) in time.monotonic()) split the
    call → notice latency by when the call was made."""
    registered = {a for a in sent if observed.registrations.get(a)}
    numbers_of = {a: {number for _, number in observed.registrations[a]} for a in registered}
    holders: Counter[str] = Counter(n for numbers in numbers_of.values() for n in numbers)
    events = Counter(e for a in registered for e, _ in observed.registrations[a])

    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    first_notice: dict[str, float] = {}
    for delivery in deliveries:
        appeal, template = observed.notices.get(delivery.key, (None, None))
        if appeal not in sent:
            continue
        keys[(appeal, template)].add(delivery.key)
        if template == REGISTRATION_NOTICE:
            first_notice[appeal] = min(first_notice.get(appeal, math.inf), delivery.at)

    return Verdict(
        calls=len(sent),
        registered=len(registered),
        lost_registrations=len(set(sent) - registered - observed.rejected),
        rejected_valid_calls=len(set(sent) & observed.rejected),
        duplicate_registrations=sum(1 for numbers in numbers_of.values() if len(numbers) > 1),
        shared_numbers=sum(1 for count in holders.values() if count > 1),
        redelivered_registration_events=sum(count - 1 for count in events.values()),
        not_routed=len(registered - observed.routed),
        no_timer=len(registered - observed.timers),
        lost_notices=len(registered - set(first_notice)),
        duplicate_notices=sum(1 for k in keys.values() if len(k) > 1),
        dead_letters=observed.dead_letters,
        call_to_notice=percentiles([at - sent[a].at for a, at in first_notice.items()], "s"),
        call_to_notice_by_window={
            name: percentiles(
                [at - sent[a].at for a, at in first_notice.items() if begin <= sent[a].at < end],
                "s",
            )
            for name, (begin, end) in (windows or {}).items()
        },
    )
