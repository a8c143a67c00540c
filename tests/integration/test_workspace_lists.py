"""The workspace's read model on the real MongoDB-wire server (services/workspace/store.py):
every list a page polls — a body's appeals, the triage queue, escalations, a registration
number — is answered from `_id`, follows the appeal's view, and survives a crash between
the list's write and the view's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import (
    AgencyAssignment,
    AppealAnswered,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    SlaBreached,
)
from services.workspace.store import (
    APPEALS,
    BODY_APPEALS,
    NOT_LISTED,
    AppealViews,
    _Listing,
)
from services.workspace.views import applied, view_document


@pytest.fixture
def views(scratch_db) -> AppealViews:
    return AppealViews(scratch_db)


def of(event, appeal_id: str, **changes):
    return event.model_copy(
        update={"appeal_id": appeal_id, "event_id": f"{event.event_type}-{appeal_id}", **changes}
    )


async def test_a_bodys_inbox_an_escalation_and_a_number_are_found_by_id(views) -> None:
    energy = of(AgencyAssignment.example(), "a-1", registration_number="ZH-1")
    health = of(AgencyAssignment.example(), "a-2", agency_code="ministry-health")
    for event in (energy, health, energy):  # a redelivery lists nothing twice
        await views.apply(event)
    breached = of(SlaBreached.example(), "a-1", escalate_to=["astana-energy:head", "akimat-astana"])
    await views.apply(breached)

    assert [v.appeal_id for v in await views.of_bodies({"astana-energy"})] == ["a-1"]
    assert {v.appeal_id for v in await views.of_bodies({"astana-energy", "ministry-health"})} == {
        "a-1",
        "a-2",
    }
    assert await views.of_bodies({"astana"}) == []  # a prefix of a code is not the body
    assert [v.appeal_id for v in await views.escalated_to("akimat-astana")] == ["a-1"]
    assert await views.escalated_to("ministry-health") == []
    found = await views.by_number("ZH-1")
    assert found is not None and found.appeal_id == "a-1"
    assert await views.by_number("ZH-404") is None
    assert await views.body_appeals.count_documents({}) == 2


async def test_the_triage_queue_holds_an_appeal_while_it_waits_and_not_after(views) -> None:
    registered = of(AppealRegistered.example(), "t-1")
    triaged = of(AppealTriaged.example(), "t-1")
    await views.apply(registered)
    await views.apply(triaged)
    assert [v.appeal_id for v in await views.in_triage()] == ["t-1"]

    routed = of(
        AppealRouted.example(), "t-1", hop=1, occurred_at=triaged.occurred_at + timedelta(hours=1)
    )
    await views.apply(routed)
    assert await views.in_triage() == []
    assert await views.triage_queue.count_documents({}) == 0


async def test_the_open_inbox_holds_what_the_body_holds_until_it_is_answered(views) -> None:
    assignment = of(AgencyAssignment.example(), "o-1")  # astana-energy
    await views.apply(assignment)
    assert [v.appeal_id for v in await views.open_of_bodies({"astana-energy"})] == ["o-1"]

    # Redirected and routed to the city akimat: the akimat's now, not the department's.
    later = assignment.occurred_at + timedelta(hours=2)
    elsewhere = of(
        AgencyAssignment.example(),
        "o-1",
        agency_code="akimat-astana",
        event_id="agency.assignment-o-1-hop-1",
        occurred_at=later,
    )
    await views.apply(elsewhere)
    assert await views.open_of_bodies({"astana-energy"}) == []
    assert [v.appeal_id for v in await views.open_of_bodies({"akimat-astana"})] == ["o-1"]
    assert [v.appeal_id for v in await views.of_bodies({"astana-energy"})] == ["o-1"]  # all

    # Answered: out of every body's open inbox, and its entries gone.
    answered = of(AppealAnswered.example(), "o-1", agency_code="akimat-astana", occurred_at=later)
    await views.apply(answered.model_copy(update={"occurred_at": later + timedelta(hours=1)}))
    assert await views.open_of_bodies({"astana-energy", "akimat-astana"}) == []
    assert await views.open_appeals.count_documents({}) == 0
    assert len(await views.of_bodies({"astana-energy", "akimat-astana"})) == 1


async def test_a_crash_between_the_lists_and_the_view_shows_nothing_wrong(views) -> None:
    # The lists were written, the view was not (the crash): the entry leads to no appeal.
    assignment = of(AgencyAssignment.example(), "c-1")
    await views._list("c-1", NOT_LISTED, _Listing.of(applied(None, assignment)))
    assert await views.of_bodies({"astana-energy"}) == []
    # The redelivered event writes the view (and the list entry again, harmlessly).
    assert await views.apply(assignment)
    assert [v.appeal_id for v in await views.of_bodies({"astana-energy"})] == ["c-1"]


async def test_a_database_from_before_the_lists_is_listed_once_at_start(views) -> None:
    older = applied(None, of(AgencyAssignment.example(), "o-1"))
    document = view_document(older) | {"in_triage": False, "escalated_to": []}  # old shape
    await views.appeals.insert_one(document)
    assert await views.of_bodies({"astana-energy"}) == []

    assert await views.list_existing() == 1
    assert await views.list_existing() == 0  # once
    [listed] = await views.of_bodies({"astana-energy"})
    assert listed == older
    assert await views.open_of_bodies({"astana-energy"}) == [older]


async def test_a_bodys_inbox_is_an_id_range_and_its_views_an_id_lookup(views, scratch_db) -> None:
    await views.apply(of(AgencyAssignment.example(), "p-1"))
    for find in (
        {
            "find": BODY_APPEALS,
            "filter": {"_id": {"$gte": "astana-energy|", "$lt": "astana-energy}"}},
        },
        {"find": APPEALS, "filter": {"_id": {"$in": ["p-1"]}}},
    ):
        plan = await scratch_db.command("explain", find)
        described = str(plan.get("queryPlanner", plan))
        if "Plan" in described:  # FerretDB (SQLite): the plan names the index it searches
            assert "USING INDEX" in described and "SCAN" not in described.replace("SEARCH", "")
