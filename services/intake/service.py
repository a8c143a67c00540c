"""Intake's core: register or reject an adapted appeal, durably and exactly once in effect,
and keep each appeal's status timeline.

Order of effects for one channel message: store → publish → (caller commits the offset).
A crash anywhere before the commit redelivers the message; the stored appeal is found and its
stored event republished unchanged (same event_id), so downstream sees one registration.
The first registration of a (channel, channel id) wins: a later message under the same id —
redelivered or resent, valid or not — republishes that registration and changes nothing.

Repeat appeals: the same IIN on the same category and KATO code, received within the repeat
window (default 90 days) before this one, makes this appeal a repeat; `repeat_of` names the
most recent such earlier appeal, so a chain of repeats links each to its predecessor and
"repeated complaints" is a count of registrations with `repeat_of` set. Appeals without an IIN
cannot be matched. Detection sees the appeals intake registered before this one: if a later
appeal overtakes an earlier one (different partitions), neither is marked.

Store access: every read and write on the registration path is by `_id` (FerretDB v1 answers
nothing else from an index; any other filter scans the whole collection). So the "matter" of
an applicant (IIN, category, KATO) is a document of its own, keyed by a hash of the three, that
lists the matter's appeals; and a registration number is found through its sequence claim.
A matter's list grows with `$addToSet` of deterministic entries, so a redelivery adds
nothing. On MongoDB `$addToSet` is atomic; FerretDB v1 may lose one of two updates of the
*same* document racing from two intake instances (the same applicant filing twice at the same
moment) — a known limit of the local store, not of production.

Storage is the `IntakeStore` port (store.py: what is kept where, and why every lookup is by
`_id`); the status timeline is one stored entry per lifecycle event, folded at read time
(timeline.py).

Concurrency: channel messages and lifecycle events are handled in batches, different appeals
at once (services.common.batching; one appeal's messages in order). Within one process an
applicant's matter is read and updated under a lock of its own (two appeals of the same
applicant are different Kafka keys), and registration numbers are taken from a per-day
counter without racing (numbers.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import (
    REGION_KATO,
    AnswerRated,
    AppealRegistered,
    AppealRejected,
    Channel,
    Event,
    deterministic_id,
    topics,
)
from reference.agencies import Agency, AgencyRegistry
from reference.calendar import WorkingCalendar
from reference.statute import provisional
from services.common.batching import KeyedLock
from services.common.clock import Clock, SystemClock
from services.common.masking import scrub as mask_personal_data
from services.intake.adapters import AppealDraft, Rejection
from services.intake.feedback import (
    Answer,
    Feedback,
    FeedbackRefused,
    checked,
    contest_channel_id,
    contest_draft,
    latest_answer,
    previous_rating,
    rated_event,
)
from services.intake.lookup import LookupCodes, hidden_from_public, public_view
from services.intake.metrics import IntakeMetrics
from services.intake.numbers import DailySequence
from services.intake.registration import (
    appeal_id_for,
    register,
    registration_time,
    rejected_event,
)
from services.intake.settings import IntakeSettings
from services.intake.store import PLAIN_ID, IntakeStore, MatterEntry, Open311Entry
from services.intake.timeline import appeal_status, timeline_entry

log = logging.getLogger("tyndau.intake")

Publish = Callable[[str, Event], Awaitable[None]]


def region_label(kato: str | None) -> str:
    """Low-cardinality region label: the 2-digit KATO region prefix, or `unknown`."""
    return kato[:2] if kato and kato[:2] in REGION_KATO else "unknown"


@dataclass(frozen=True)
class FeedbackResult:
    rated: AnswerRated
    created: bool
    """False: this rating (and contest) had been given before; the stored ones."""
    contest: AppealRegistered | None


@dataclass(frozen=True)
class Accepted:
    """What became of one adapted appeal: its event, and whether this call created it."""

    event: AppealRegistered | AppealRejected
    created: bool


class IntakeService:
    def __init__(
        self,
        store: IntakeStore,
        publish: Publish,
        calendar: WorkingCalendar,
        settings: IntakeSettings,
        metrics: IntakeMetrics,
        lookup: LookupCodes,
        clock: Clock | None = None,
        registry: AgencyRegistry | None = None,
    ) -> None:
        self.registry = registry or AgencyRegistry.default()
        self.store = store
        self.lookup = lookup
        self.publish = publish
        self.calendar = calendar
        self.settings = settings
        self.metrics = metrics
        self.clock = clock or SystemClock()
        self.numbers = DailySequence(store)
        self._matter_locks = KeyedLock()

    @property
    def earliest_received_at(self) -> datetime:
        """Appeals received before the calendar's first year cannot be registered (no
        working days to count with): older timestamps are refused as too old."""
        start = self.calendar.covered_years.start
        return datetime(start, 1, 1, tzinfo=self.calendar.tz)

    async def accept(
        self, outcome: AppealDraft | Rejection, correlation_id: str | None
    ) -> Accepted:
        self.metrics.received.labels(
            outcome.channel.value, _kind(outcome), region_label(outcome.region_kato)
        ).inc()
        appeal_id = appeal_id_for(outcome.channel, outcome.channel_appeal_id)
        stored = await self.store.registered(appeal_id)
        if stored is not None:
            await self.publish(topics.APPEALS_REGISTERED, stored)
            return Accepted(stored, created=False)
        if isinstance(outcome, Rejection):
            return await self._reject(outcome, correlation_id)
        return await self._register(outcome, appeal_id, correlation_id)

    async def _register(
        self, draft: AppealDraft, appeal_id: str, correlation_id: str | None
    ) -> Accepted:
        registered_at = registration_time(draft, self.calendar)
        # Independent writes: one round trip of latency instead of two.
        sequence, repeat_of = await asyncio.gather(
            self.numbers.claim(appeal_id, registered_at.date()),
            self._note_matter(draft, appeal_id),
        )
        if draft.contests is not None:  # a contest repeats the appeal it contests
            repeat_of = draft.contests.appeal_id
        event = register(
            draft,
            self.calendar,
            self.clock.now(),
            correlation_id,
            sequence=sequence,
            repeat_of=repeat_of,
            lookup_code=self.lookup.code_for(appeal_id),
        )
        created = await self.store.add_registered(event)
        if created:
            self._count_registration(event)
        else:  # a concurrent delivery won the insert (our number stays unused); use its
            stored = await self.store.registered(event.appeal_id)
            assert stored is not None
            event = stored
        await self.publish(topics.APPEALS_REGISTERED, event)
        return Accepted(event, created)

    async def _note_matter(self, draft: AppealDraft, appeal_id: str) -> str | None:
        """Record this appeal under its applicant's matter and return the most recent
        earlier appeal of that matter within the repeat window, if any.

        Recorded before the appeal is stored: after a crash in between, the redelivery finds
        its own entry (excluded) and adds nothing, so `repeat_of` stays the same."""
        iin = draft.applicant.iin
        if not iin or draft.applicant.anonymous:
            return None
        key = deterministic_id("matter", iin, draft.category.value, draft.region_kato or "")
        # Appeals of one applicant arrive under different keys and may be handled at once:
        # read and update their matter one at a time within this process.
        entry = MatterEntry(appeal_id, draft.received_at)
        async with self._matter_locks(key):
            matter = await self.store.matter(key)
            # A new matter is one insert; an update only when it exists or another instance
            # just made it.
            if matter is None:
                recorded = await self.store.open_matter(key, entry)
            else:
                recorded = entry in matter  # a redelivery: nothing to add
            if not recorded:
                await self.store.add_to_matter(key, entry)
        since = draft.received_at - self.settings.repeat_window
        earlier = [
            e
            for e in matter or ()
            if e.appeal_id != appeal_id and since <= e.received_at <= draft.received_at
        ]
        if not earlier:
            return None
        return max(earlier, key=lambda e: (e.received_at, e.appeal_id)).appeal_id

    def _count_registration(self, event: AppealRegistered) -> None:
        labels = (event.channel.value, event.kind.value, region_label(event.region_kato))
        self.metrics.registered.labels(*labels).inc()
        if event.repeat_of:
            self.metrics.repeats.labels(*labels).inc()
        if event.urgent:
            self.metrics.urgent_anonymous.labels(*labels).inc()
        # Names cannot be masked by pattern, so they are never logged; IIN and phone are
        # masked here and again by the JSON log formatter.
        log.info(
            "registered %s (%s %s, %s, applicant %s%s%s)",
            event.registration_number,
            event.channel.value,
            event.channel_appeal_id,
            event.category.value,
            mask_personal_data(f"{event.applicant.iin or '-'} {event.applicant.phone or '-'}"),
            ", urgent" if event.urgent else "",
            f", repeat of {event.repeat_of}" if event.repeat_of else "",
        )

    async def _reject(self, rejection: Rejection, correlation_id: str | None) -> Accepted:
        event = rejected_event(rejection, self.clock.now(), correlation_id)
        created = await self.store.add_rejection(event)
        if created:
            kind, region = _kind(rejection), region_label(rejection.region_kato)
            channel = event.channel.value
            self.metrics.rejected.labels(channel, event.reason_code, kind, region).inc()
            for error in event.errors:
                self.metrics.rejection_errors.labels(channel, error.code).inc()
            if event.reason_code == "anonymous_not_considered":
                self.metrics.anonymous_refused.labels(channel, kind, region).inc()
            log.info(
                "rejected %s %s (%s): %s",
                channel,
                event.channel_appeal_id,
                event.reason_code,
                ", ".join(f"{e.field}:{e.code}" for e in event.errors),
            )
        await self.publish(topics.APPEALS_REJECTED, event)
        return Accepted(event, created)

    # --- status timeline ----------------------------------------------------------------

    async def record_lifecycle_event(self, event: Event) -> bool:
        """Add `event` to its appeal's timeline; False if it was already there (or if its
        appeal id is not one intake issues, so no status page could show it)."""
        if not PLAIN_ID.fullmatch(event.appeal_id):
            log.warning(
                "timeline: %s %s has an appeal id intake never issues; not recorded",
                event.event_type,
                event.event_id,
            )
            return False
        # Stored once per event: a redelivered event adds nothing and is not counted again.
        added = await self.store.add_timeline_entry(
            event.appeal_id, event.event_id, timeline_entry(event)
        )
        if added:
            self.metrics.timeline_events.labels(event.event_type).inc()
        return added

    async def timeline_of(self, appeal_id: str) -> list[dict]:
        """The timeline entries of an appeal, in the order they were recorded."""
        return await self.store.timeline(appeal_id)

    async def find_by_registration_number(
        self, registration_number: str
    ) -> AppealRegistered | None:
        appeal_id = await self.numbers.appeal_of(registration_number)
        stored = await self.store.registered(appeal_id) if appeal_id else None
        if stored is None or stored.registration_number != registration_number:
            return None  # unknown, or the number of a claim that was never used (a gap)
        return stored

    async def status_of(self, registration_number: str) -> dict | None:
        """The full status of an appeal (no personal data of the applicant; the exact place
        and the bodies' own words), for an operator; None if unknown."""
        registered = await self.find_by_registration_number(registration_number)
        if registered is None:
            return None
        return await self._status_of(registered)

    async def _status_of(self, registered: AppealRegistered) -> dict:
        status = appeal_status(registered, await self.timeline_of(registered.appeal_id))
        due_at = datetime.fromisoformat(status["answer_due_at"])
        status["deadline_provisional"] = provisional(
            self.calendar, registered.registered_at, due_at
        )
        return status

    async def public_status_of(self, registration_number: str, code: str) -> dict | None:
        """What an anonymous caller holding `code` may see (lookup.py), or None — for an
        unknown number, a wrong code and an appeal the public never sees alike."""
        registered = await self.find_by_registration_number(registration_number)
        # Compared even for an unknown number, so the time taken does not tell them apart.
        appeal_id = registered.appeal_id if registered else "-"
        if not self.lookup.matches(appeal_id, code) or registered is None:
            return None
        return await self._public_view_of(registered)

    # --- the citizen's answer to the answer (feedback.py) -----------------------------------

    async def appeal_for_applicant(
        self, registration_number: str, proves: Callable[[AppealRegistered], bool]
    ) -> AppealRegistered | None:
        """The appeal, if `proves` says the caller is its applicant (lookup code, phone)."""
        registered = await self.find_by_registration_number(registration_number)
        return registered if registered is not None and proves(registered) else None

    async def give_feedback(
        self, registered: AppealRegistered, feedback: Feedback
    ) -> FeedbackResult:
        """Rate the appeal's answer and, with a contest, register the repeat complaint
        (feedback.py has the rules; FeedbackRefused when they say no). Order: the repeat
        complaint (registered and published like any appeal), then the rating in the
        timeline, then published — a retry after a crash finds each step done."""
        now = self.clock.now()
        entries = await self.timeline_of(registered.appeal_id)
        earlier = previous_rating(entries)
        if earlier is not None:
            return await self._given_before(registered, earlier, feedback, entries, now)
        answer, supervisor = self._checked(registered, entries, feedback, now)
        contest = None
        if supervisor is not None:
            contest = await self._register_contest(registered, answer, feedback, supervisor, now)
        rated = rated_event(
            registered, answer, feedback, contest.appeal_id if contest else None, now
        )
        if not await self.record_lifecycle_event(rated):
            # Another rating of this appeal (the other path, at the same moment) came first.
            entries = await self.timeline_of(registered.appeal_id)
            first = previous_rating(entries)
            assert first is not None
            return await self._given_before(registered, first, feedback, entries, now)
        await self.publish(topics.ANSWER_FEEDBACK, rated)
        self.metrics.ratings.labels(feedback.via, feedback.rating.value, str(bool(contest))).inc()
        return FeedbackResult(rated, created=True, contest=contest)

    def _checked(
        self,
        registered: AppealRegistered,
        entries: list[dict[str, Any]],
        feedback: Feedback,
        now: datetime,
    ) -> tuple[Answer, Agency | None]:
        """`feedback.checked` against the appeal's latest answer, with this deployment's
        contest period and registry."""
        return checked(
            registered,
            latest_answer(entries),
            feedback,
            now,
            self.settings.contest_period,
            self.registry,
        )

    async def _given_before(
        self,
        registered: AppealRegistered,
        earlier: dict[str, Any],
        feedback: Feedback,
        entries: list[dict[str, Any]],
        now: datetime,
    ) -> FeedbackResult:
        """The appeal was rated before: the same rating again answers what is stored; a
        contest after a bare "not satisfied" is still the citizen's right within the period
        (the repeat complaint is registered; the rating stays as given); anything else is
        `already_rated`."""
        if earlier["rating"] != feedback.rating:
            raise FeedbackRefused(
                409, "already_rated", f"the answer was rated {earlier['rating']} already"
            )
        rated = AnswerRated(
            event_id=earlier["event_id"],
            appeal_id=registered.appeal_id,
            occurred_at=earlier["occurred_at"],
            correlation_id=registered.correlation_id,
            causation_id=earlier["answer_event_id"],
            registration_number=registered.registration_number,
            agency_code=earlier["agency_code"],
            answer_event_id=earlier["answer_event_id"],
            rating=earlier["rating"],
            via=earlier["via"],
            contest_appeal_id=earlier.get("contest_appeal_id"),
        )
        contest_id = appeal_id_for(Channel.HTTP, contest_channel_id(registered))
        contest = await self.store.registered(contest_id)
        if contest is None and feedback.contest_text is not None:
            answer, supervisor = self._checked(registered, entries, feedback, now)
            assert supervisor is not None  # checked() refuses a contest without one
            contest = await self._register_contest(registered, answer, feedback, supervisor, now)
            return FeedbackResult(rated, created=True, contest=contest)
        await self.publish(topics.ANSWER_FEEDBACK, rated)
        return FeedbackResult(rated, created=False, contest=contest)

    async def _register_contest(
        self,
        registered: AppealRegistered,
        answer: Answer,
        feedback: Feedback,
        supervisor: Agency,
        now: datetime,
    ) -> AppealRegistered:
        draft = contest_draft(registered, answer, feedback, supervisor, now)
        accepted = await self.accept(draft, registered.correlation_id)
        assert isinstance(accepted.event, AppealRegistered)  # a draft, never a rejection
        return accepted.event

    # --- Open311 (open311/: the edge; here what it reads and records) ----------------------

    async def registered_appeal(self, appeal_id: str) -> AppealRegistered | None:
        return await self.store.registered(appeal_id)

    async def note_open311(self, event: AppealRegistered) -> None:
        """List an appeal filed through Open311 in the public listing (again is a no-op)."""
        await self.store.add_open311_entry(
            Open311Entry(
                event.registration_number,
                event.received_at,
                event.category.value,
                event.region_kato,
            )
        )

    async def open311_entries(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Open311Entry]:
        return await self.store.open311_entries(start, end, limit)

    async def open311_status_of(self, registration_number: str) -> dict | None:
        """The public view of an appeal filed through Open311, or None: an unknown number,
        an appeal of another channel and one the public never sees alike (open311/)."""
        registered = await self.find_by_registration_number(registration_number)
        if registered is None or registered.channel is not Channel.OPEN311:
            return None
        return await self._public_view_of(registered)

    async def _public_view_of(self, registered: AppealRegistered) -> dict | None:
        """The public view (lookup.py) of an appeal, or None if the public never sees it."""
        if hidden_from_public(registered):
            return None
        return public_view(await self._status_of(registered))


def _kind(outcome: AppealDraft | Rejection) -> str:
    return outcome.kind.value if outcome.kind is not None else "unknown"
