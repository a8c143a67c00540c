"""The assessment tables from the tallies (pure): seed table 2 (by body, with subtotals by
level and by region) and seed table 6 (appeals by region, share, change on a year before).

Percentages are exact to one decimal, half up (`percent`); a share or change with nothing
to divide by is null, never 0. `on_time_percent` = handled on time / handled;
`disciplinary_percent` = breaches with action taken / breaches of both kinds (decisions are
counted with their breach's day, so the two are of the same period). A body is central when
the registry has it at the national level, local otherwise; a local body's region is that
of its jurisdiction (the KATO prefix's first two digits). Every body of the registry is
listed, with zeros when nothing happened; codes no longer in the registry are listed as
`unknown` (level and region) when they have counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from contracts import REGION_KATO
from reference.agencies import AgencyRegistry, Level
from services.sla.assessment.counting import UNKNOWN_REGION, Metric
from services.sla.assessment.store import DayTally

BodyLevel = Literal["central", "local", "unknown"]


@dataclass(frozen=True)
class Period:
    """From `first` to `last`, both days included (local days)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    def year_before(self) -> Period:
        """The same days a year earlier (29 February becomes the 28th)."""
        return Period(_year_before(self.first), _year_before(self.last))


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def percent(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    value = Decimal(part) * 100 / Decimal(whole)
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class Counts(BaseModel):
    """The body metrics of table 2."""

    handled: int = 0
    handled_on_time: int = 0
    on_time_percent: float | None = Field(default=None, description="Handled on time / handled.")
    consideration_breaches: int = 0
    forwarding_breaches: int = 0
    court_decisions: int = 0
    court_satisfied: int = Field(default=0, description="Appeals satisfied by court decision.")
    repeat_complaints: int = 0
    repeat_substantiated: int = Field(default=0, description="Repeated substantiated complaints.")
    disciplinary_decided: int = 0
    disciplinary_taken: int = 0
    disciplinary_percent: float | None = Field(
        default=None, description="Breaches with disciplinary action taken / breaches."
    )
    rated: int = Field(default=0, description="Answers the citizens rated.")
    rated_satisfied: int = 0
    satisfied_percent: float | None = Field(default=None, description="Rated satisfied / rated.")

    @classmethod
    def of(cls, tally: Counter[str]) -> Counts:
        handled = tally[Metric.HANDLED]
        breaches = tally[Metric.CONSIDERATION_BREACHES] + tally[Metric.FORWARDING_BREACHES]
        return cls(
            handled=handled,
            handled_on_time=tally[Metric.HANDLED_ON_TIME],
            on_time_percent=percent(tally[Metric.HANDLED_ON_TIME], handled),
            consideration_breaches=tally[Metric.CONSIDERATION_BREACHES],
            forwarding_breaches=tally[Metric.FORWARDING_BREACHES],
            court_decisions=tally[Metric.COURT_DECISIONS],
            court_satisfied=tally[Metric.COURT_SATISFIED],
            repeat_complaints=tally[Metric.REPEAT_COMPLAINTS],
            repeat_substantiated=tally[Metric.REPEAT_SUBSTANTIATED],
            disciplinary_decided=tally[Metric.DISCIPLINARY_DECIDED],
            disciplinary_taken=tally[Metric.DISCIPLINARY_TAKEN],
            disciplinary_percent=percent(tally[Metric.DISCIPLINARY_TAKEN], breaches),
            rated=tally[Metric.RATED],
            rated_satisfied=tally[Metric.RATED_SATISFIED],
            satisfied_percent=percent(tally[Metric.RATED_SATISFIED], tally[Metric.RATED]),
        )


class BodyRow(Counts):
    agency_code: str
    name: str
    level: BodyLevel
    region: str | None = Field(description="KATO region of a local body; null for central.")


class GroupRow(Counts):
    """A subtotal: all bodies of one level, or all local bodies of one region."""

    group: str = Field(description="`central`, `local`, or a KATO region code.")
    name: str
    bodies: int = Field(description="How many bodies the row sums.")


class RegionRow(BaseModel):
    """Table 6: appeals registered about a region."""

    region: str = Field(description="KATO region code (2 digits), or `unknown`.")
    name: str
    appeals: int
    share_percent: float | None = Field(description="Of all appeals of the period.")
    previous_appeals: int | None = Field(description="Same period a year before (if asked).")
    change_percent: float | None = Field(
        description="(appeals − previous) / previous; null when there were none before."
    )


class Assessment(BaseModel):
    first_day: date
    last_day: date
    previous_first_day: date | None
    previous_last_day: date | None
    language: str
    bodies: list[BodyRow]
    levels: list[GroupRow]
    body_regions: list[GroupRow]
    regions: list[RegionRow]
    total_appeals: int
    previous_total_appeals: int | None
    total_change_percent: float | None


_LEVEL_NAMES = {
    "central": {"kk": "Орталық мемлекеттік органдар", "ru": "Центральные государственные органы"},
    "local": {"kk": "Жергілікті атқарушы органдар", "ru": "Местные исполнительные органы"},
    "unknown": {"kk": "Тізілімде жоқ органдар", "ru": "Органы вне реестра"},
}
_UNKNOWN_REGION_NAME = {"kk": "Орны көрсетілмеген", "ru": "Место не указано"}


def region_name(region: str | None, language: str) -> str:
    if region is None or region == UNKNOWN_REGION:
        return _UNKNOWN_REGION_NAME[language]
    titles = REGION_KATO.get(region)
    return titles[language] if titles else region


def _tallies_by(rows: Iterable[DayTally], kind: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for row in rows:
        prefix, _, name = row.subject.partition(":")
        if prefix == kind:
            out.setdefault(name, Counter()).update(row.counts)
    return out


def assessment(
    registry: AgencyRegistry,
    period: Period,
    rows: list[DayTally],
    previous: tuple[Period, list[DayTally]] | None = None,
    language: str = "ru",
) -> Assessment:
    """The tables for `period` from its tallies `rows`; with `previous` (the same period a
    year before and its tallies), table 6 compares."""
    by_body = _tallies_by(rows, "body")
    body_rows: list[BodyRow] = []
    codes = list(registry.by_code) + sorted(set(by_body) - set(registry.by_code))
    for code in codes:
        agency = registry.by_code.get(code)
        level: BodyLevel
        if agency is None:
            level, region, name = "unknown", None, code
        elif agency.level is Level.NATIONAL:
            level, region, name = "central", None, agency.names.get(language, code)
        else:
            region = next((p[:2] for p in agency.jurisdiction if len(p) >= 2), None)
            level, name = "local", agency.names.get(language, code)
        counts = Counts.of(by_body.get(code, Counter()))
        body_rows.append(
            BodyRow(agency_code=code, name=name, level=level, region=region, **counts.model_dump())
        )
    body_rows.sort(
        key=lambda r: (
            ("central", "local", "unknown").index(r.level),
            r.region or "",
            r.agency_code,
        )
    )

    def group(key: str, name: str, members: list[BodyRow]) -> GroupRow:
        total: Counter[str] = Counter()
        for member in members:
            total.update(by_body.get(member.agency_code, Counter()))
        return GroupRow(group=key, name=name, bodies=len(members), **Counts.of(total).model_dump())

    levels = [
        group(level, _LEVEL_NAMES[level][language], [r for r in body_rows if r.level == level])
        for level in ("central", "local", "unknown")
        if any(r.level == level for r in body_rows)
    ]
    local_regions = sorted({r.region for r in body_rows if r.level == "local" and r.region})
    body_regions = [
        group(region, region_name(region, language), [r for r in body_rows if r.region == region])
        for region in local_regions
    ]

    appeals = {k: c[Metric.REGISTERED] for k, c in _tallies_by(rows, "region").items()}
    before = (
        {k: c[Metric.REGISTERED] for k, c in _tallies_by(previous[1], "region").items()}
        if previous
        else None
    )
    total = sum(appeals.values())
    previous_total = sum(before.values()) if before is not None else None
    regions = []
    for region in [*REGION_KATO, *sorted((set(appeals) | set(before or {})) - set(REGION_KATO))]:
        n = appeals.get(region, 0)
        was = before.get(region, 0) if before is not None else None
        if region not in REGION_KATO and not n and not was:
            continue
        regions.append(
            RegionRow(
                region=region,
                name=region_name(region, language),
                appeals=n,
                share_percent=percent(n, total),
                previous_appeals=was,
                change_percent=percent(n - was, was) if was is not None else None,
            )
        )
    return Assessment(
        first_day=period.first,
        last_day=period.last,
        previous_first_day=previous[0].first if previous else None,
        previous_last_day=previous[0].last if previous else None,
        language=language,
        bodies=body_rows,
        levels=levels,
        body_regions=body_regions,
        regions=regions,
        total_appeals=total,
        previous_total_appeals=previous_total,
        total_change_percent=percent(total - previous_total, previous_total)
        if previous_total is not None
        else None,
    )
