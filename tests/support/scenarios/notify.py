"""Notify's scenarios: the notify core (service, delivery, the delivery loop's work) with its
store, an SMS provider in process, the outcomes it would publish recorded and time set by
hand. A notice sent once whatever is redelivered, quiet hours, retries with backoff, attempts
exhausted and resent, a permanent failure, an event that overtakes its registration, opt-outs,
the outbox, officers from the directory, an appeal's notifications listed, and attempts a
crash interrupted taken over as soon as their worker is known to be gone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from contracts import (
    AppealAccepted,
    AppealRouted,
    DeliveryChannel,
    NotificationOutcome,
)
from services.notify.delivery import Delivery
from services.notify.delivery_loop import FAILED_WORK_RETRY, DueWork
from services.notify.directory import StaffDirectory, load_agency_names, parse_directory
from services.notify.lifecycle import Notification
from services.notify.metrics import NotifyMetrics
from services.notify.policy import CitizenPreferences, RetryPolicy
from services.notify.providers import DeliveryFailed, OutboxProvider
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from services.notify.store import NotifyStore
from services.notify.workers import Worker
from tests.support.clocks import SettableClock
from tests.support.notify import SmsStandIn, registration

DIRECTORY = '{"akimat-astana": {"officer": {"phone": "+77010000001", "language": "kk"}}}'


@contextlib.contextmanager
def store_away(store: NotifyStore, method: str) -> Iterator[None]:
    """`store.<method>` fails as a store that went away does, until the block ends."""

    async def gone(*_: object, **__: object) -> None:
        raise ConnectionError("the store went away")

    setattr(store, method, gone)
    try:
        yield
    finally:
        delattr(store, method)


async def at_next_attempt(notify: Notify, nid: str) -> Notification:
    """The record, with the clock moved to its next attempt."""
    record = await notify.store.notification(nid)
    assert record is not None and record.next_attempt_at is not None
    notify.clock.set(record.next_attempt_at)
    return record


class Crash(BaseException):
    """The process dies during the provider call (nothing after it runs)."""


class Notify:
    """The notify core on a store, as the composition root wires it."""

    def __init__(
        self,
        store: NotifyStore,
        *,
        sms: bool = True,
        worker: Worker | None = None,
        clock: SettableClock | None = None,
    ) -> None:
        self.store = store
        if clock is None:
            clock = SettableClock()
            clock.set_local(12, 0)
        self.clock = clock
        self.sms = SmsStandIn()
        self.published: list[NotificationOutcome] = []
        settings = NotifySettings()
        retry = RetryPolicy(3, 30, 120)
        metrics = NotifyMetrics(CollectorRegistry())

        async def publish(outcome: NotificationOutcome) -> None:
            self.published.append(outcome)

        providers: dict[DeliveryChannel, Any] = (
            {DeliveryChannel.SMS: self.sms}
            if sms
            else {DeliveryChannel.OUTBOX: OutboxProvider(store, self.clock)}
        )
        self.worker = worker or Worker.start(None)
        self.delivery = Delivery(
            store, providers, publish, settings, retry, metrics, self.clock, self.worker
        )
        directory = StaffDirectory(parse_directory(DIRECTORY), load_agency_names())
        self.service = NotifyService(
            store, self.delivery, settings, directory, metrics, self.clock, retry
        )
        self.work = DueWork(store, self.delivery, self.clock, self.service.release_parked)
        self.metrics = metrics

    async def consume(self, event: Any) -> list[NotificationOutcome]:
        """As the Kafka consumer hands it over (redelivered until handled)."""
        return await self.service.handle(event, redelivered_until_done=True)

    def outcomes(self, appeal_id: str) -> list[tuple[str, str]]:
        return [(o.template, o.status.value) for o in self.published if o.appeal_id == appeal_id]


def routed(appeal_id: str, **changes: Any) -> AppealRouted:
    return AppealRouted.example().model_copy(
        update={
            "event_id": f"routed-{appeal_id}",
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "agency_code": "akimat-astana",
            "forwarded": True,
            **changes,
        }
    )


class NotifyScenarios:
    """Subclasses provide a `store` fixture (a fresh, empty `NotifyStore`)."""

    async def test_a_registration_notice_is_sent_once_whatever_is_redelivered(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()

        [sent] = await notify.consume(event)
        [again] = await notify.consume(event)

        assert sent.status == "sent" and sent.template == "appeal_registered"
        assert again == sent  # the same outcome told again, same event id
        [message] = notify.sms.to(phone)
        assert event.registration_number in message.text and "обращение" in message.text
        assert (await store.notification(sent.notification_id)).attempts == 1  # type: ignore[union-attr]

    async def test_a_notice_at_night_is_deferred_and_sent_when_quiet_hours_end(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        notify.clock.set_local(23, 30)
        event, phone = registration()

        [deferred] = await notify.consume(event)
        assert deferred.status == "deferred" and "08:00" in (deferred.reason or "")
        assert await notify.work.deliver_due() == 0
        notify.clock.set_local(8, 1, days_ahead=1)
        assert await notify.work.deliver_due() == 1

        assert len(notify.sms.to(phone)) == 1
        assert notify.outcomes(event.appeal_id) == [
            ("appeal_registered", "deferred"),
            ("appeal_registered", "sent"),
        ]

    async def test_an_urgent_appeal_is_not_held_back_by_quiet_hours(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        notify.clock.set_local(2, 0)
        event, _ = registration(urgent=True)
        [sent] = await notify.consume(event)
        assert sent.status == "sent"

    async def test_a_failed_attempt_is_retried_with_backoff_then_succeeds(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()
        notify.sms.script[phone] = [DeliveryFailed("gateway answered HTTP 503")]

        [retry] = await notify.consume(event)
        assert retry.status == "deferred" and (retry.reason or "").startswith("retry:")
        record = await store.notification(retry.notification_id)
        assert record is not None and record.next_attempt_at is not None
        # Equal jitter: between half and all of the first backoff (30 s).
        assert (
            timedelta(seconds=15)
            <= record.next_attempt_at - notify.clock.now()
            <= timedelta(seconds=30)
        )
        assert await notify.work.deliver_due() == 0  # not yet
        notify.clock.set(record.next_attempt_at)
        assert await notify.work.deliver_due() == 1

        assert notify.outcomes(event.appeal_id)[-1] == ("appeal_registered", "sent")
        assert len(notify.sms.to(phone)) == 1
        assert (await store.notification(retry.notification_id)).attempts == 2  # type: ignore[union-attr]

    async def test_attempts_exhausted_leave_it_failed_until_an_operator_resends_it(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()
        notify.sms.script[phone] = [DeliveryFailed("HTTP 503")] * 3

        [first] = await notify.consume(event)
        nid = first.notification_id
        for _ in range(2):
            await at_next_attempt(notify, nid)
            await notify.work.deliver_due()
        failed = await store.notification(nid)
        assert failed is not None and failed.status == "failed" and failed.attempts == 3
        assert "attempts exhausted after attempt 3" in (failed.reason or "")

        again = await notify.service.resend(nid)
        assert again is not None and again.status == "pending"
        assert await notify.work.deliver_due() == 1
        assert (await store.notification(nid)).status == "sent"  # type: ignore[union-attr]
        assert len(notify.sms.to(phone)) == 1

    async def test_the_last_attempts_result_kept_in_its_claim_is_replayed_not_sent_again(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()
        notify.sms.script[phone] = [DeliveryFailed("HTTP 503")] * 2
        [first] = await notify.consume(event)
        nid = first.notification_id
        await at_next_attempt(notify, nid)
        await notify.work.deliver_due()
        record = await at_next_attempt(notify, nid)
        assert record.attempts == 2

        # Attempt 3 of 3 is accepted; the record's update is lost.
        with store_away(store, "update"), contextlib.suppress(ConnectionError):
            await notify.work.deliver_due()
        claim = await store.attempt(nid, 3)
        assert claim is not None and claim.state == "accepted"

        notify.clock.advance(FAILED_WORK_RETRY.total_seconds())
        assert await notify.work.deliver_due() == 1  # the loop looks at it again
        sent = await store.notification(nid)
        assert sent is not None and sent.status == "sent" and sent.attempts == 3
        assert len(notify.sms.to(phone)) == 1  # replayed from the claim, not sent again

    async def test_a_permanent_rejection_is_not_retried(self, store: NotifyStore) -> None:
        notify = Notify(store)
        event, phone = registration()
        notify.sms.script[phone] = [DeliveryFailed("unknown subscriber", permanent=True)]

        [failed] = await notify.consume(event)

        assert failed.status == "failed" and failed.attempts == 1
        assert "permanent failure" in (failed.reason or "")
        assert await notify.service.resend("no-such-notification") is None

    async def test_an_event_that_overtakes_its_registration_waits_for_it(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()

        assert await notify.consume(routed(event.appeal_id)) == []  # parked
        outcomes = await notify.consume(event)

        assert [o.template for o in outcomes] == ["appeal_registered"]
        sent = {o.template for o in notify.published if o.status == "sent"}
        assert sent == {"appeal_registered", "appeal_forwarded", "new_assignment"}
        assert len(notify.sms.to(phone)) == 2
        assert await store.parked_of(event.appeal_id) == []
        assert notify.metrics.parked.labels("released")._value.get() == 1

    async def test_an_opt_out_suppresses_an_optional_notice_but_never_a_legal_one(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, phone = registration()
        await notify.service.set_preferences(phone, CitizenPreferences(opt_out=True))
        accepted = AppealAccepted.example().model_copy(
            update={
                "event_id": f"accepted-{event.appeal_id}",
                "appeal_id": event.appeal_id,
                "correlation_id": event.appeal_id,
                "agency_code": "akimat-astana",
            }
        )

        [registered] = await notify.consume(event)
        [suppressed] = await notify.consume(accepted)

        assert registered.status == "sent"
        assert suppressed.status == "suppressed" and suppressed.reason == "opted_out"
        assert len(notify.sms.to(phone)) == 1

    async def test_without_a_provider_messages_go_to_the_outbox(self, store: NotifyStore) -> None:
        notify = Notify(store, sms=False)
        event, _ = registration()
        [sent] = await notify.consume(event)
        assert (sent.status, sent.delivery_channel) == ("sent", "outbox")

    async def test_the_officer_of_the_receiving_body_is_told_from_the_directory(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, _ = registration()
        await notify.consume(event)

        outcomes = await notify.consume(routed(event.appeal_id, forwarded=False))
        unaddressed = await notify.consume(
            routed(event.appeal_id, event_id="routed-2", agency_code="astana-energy", hop=1)
        )

        assert [(o.recipient_role, o.template) for o in outcomes] == [("officer", "new_assignment")]
        assert [o.template for o in unaddressed] == ["appeal_forwarded"]  # citizen only
        assert notify.metrics.unaddressed.labels("officer", "new_assignment")._value.get() == 1

    async def test_an_appeals_notifications_are_listed_for_an_operator(
        self, store: NotifyStore
    ) -> None:
        notify = Notify(store)
        event, _ = registration()
        other, _ = registration()
        await notify.consume(event)
        await notify.consume(routed(event.appeal_id))
        await notify.consume(other)

        listed = await notify.service.notifications_of(event.appeal_id)

        assert sorted(n.template for n in listed) == [
            "appeal_forwarded",
            "appeal_registered",
            "new_assignment",
        ]
        assert {n.appeal_id for n in listed} == {event.appeal_id}

    # --- attempts a crash interrupted -----------------------------------------------------

    async def crashed_mid_attempt(self, store: NotifyStore, worker: Worker) -> tuple[Any, str]:
        """A worker dies while the SMS gateway has the message: its claim stays `started`."""
        dying = Notify(store, worker=worker)
        event, phone = registration()
        dying.sms.script[phone] = [Crash()]
        await dying.store.beat(worker, dying.clock.now())
        try:
            await dying.consume(event)
        except Crash:
            pass
        else:
            raise AssertionError("the attempt did not crash")
        return event, phone

    async def test_a_restarted_instance_takes_over_its_own_interrupted_attempt_at_once(
        self, store: NotifyStore
    ) -> None:
        event, phone = await self.crashed_mid_attempt(store, Worker.start("notify-0"))
        # The same instance, restarted a few seconds later (a new incarnation).
        restarted = Notify(store, worker=Worker.start("notify-0"))
        restarted.clock.advance(3)
        [sent] = await restarted.consume(event)  # the uncommitted cause, redelivered
        assert sent.status == "sent" and sent.attempts == 2  # attempt 1 counts as interrupted
        assert len(restarted.sms.to(phone)) == 1
        again = await restarted.consume(event)
        assert [o.status for o in again] == ["sent"] and len(restarted.sms.to(phone)) == 1

    async def test_another_live_workers_attempt_is_left_alone_until_its_heartbeat_stops(
        self, store: NotifyStore
    ) -> None:
        owner = Worker.start("notify-0")
        event, phone = await self.crashed_mid_attempt(store, owner)
        other = Notify(store, worker=Worker.start("notify-1"))
        other.clock.advance(3)
        assert await other.consume(event) == []  # notify-0 still beats: it may be on it
        assert other.sms.to(phone) == []

        # notify-0 beat last at the crash; 15 s later (3 missed beats) it counts as gone.
        other.clock.advance(13)
        assert await other.work.deliver_due() == 1
        [sent] = other.outcomes(event.appeal_id)
        assert sent == ("appeal_registered", "sent") and len(other.sms.to(phone)) == 1

    async def test_an_attempt_whose_result_the_store_lost_is_made_again_at_once_same_key(
        self, store: NotifyStore
    ) -> None:
        # The gateway takes the SMS, then the store goes away before the result is written:
        # the cause is redelivered to the same, living process, which is no longer on it.
        notify = Notify(store, worker=Worker.start("notify-0"))
        event, phone = registration()

        with store_away(store, "update"):
            try:
                await notify.consume(event)
            except ConnectionError:
                pass
            else:
                raise AssertionError("recording the result did not fail")

        [sent] = await notify.consume(event)  # redelivered at once, not after the claim timeout
        assert sent.status == "sent" and sent.attempts == 2
        first, second = notify.sms.to(phone)
        # The same idempotency key: the gateway drops the second, the citizen gets one SMS.
        assert first.notification_id == second.notification_id == sent.notification_id
