"""The annual performance assessment's tables, exactly, for any period (issue 15, part 3).

Prometheus answers "now"; an assessment asks "how many in Q1, by body, against a year
before". sla keeps per-day tallies for it, fed by its own consumer group
(`tyndau-sla.assessment`) from `appeals.registered.v1`, `sla.events.v1` and
`appeals.outcomes.v1`, and answers from them:

- `counting.py` — the counting rules: which event adds what, to whom, on which day (pure);
- `store.py` — the tallies (`_id` = day|subject|source, range-read per period; each event
  counted once, by its id);
- `report.py` — tables 2 and 6 from the tallies (pure), `render.py` — CSV and printable HTML;
- `outcomes.py` — recording court and disciplinary decisions and verdicts on repeat
  complaints (they happen outside the backbone), published on `appeals.outcomes.v1`;
- `routes.py` — `GET /v1/reports/assessment`, `POST /v1/outcomes/...`;
- `__main__.py` — `python -m services.sla.assessment report --from ... --to ...`.
"""

from __future__ import annotations

from datetime import tzinfo

from contracts import (
    CourtDecisionRecorded,
    DisciplinaryDecisionRecorded,
    Event,
    RepeatComplaintDecided,
)
from reference.agencies import AgencyRegistry
from services.sla.assessment.counting import contribution
from services.sla.assessment.outcomes import OutcomeLog
from services.sla.assessment.report import Assessment, Period, assessment
from services.sla.assessment.store import TallyKey, TallyStore


class Assessments:
    """Counts events into the tallies, and makes the tables of a period from them."""

    def __init__(
        self, store: TallyStore, registry: AgencyRegistry, tz: tzinfo, outcomes: OutcomeLog
    ) -> None:
        self.outcomes = outcomes
        self.store = store
        self.registry = registry
        self.tz = tz

    async def count(self, event: Event, source: str) -> bool:
        """Add what `event` counts for (once per event id); `source` is the topic and
        partition it came from (one writer per tally document). False: it counts nothing.
        An outcome counts as its first copy (outcomes.py): two versions of one decision, on
        different days, are one."""
        if isinstance(
            event, CourtDecisionRecorded | DisciplinaryDecisionRecorded | RepeatComplaintDecided
        ):
            event = await self.outcomes.first_copy(event)
        added = contribution(event, self.tz)
        if added is None:
            return False
        key = TallyKey(added.day, added.subject, source)
        await self.store.add(key, event.event_id, {str(m): n for m, n in added.counts.items()})
        return True

    async def report(
        self, period: Period, *, compare_previous_year: bool = False, language: str = "ru"
    ) -> Assessment:
        rows = await self.store.read(period.first, period.last)
        previous = None
        if compare_previous_year:
            before = period.year_before()
            previous = (before, await self.store.read(before.first, before.last))
        return assessment(self.registry, period, rows, previous, language)
