"""The workspace's pure parts: the read model folds events in any order to the same view,
and an officer's forms become the body's decisions, or say which field is wrong."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import (
    AgencyAssignment,
    AppealAccepted,
    AppealAnswered,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    DeadlineExtended,
    SlaBreached,
    SlaWarning,
)
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from services.workspace import decisions
from services.workspace.decisions import FormErrors, Officer
from services.workspace.i18n import LABELS, LANGUAGES
from services.workspace.views import AppealView, applied, view_document

ALMATY = ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 3, 13, 10, 0, tzinfo=ALMATY)
OFFICER = Officer("a.temirbekov", "astana-energy")
EVENTS = [
    AgencyAssignment.example(),
    AppealAccepted.example(),
    SlaWarning.example(),
    DeadlineExtended.example(),
    SlaBreached.example(),
]


def folded(events: list) -> AppealView:
    view = None
    for event in events:
        view = applied(view, event) or view
    assert view is not None
    return view


def test_events_in_any_order_make_the_same_view_and_a_redelivery_adds_nothing() -> None:
    views = {folded(list(order)).state().__repr__() for order in itertools.permutations(EVENTS)}
    assert len(views) == 1
    view = folded(EVENTS + EVENTS[:2])
    assert len(view.entries) == len(EVENTS)
    state = view.state()
    assert state["status"] == "extended" and state["warned"] and state["breached"]
    assert state["holder"] == "astana-energy" and state["forward_due_at"] is None
    assert state["answer_due_at"] == DeadlineExtended.example().new_due_at.isoformat()


def test_answered_is_final_whatever_comes_after() -> None:
    view = folded([AgencyAssignment.example(), AppealAnswered.example(), SlaWarning.example()])
    assert view.state()["status"] == "answered"


def appeal() -> AppealView:
    return folded([AgencyAssignment.example()])  # received 5 March 2026


def test_an_extension_beyond_two_months_of_receipt_names_the_last_day() -> None:
    calendar = WorkingCalendar.default()
    with pytest.raises(FormErrors) as refused:
        decisions.extend(
            appeal(), OFFICER, {"new_due": "2026-05-20", "reason": "Проверка"}, "n1", NOW, calendar
        )
    key, values = refused.value.errors["new_due"]
    assert key == "beyond_cap" and values == {"cap": "05.05.2026"}


def test_an_extension_within_ends_at_the_end_of_work_and_a_resubmission_is_the_same() -> None:
    calendar = WorkingCalendar.default()
    form = {"new_due": "2026-04-20", "reason": "Нужна экспертиза"}
    first = decisions.extend(appeal(), OFFICER, form, "nonce-1", NOW, calendar)
    again = decisions.extend(appeal(), OFFICER, form, "nonce-1", NOW, calendar)
    other = decisions.extend(appeal(), OFFICER, form, "nonce-2", NOW, calendar)
    assert first.new_due_at == datetime(2026, 4, 20, 18, 0, tzinfo=calendar.tz)
    assert first.event_id == again.event_id != other.event_id
    assert first.agency_code == "astana-energy" and first.officer == "a.temirbekov"


def test_a_form_says_every_field_that_is_missing() -> None:
    with pytest.raises(FormErrors) as refused:
        decisions.answer(appeal(), OFFICER, {"outcome": "nonsense"}, "n", NOW)
    assert set(refused.value.errors) == {"summary", "how_to_obtain", "outcome"}
    with pytest.raises(FormErrors) as refused:
        decisions.redirect(
            appeal(), OFFICER, {"to_body": "astana-energy", "reason": "x"}, "n", NOW,
            AgencyRegistry.default(),
        )  # fmt: skip
    assert refused.value.errors["to_body"][0] == "unknown_body"
    with pytest.raises(FormErrors):
        decisions.extend(
            appeal(), OFFICER, {"new_due": "20.04.2026"}, "n", NOW, WorkingCalendar.default()
        )


def test_every_label_is_in_kazakh_and_russian() -> None:
    assert all(words.get(lang) for words in LABELS.values() for lang in LANGUAGES)
    assert LABELS["login"]["kk"] == "Кіру" and LABELS["login"]["ru"] == "Вход"


def test_an_appeal_waits_in_triage_with_its_text_until_it_is_routed() -> None:
    registered = AppealRegistered.example()
    triaged = AppealTriaged.example()
    waiting = folded([triaged, registered])  # any order
    assert waiting.state()["status"] == "in_triage" and waiting.text == registered.text
    assert waiting.state()["triaged"]["event_id"] == triaged.event_id
    assert view_document(waiting)["in_triage"] is True
    later = AppealRouted.example().model_copy(
        update={"occurred_at": triaged.occurred_at + timedelta(minutes=5), "hop": 1}
    )
    placed = folded([registered, triaged, later])
    assert placed.state()["status"] == "routed" and view_document(placed)["in_triage"] is False


def test_a_supervisor_counts_handled_on_time_breaches_and_the_daily_flow() -> None:
    from services.workspace.supervision import Period as Days
    from services.workspace.supervision import supervision

    assignment = AgencyAssignment.example()  # astana-energy, received 5 March 2026
    answered = AppealAnswered.example()  # 12 March, before the deadline
    breached = SlaBreached.example()  # answer deadline 1 April
    other = [e.model_copy(update={"appeal_id": "b"}) for e in (assignment, breached)]
    views = [folded([assignment, answered]), folded(other)]
    report = supervision(
        views, {"astana-energy", "akimat-astana"}, Days(date(2026, 3, 1), date(2026, 4, 30)), ALMATY
    )

    kpis = {k.agency_code: k for k in report.kpis}
    energy = kpis["astana-energy"]
    assert (energy.handled, energy.on_time, energy.consideration_breaches) == (1, 1, 1)
    assert energy.on_time_percent == 100.0 and kpis["akimat-astana"].handled == 0
    [(view, state)] = report.to_act_on
    assert view.appeal_id == "b" and state["breached"]
    flow = {day: (r, a) for day, r, a in report.flow}
    assert flow[date(2026, 3, 5)] == (2, 0) and flow[date(2026, 3, 12)] == (0, 1)
    assert len(report.flow) == 61 and report.busiest == 2
