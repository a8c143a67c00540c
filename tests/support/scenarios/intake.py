"""Intake's scenarios: IntakeService with its store, the events it would publish recorded.
Registration exactly once per channel appeal, rejections with reasons, repeat appeals,
registration numbers per day that never repeat, the status timeline and the public status."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealRedirected,
    AppealRegistered,
    AppealRejected,
    AppealRouted,
    AppealTriaged,
    Call1414Appeal,
    Channel,
    DeadlineExtended,
    Event,
    Language,
    SlaBreached,
    SlaExtensionRefused,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
    topics,
)
from reference.calendar import WorkingCalendar
from services.common.clock import ManualClock
from services.common.secret_files import SecretRef
from services.intake.adapters import adapt_1414, adapt_open311
from services.intake.lookup import LookupCodes, lookup_code
from services.intake.metrics import IntakeMetrics
from services.intake.numbers import DailySequence
from services.intake.open311.documents import Open311Post
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from services.intake.timeline import timeline_entry
from tests.support.scenarios import Recorder

DAY = date(2026, 3, 26)
LOOKUP_KEY = b"scenario lookup key"
CALLED_AT = datetime.fromisoformat("2026-03-05T10:15:00+05:00")  # a Thursday, working hours


def service(store: IntakeStore) -> tuple[IntakeService, Recorder]:
    recorder = Recorder()
    intake = IntakeService(
        store,
        recorder,
        WorkingCalendar.default(),
        IntakeSettings(),
        IntakeMetrics(CollectorRegistry()),
        LookupCodes(SecretRef.given(LOOKUP_KEY)),
        ManualClock(CALLED_AT + timedelta(minutes=1)),
    )
    return intake, recorder


def call(call_id: str, at: datetime = CALLED_AT, **changes: Any) -> Call1414Appeal:
    """A valid 1414 call (the contract's example) with its own id."""
    data = Call1414Appeal.example().model_dump(mode="json")
    caller = {**data["caller"], **changes.pop("caller", {})}
    data |= {"call_id": call_id, "call_started_at": at.isoformat(), "caller": caller, **changes}
    return Call1414Appeal.model_validate(data)


def adapted(message: Call1414Appeal) -> Any:
    return adapt_1414(message, CALLED_AT + timedelta(minutes=1))


def like(model: type[Event], appeal_id: str, event_id: str, **changes: Any) -> Any:
    """The model's example, made an event of `appeal_id` with id `event_id`."""
    data = model.example().model_dump() | changes
    envelope = {"appeal_id": appeal_id, "correlation_id": appeal_id, "event_id": event_id}
    return model.model_validate(data | envelope)


class IntakeScenarios:
    """Subclasses provide a `store` fixture (a fresh, empty `IntakeStore`)."""

    async def test_a_valid_call_is_registered_once_and_its_redelivery_republishes_it(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, recorder = service(store)
        first = await intake.accept(adapted(call(f"c-{unique_id}")), "corr-1")
        again = await intake.accept(adapted(call(f"c-{unique_id}")), "corr-2")

        assert first.created and not again.created
        assert isinstance(first.event, AppealRegistered) and again.event == first.event
        assert first.event.registration_number.endswith("-000001")
        assert first.event.correlation_id == "corr-1"
        assert recorder.sent == [(topics.APPEALS_REGISTERED, first.event)] * 2
        assert intake.metrics.registered.labels("1414", "complaint", "71")._value.get() == 1

    async def test_a_call_that_breaks_the_rules_is_rejected_with_reasons_once(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, recorder = service(store)
        bad = adapted(call(f"c-{unique_id}", kato_code="12345"))

        first = await intake.accept(bad, None)
        again = await intake.accept(bad, None)

        assert isinstance(first.event, AppealRejected) and first.created
        assert [e.field for e in first.event.errors] == ["kato_code"]
        assert again.event.event_id == first.event.event_id and not again.created
        assert [topic for topic, _ in recorder.sent] == [topics.APPEALS_REJECTED] * 2

    async def test_the_same_applicant_on_the_same_matter_makes_a_repeat_within_the_window(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        iin = {"caller": {"iin": "900101300017"}}
        first = await intake.accept(adapted(call(f"a-{unique_id}", **iin)), None)
        second = await intake.accept(
            adapted(call(f"b-{unique_id}", CALLED_AT + timedelta(seconds=5), **iin)), None
        )
        elsewhere = await intake.accept(
            adapted(call(f"c-{unique_id}", kato_code="751110000", **iin)), None
        )
        redelivered = await intake.accept(
            adapted(call(f"b-{unique_id}", CALLED_AT + timedelta(seconds=5), **iin)), None
        )

        assert first.event.repeat_of is None  # type: ignore[union-attr]
        assert second.event.repeat_of == first.event.appeal_id  # type: ignore[union-attr]
        assert elsewhere.event.repeat_of is None  # type: ignore[union-attr]
        assert redelivered.event == second.event

    async def test_appeals_registered_at_once_get_consecutive_distinct_numbers(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        results = await asyncio.gather(
            *(intake.accept(adapted(call(f"{n}-{unique_id}")), None) for n in range(20))
        )
        numbers = sorted(r.event.registration_number for r in results)  # type: ignore[union-attr]
        assert numbers == [f"ZH-20260305-{n:06d}" for n in range(1, 21)]

    async def test_the_status_of_a_number_folds_its_timeline_and_shows_no_personal_data(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        registered = (await intake.accept(adapted(call(f"s-{unique_id}")), None)).event
        assert isinstance(registered, AppealRegistered)
        appeal_id = registered.appeal_id
        routed = like(AppealRouted, appeal_id, f"{unique_id}-routed")
        accepted = like(AppealAccepted, appeal_id, f"{unique_id}-accepted")

        assert await intake.record_lifecycle_event(routed)
        assert await intake.record_lifecycle_event(accepted)
        assert not await intake.record_lifecycle_event(accepted)  # redelivered
        status = await intake.status_of(registered.registration_number)

        assert status is not None and status["status"] == "accepted"
        assert [e["event_type"] for e in status["timeline"]] == [
            "appeal.registered",
            "appeal.routed",
            "agency.accepted",
        ]
        assert registered.applicant.iin not in str(status)
        assert intake.metrics.timeline_events.labels("agency.accepted")._value.get() == 1
        assert await intake.status_of("ZH-20260305-999999") is None
        assert await intake.status_of("not a number") is None

    # --- the public status lookup -----------------------------------------------------------

    async def test_a_registration_carries_its_lookup_code_and_the_code_opens_the_public_view(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        registered = (await intake.accept(adapted(call(f"p-{unique_id}")), None)).event
        assert isinstance(registered, AppealRegistered)
        code = lookup_code(LOOKUP_KEY, registered.appeal_id)
        assert registered.lookup_code == code and len(code) == 9 and code[4] == "-"
        number = registered.registration_number
        appeal_id = registered.appeal_id
        answered = like(AppealAnswered, appeal_id, f"{unique_id}-answered")
        assert await intake.record_lifecycle_event(answered)

        shown = await intake.public_status_of(number, code.lower().replace("-", " "))
        assert shown is not None and shown["status"] == "answered"
        assert shown["district_kato"] == "711200000"  # 711210000 cut to its district
        assert "region_kato" not in shown and "repeat_of" not in shown and "urgent" not in shown
        [entry] = [e for e in shown["timeline"] if e["event_type"] == "agency.answered"]
        assert "summary" not in entry and "how_to_obtain" not in entry
        assert entry["outcome"] == answered.outcome.value
        full = await intake.status_of(number)
        assert full is not None and full["region_kato"] == "711210000"

    async def test_open311_lists_its_own_appeals_by_date_and_shows_only_their_public_view(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        filed = []
        for n, code in enumerate(("roads", "lighting", "police")):
            post = Open311Post.from_form(
                {
                    "service_code": code,
                    "first_name": "Болат",
                    "last_name": "Серіков",
                    "phone": "+77471234567",
                    "description": f"Жол шұңқыры {n} ({unique_id}).",
                    "attribute[kind]": "complaint",
                }
            )
            now = CALLED_AT + timedelta(minutes=n)
            draft = adapt_open311(post, f"app{unique_id[:8]}", "711210000", Language.RU, now)
            event = (await intake.accept(draft, None)).event
            assert isinstance(event, AppealRegistered) and event.channel is Channel.OPEN311
            await intake.note_open311(event)
            await intake.note_open311(event)  # again: nothing more
            filed.append(event)
        other = (await intake.accept(adapted(call(f"o311-{unique_id}")), None)).event
        assert isinstance(other, AppealRegistered)

        mine = {e.registration_number for e in filed}
        listed = await intake.open311_entries(CALLED_AT, CALLED_AT + timedelta(hours=1), 100)
        ours = [e for e in listed if e.registration_number in mine]
        assert [e.category for e in ours] == ["roads", "lighting", "police"]  # by time
        later = await intake.open311_entries(
            CALLED_AT + timedelta(seconds=30), CALLED_AT + timedelta(hours=1), 100
        )
        assert filed[0].registration_number not in {e.registration_number for e in later}

        shown = await intake.open311_status_of(filed[0].registration_number)
        assert shown is not None and shown["district_kato"] == "711200000"
        assert "region_kato" not in shown
        # A crime report and another channel's appeal are not in the public feed.
        assert await intake.open311_status_of(filed[2].registration_number) is None
        assert await intake.open311_status_of(other.registration_number) is None

    async def test_a_wrong_code_an_unknown_number_and_a_security_report_look_alike(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        registered = (await intake.accept(adapted(call(f"w-{unique_id}")), None)).event
        assert isinstance(registered, AppealRegistered) and registered.lookup_code
        number, code = registered.registration_number, registered.lookup_code
        other = "0000-0000" if code != "0000-0000" else "1111-1111"
        assert await intake.public_status_of(number, other) is None
        assert await intake.public_status_of(number, "not a code") is None
        assert await intake.public_status_of("ZH-20260305-999999", code) is None

        # A corruption report (named, so not `urgent`) and an anonymous police report.
        for changes in (
            {"topic_code": "corruption"},
            {"topic_code": "police", "is_anonymous": True, "caller": {"iin": None}},
        ):
            report = (
                await intake.accept(adapted(call(f"r{len(changes)}-{unique_id}", **changes)), None)
            ).event
            assert isinstance(report, AppealRegistered), report
            assert report.lookup_code is not None
            assert (
                await intake.public_status_of(report.registration_number, report.lookup_code)
                is None
            )
            assert await intake.status_of(report.registration_number) is not None  # operators

    async def test_every_kind_of_entry_reads_back_exactly_as_timeline_entry_made_it(
        self, store: IntakeStore, unique_id: str
    ) -> None:
        intake, _ = service(store)
        appeal_id = f"appeal-{unique_id}"
        models = [
            AppealRouted,
            AppealTriaged,
            AppealAccepted,
            AppealRedirected,
            DeadlineExtended,
            AppealAnswered,
            SlaTimerStarted,
            SlaWarning,
            SlaBreached,
            SlaStopped,
            SlaExtensionRefused,
        ]
        events = [like(model, appeal_id, f"{unique_id}-{i}") for i, model in enumerate(models)]
        # An agency chooses its own event ids: one that JSON would escape is stored too.
        odd = like(AppealAccepted, appeal_id, 'agency/2026 "№1" <x> & \\ !')
        for event in [*events, odd]:
            assert await intake.record_lifecycle_event(event) is True
        assert await intake.record_lifecycle_event(odd) is False

        assert await intake.timeline_of(appeal_id) == [timeline_entry(e) for e in [*events, odd]]
        assert await intake.timeline_of(f"appeal-{unique_id[:-1]}") == []
        # An appeal id intake never issues cannot have a timeline.
        assert not await intake.record_lifecycle_event(like(AppealAccepted, "a b", "x"))

    # --- the registration number sequence ---------------------------------------------------

    async def test_concurrent_claims_never_share_a_number(self, store: IntakeStore) -> None:
        # Three independent sequences (as three consumers or instances would have) race.
        sequences = [DailySequence(store) for _ in range(3)]
        numbers = await asyncio.gather(
            *(sequences[n % 3].claim(f"appeal-{n}", DAY) for n in range(30))
        )
        assert sorted(numbers) == list(range(1, 31))

    async def test_a_fresh_process_continues_after_the_highest_number_of_the_day(
        self, store: IntakeStore
    ) -> None:
        first = DailySequence(store)
        assert [await first.claim(f"a-{n}", DAY) for n in range(3)] == [1, 2, 3]
        # After a restart there is no hint in memory: the store says where the day stands.
        assert await DailySequence(store).claim("b", DAY) == 4
        assert await first.claim("c", DAY) == 5  # a stale hint steps past what others took

    async def test_a_registration_number_leads_back_to_the_appeal_that_claimed_it(
        self, store: IntakeStore
    ) -> None:
        sequence = DailySequence(store)
        assert await sequence.claim("the-appeal", DAY) == 1
        assert await sequence.appeal_of("ZH-20260326-000001") == "the-appeal"
        assert await sequence.appeal_of("ZH-20260326-000002") is None
        assert await sequence.appeal_of("not a number") is None

    async def test_each_registration_day_has_its_own_sequence(self, store: IntakeStore) -> None:
        sequence = DailySequence(store)
        assert await sequence.claim("a", DAY) == 1
        assert await sequence.claim("b", date(2026, 3, 27)) == 1
        assert await sequence.claim("c", DAY) == 2
