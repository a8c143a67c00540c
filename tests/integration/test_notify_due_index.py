"""Notify's delivery loop works from `notify_due` (entries read by `_id` range), not from
queries over `notifications`: deferred and retried records come due from their entries, a
crash between an entry and the record change it announces loses nothing, stale entries are
dropped, unpublished outcomes are found again, and records stored without entries get them.

One notify instance on the real broker and store, with its delivery loop not started: each
test drives `deliver_due` by hand on a settable clock. SMS goes to an in-process stand-in
whose answers are scripted per address (a `Crash` in the script is the process dying during
the provider call).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient

from contracts import AppealRouted, DeliveryChannel
from services.notify.app import create_app
from services.notify.delivery import Delivery
from services.notify.delivery_loop import DueWork
from services.notify.providers import DeliveryFailed, OutgoingMessage
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from services.notify.store import due_key, ensure_indexes, notification_of, unpublished_key
from tests.integration.test_notify_delivery import NOTIFY_TOPICS
from tests.support.clocks import SettableClock
from tests.support.kafka import prepare_broker
from tests.support.notify import SmsStandIn, registration

ALMATY = ZoneInfo("Asia/Almaty")
CLAIM_TIMEOUT = 60.0


class Crash(BaseException):
    """The process dies here: nothing in the service catches it."""


class Notify:
    def __init__(
        self,
        service: NotifyService,
        delivery: Delivery,
        work: DueWork,
        db: Any,
        clock: SettableClock,
        sms: SmsStandIn,
    ) -> None:
        self.service, self.delivery, self.work = service, delivery, work
        self.db, self.clock, self.sms = db, clock, sms

    async def entries(self) -> set[str]:
        return {doc["_id"] for doc in await self.db["notify_due"].find({}).to_list(None)}

    async def record(self, notification_id: str) -> dict[str, Any]:
        found = await self.db["notifications"].find_one({"_id": notification_id})
        assert found is not None
        return found


@pytest.fixture(scope="module")
async def notify(infra) -> AsyncIterator[Notify]:
    prefix = f"tq{uuid.uuid4().hex[:8]}-"
    await prepare_broker(
        infra.kafka_bootstrap_servers,
        dict.fromkeys(NOTIFY_TOPICS, 1),
        prefix,
    )
    clock = SettableClock()
    settings = NotifySettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_url=infra.mongodb_url,
        topic_prefix=prefix,
        database_prefix=prefix,
        claim_timeout_seconds=CLAIM_TIMEOUT,
    )
    app = create_app(settings, clock=clock)
    app.state.delivery_loop.start = lambda: None  # the tests make the passes
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    try:
        async with app.router.lifespan_context(app):
            sms = SmsStandIn()
            app.state.delivery.providers[DeliveryChannel.SMS] = sms
            yield Notify(
                app.state.notify,
                app.state.delivery,
                app.state.due_work,
                mongo[prefix + "notify"],
                clock,
                sms,
            )
    finally:
        await mongo.close()


@pytest.fixture(autouse=True)
async def fresh(notify: Notify) -> None:
    """Every test starts at noon in Almaty with an empty work list."""
    notify.clock.set_local(12, 0)
    await notify.db["notify_due"].delete_many({})


@pytest.fixture
def published(notify: Notify, monkeypatch) -> list[Any]:
    """Outcomes notify published (and still publishes them)."""
    sent: list[Any] = []
    original = notify.delivery.publish

    async def recording(outcome: Any) -> None:
        await original(outcome)
        sent.append(outcome)

    monkeypatch.setattr(notify.delivery, "publish", recording)
    return sent


async def consume(notify: Notify, event: Any) -> Any:
    """As the Kafka consumer hands it over (redelivered until handled)."""
    [outcome] = await notify.service.handle(event, redelivered_until_done=True)
    return outcome


async def test_a_first_attempt_that_succeeds_writes_no_entry(notify: Notify) -> None:
    event, phone = registration()
    outcome = await consume(notify, event)

    assert outcome.status == "sent" and len(notify.sms.to(phone)) == 1
    assert await notify.entries() == set()


async def test_a_notice_deferred_by_quiet_hours_is_sent_from_its_entry_when_they_end(
    notify: Notify,
) -> None:
    notify.clock.set_local(23, 30)
    morning = datetime.combine(
        datetime.now(ALMATY).date() + timedelta(days=1), time(8, 0), tzinfo=ALMATY
    )
    event, phone = registration()
    outcome = await consume(notify, event)
    assert outcome.status == "deferred"
    nid = outcome.notification_id
    # Stored as published by the consumer: only the deferral needs an entry.
    assert await notify.entries() == {due_key(morning, nid)}

    notify.clock.set_local(7, 59, days_ahead=1)
    assert await notify.work.deliver_due() == 0
    assert notify.sms.to(phone) == []
    assert await notify.entries() == {due_key(morning, nid)}

    notify.clock.set(morning.astimezone(UTC))
    assert await notify.work.deliver_due() == 1
    assert len(notify.sms.to(phone)) == 1
    record = await notify.record(nid)
    assert record["status"] == "sent" and record["attempts"] == 1
    assert await notify.entries() == set()


async def test_a_failed_attempt_is_retried_from_its_entry_after_the_backoff(
    notify: Notify,
) -> None:
    event, phone = registration()
    notify.sms.script[phone] = [DeliveryFailed("gateway answered HTTP 503")]
    outcome = await consume(notify, event)
    assert outcome.status == "deferred" and outcome.attempts == 1
    record = await notify.record(outcome.notification_id)
    retry_at = record["next_attempt_at"]
    assert retry_at > notify.clock.now()
    assert await notify.entries() == {due_key(retry_at, outcome.notification_id)}

    notify.clock.set(retry_at - timedelta(milliseconds=1))
    assert await notify.work.deliver_due() == 0
    assert notify.sms.to(phone) == []

    notify.clock.set(retry_at)
    assert await notify.work.deliver_due() == 1
    record = await notify.record(outcome.notification_id)
    assert record["status"] == "sent" and record["attempts"] == 2
    assert len(notify.sms.to(phone)) == 1
    assert await notify.entries() == set()


async def test_a_crash_after_a_retry_is_stored_loses_neither_the_retry_nor_its_outcome(
    notify: Notify, published: list[Any], monkeypatch
) -> None:
    # Deferred overnight by the consumer; at 08:01 the loop's attempt fails, the retry is
    # stored, and the process dies publishing its outcome.
    notify.clock.set_local(23, 30)
    event, phone = registration()
    deferred = await consume(notify, event)
    nid = deferred.notification_id
    [morning_entry] = await notify.entries()
    published.clear()  # the deferral, told by the consumer

    notify.clock.set_local(8, 1, days_ahead=1)
    crashed_at = notify.clock.now()
    notify.sms.script[phone] = [DeliveryFailed("gateway answered HTTP 503")]

    async def dies(*_: Any) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(notify.delivery, "publish", dies)
        with pytest.raises(Crash):
            await notify.work.deliver_due()

    record = await notify.record(nid)
    retry_at = record["next_attempt_at"]
    assert record["status"] == "pending" and record["attempts"] == 1
    assert record["outcome_published"] is False and retry_at > crashed_at
    # Both entries were written before the record changed; the one being worked on stays.
    retry_entry, unpublished_entry = due_key(retry_at, nid), unpublished_key(crashed_at, nid)
    assert await notify.entries() == {morning_entry, retry_entry, unpublished_entry}

    # Restarted a few seconds later: the morning entry is stale (the record is due later),
    # the outcome may still be on its way.
    notify.clock.advance(5)
    assert await notify.work.deliver_due() == 0
    assert await notify.entries() == {retry_entry, unpublished_entry}
    assert published == [] and notify.sms.to(phone) == []

    # Past the grace period the outcome is published, once, and its entry dropped.
    notify.clock.advance(6)
    await notify.work.deliver_due()
    assert [(o.notification_id, o.status, o.attempts) for o in published] == [(nid, "deferred", 1)]
    assert (await notify.record(nid))["outcome_published"] is True
    assert await notify.entries() == {retry_entry}

    notify.clock.set(retry_at)
    assert await notify.work.deliver_due() == 1
    record = await notify.record(nid)
    assert record["status"] == "sent" and record["attempts"] == 2
    assert len(notify.sms.to(phone)) == 1
    assert [o.status for o in published] == ["deferred", "sent"]
    # The loop's own outcome is published at once; neither entry outlives the pass.
    assert record["outcome_published"] is True
    assert await notify.entries() == set()


async def test_a_record_is_not_changed_before_its_entry_is_stored(
    notify: Notify, monkeypatch
) -> None:
    # The process dies writing the retry's entry: the record must still be as it was (due,
    # with its entry), not already waiting for a retry nothing would find.
    notify.clock.set_local(23, 30)
    event, phone = registration()
    nid = (await consume(notify, event)).notification_id
    [morning_entry] = await notify.entries()
    before = await notify.record(nid)

    notify.clock.set_local(8, 1, days_ahead=1)
    notify.sms.script[phone] = [DeliveryFailed("gateway answered HTTP 503")]

    async def dies(*_: Any) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(notify.delivery.store, "add_work", dies)
        with pytest.raises(Crash):
            await notify.work.deliver_due()
    assert await notify.record(nid) == before
    assert await notify.entries() == {morning_entry}

    # After the restart the attempt's stored result is applied and the retry scheduled.
    notify.clock.advance(1)
    assert await notify.work.deliver_due() == 1
    record = await notify.record(nid)
    assert record["status"] == "pending" and record["attempts"] == 1
    assert notify.sms.to(phone) == []  # attempt 1 is not made again
    assert await notify.entries() == {due_key(record["next_attempt_at"], nid)}

    notify.clock.set(record["next_attempt_at"])
    assert await notify.work.deliver_due() == 1
    assert (await notify.record(nid))["status"] == "sent" and len(notify.sms.to(phone)) == 1


async def test_a_record_created_outside_the_consumer_is_found_after_a_crash_in_its_attempt(
    notify: Notify,
) -> None:
    # A released parked event is not redelivered: a crash during its first attempt must
    # leave the loop an entry.
    event, phone = registration()
    notify.sms.script[phone] = [Crash()]
    created_at = notify.clock.now()
    with pytest.raises(Crash):
        await notify.service.handle(event)

    [record] = await notify.db["notifications"].find({"appeal_id": event.appeal_id}).to_list()
    nid = record["_id"]
    assert record["status"] == "pending" and record["attempts"] == 0
    assert await notify.entries() == {due_key(created_at, nid)}

    # Soon after, the loop finds the entry. Attempt 1's claim is this worker's own and no
    # longer in flight here (the simulated crash unwound it; a real crash would leave a new
    # incarnation of the instance): it was interrupted, and attempt 2 goes out at once with
    # the same idempotency key — not after the claim timeout.
    notify.clock.advance(1)
    assert await notify.work.deliver_due() == 1
    record = await notify.record(nid)
    assert record["status"] == "sent" and record["attempts"] == 2  # 1 counts as interrupted
    [message] = notify.sms.to(phone)
    assert message.notification_id == nid
    assert await notify.entries() == set()


async def test_stale_entries_are_dropped_without_sending_anything(
    notify: Notify, published: list[Any]
) -> None:
    event, phone = registration()
    nid = (await consume(notify, event)).notification_id
    published.clear()
    now = notify.clock.now()
    later = due_key(now + timedelta(hours=1), nid)
    stale = {
        due_key(now - timedelta(minutes=5), nid),  # the record is sent
        due_key(now - timedelta(minutes=5), "no-such-notification"),
        unpublished_key(now - timedelta(minutes=5), nid),  # its outcome is published
        unpublished_key(now - timedelta(minutes=5), "no-such-notification"),
    }
    await notify.db["notify_due"].insert_many([{"_id": key} for key in [*stale, later]])

    assert await notify.work.deliver_due() == 0
    assert await notify.entries() == {later}  # not due yet: not even looked at
    assert len(notify.sms.to(phone)) == 1 and published == []


async def test_a_resent_notification_is_sent_from_its_entry(notify: Notify) -> None:
    event, phone = registration()
    notify.sms.script[phone] = [DeliveryFailed("unknown subscriber", permanent=True)]
    nid = (await consume(notify, event)).notification_id
    assert await notify.entries() == set()

    notify.clock.advance(60)
    record = await notify.service.resend(nid)
    assert record is not None and record.status == "pending"
    assert await notify.entries() == {due_key(notify.clock.now(), nid)}

    assert await notify.work.deliver_due() == 1
    assert (await notify.record(nid))["status"] == "sent"
    assert len(notify.sms.to(phone)) == 1
    assert await notify.entries() == set()


async def test_records_stored_without_entries_get_them_from_the_backfill(
    notify: Notify, published: list[Any]
) -> None:
    event, phone = registration()
    template = await notify.record((await consume(notify, event)).notification_id)
    now = notify.clock.now()
    ids = {name: str(uuid.uuid4()) for name in ("due", "later", "unpublished", "done")}
    common = {k: v for k, v in template.items() if k not in ("last_outcome", "sent_at")}
    unpublished_outcome = {**template["last_outcome"], "notification_id": ids["unpublished"]}
    records = [
        common
        | {
            "_id": ids["due"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now - timedelta(minutes=1),
            "outcome_published": None,
        },
        common
        | {
            "_id": ids["later"],
            "status": "deferred",
            "next_attempt_at": now + timedelta(hours=1),
            "outcome_published": True,
        },
        common
        | {
            "_id": ids["unpublished"],
            "status": "sent",
            "next_attempt_at": None,
            "updated_at": now - timedelta(minutes=1),
            "outcome_published": False,
            "last_outcome": unpublished_outcome,
        },
        common | {"_id": ids["done"], "status": "sent", "outcome_published": True},
    ]
    await notify.db["notifications"].insert_many(records)
    expected = {
        due_key(now - timedelta(minutes=1), ids["due"]),
        due_key(now + timedelta(hours=1), ids["later"]),
        unpublished_key(now - timedelta(minutes=1), ids["unpublished"]),
    }

    async def mine() -> set[str]:  # (other tests' records are done, but only these count)
        return {key for key in await notify.entries() if notification_of(key) in ids.values()}

    await notify.db["notify_meta"].delete_many({})  # as on a database it never ran on
    assert await notify.work.backfill_index() >= 3
    assert await mine() == expected
    assert await notify.work.backfill_index() == 0  # ran once: the marker says so
    await notify.db["notify_meta"].delete_many({})  # an operator asks for it again
    assert await notify.work.backfill_index() == 0  # kept, not duplicated
    assert await mine() == expected
    assert await notify.db["notify_meta"].count_documents({}) == 1

    assert await notify.work.deliver_due() == 1
    assert (await notify.record(ids["due"]))["status"] == "sent"
    assert len(notify.sms.to(phone)) == 2  # the seeded copy went to the same phone
    assert (await notify.record(ids["unpublished"]))["outcome_published"] is True
    assert ids["unpublished"] in {o.notification_id for o in published}
    assert await mine() == {due_key(now + timedelta(hours=1), ids["later"])}


async def test_a_routing_decision_no_longer_writes_the_appeal_projection(
    notify: Notify,
) -> None:
    event, _ = registration()
    await consume(notify, event)
    before = await notify.db["appeals"].find_one({"_id": event.appeal_id})
    routed = AppealRouted.example().model_copy(
        update={
            "event_id": f"routed-{event.appeal_id}",
            "appeal_id": event.appeal_id,
            "correlation_id": event.appeal_id,
            "agency_code": "akimat-astana",
            "forwarded": False,
        }
    )
    await notify.service.handle(routed, redelivered_until_done=True)

    after = await notify.db["appeals"].find_one({"_id": event.appeal_id})
    assert before is not None and after == before
    assert "agency_code" not in after


async def test_the_index_nothing_queries_any_more_is_dropped_at_start(notify: Notify) -> None:
    notifications, attempts = notify.db["notifications"], notify.db["delivery_attempts"]
    await notifications.create_index([("status", 1), ("next_attempt_at", 1)])
    await attempts.create_index([("notification_id", 1)])
    assert "status_1_next_attempt_at_1" in await notifications.index_information()

    await ensure_indexes(notify.db)
    indexes = await notifications.index_information()
    assert "status_1_next_attempt_at_1" not in indexes and "appeal_id_1" in indexes
    assert "notification_id_1" not in await attempts.index_information()
    await ensure_indexes(notify.db)  # and again: nothing left to drop is fine


async def test_a_parked_event_stays_on_the_shelf_until_its_notices_are_handled(
    notify: Notify,
) -> None:
    # A released parked event is not redelivered by Kafka: if the process died (kill -9,
    # nothing caught) while it was being handled, the shelf is all that is left of it.
    event, phone = registration()
    routed = AppealRouted.example().model_copy(
        update={
            "event_id": f"routed-{event.appeal_id}",
            "appeal_id": event.appeal_id,
            "correlation_id": event.appeal_id,
            "agency_code": "akimat-astana",
            "forwarded": True,
        }
    )
    assert await notify.service.handle(routed, redelivered_until_done=True) == []
    parked = notify.db["parked_events"]
    assert await parked.count_documents({"appeal_id": event.appeal_id}) == 1

    shelf_during_delivery: list[int] = []
    deliver = notify.sms.deliver

    async def looking_at_the_shelf(message: OutgoingMessage) -> str:
        shelf_during_delivery.append(await parked.count_documents({"appeal_id": event.appeal_id}))
        return await deliver(message)

    notify.sms.deliver = looking_at_the_shelf  # type: ignore[method-assign]
    try:
        await consume(notify, event)  # the registration, which releases the parked decision
    finally:
        del notify.sms.deliver
    # Registration notice, then the forwarded notice of the released event: still parked
    # while both were being sent, gone once they were.
    assert shelf_during_delivery == [1, 1]
    assert await parked.count_documents({"appeal_id": event.appeal_id}) == 0
    templates = sorted(
        r["template"]
        for r in await notify.db["notifications"].find({"appeal_id": event.appeal_id}).to_list()
    )
    assert templates == ["appeal_forwarded", "appeal_registered"]
    assert len(notify.sms.to(phone)) == 2


async def test_a_record_whose_work_keeps_failing_moves_out_of_the_way(
    notify: Notify, monkeypatch
) -> None:
    # Deferred by quiet hours, then something unexpected breaks working on it: the entry is
    # moved a minute on, so a page of such records cannot hold up every pass.
    notify.clock.set_local(23, 0)
    event, phone = registration()
    deferred = await consume(notify, event)
    nid = deferred.notification_id
    morning = notify.clock.set_local(8, 0, days_ahead=1)
    assert await notify.entries() == {due_key(morning, nid)}

    advance = notify.delivery.advance

    async def broken(record, **_: Any):
        raise RuntimeError("a bug in the renderer")

    monkeypatch.setattr(notify.delivery, "advance", broken)
    assert await notify.work.deliver_due() == 0
    assert await notify.entries() == {due_key(morning + timedelta(seconds=60), nid)}
    assert notify.sms.to(phone) == []

    monkeypatch.setattr(notify.delivery, "advance", advance)
    notify.clock.advance(60)
    assert await notify.work.deliver_due() == 1
    assert (await notify.record(nid))["status"] == "sent"
    assert await notify.entries() == set()
