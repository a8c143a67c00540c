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
    AppealDismissed,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    Category,
    DeadlineExtended,
    DismissalReason,
    SlaBreached,
    SlaWarning,
)
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from services.workspace import decisions
from services.workspace.body_search import BodySearch, find_bodies
from services.workspace.decisions import FormErrors, Officer
from services.workspace.i18n import LABELS, LANGUAGES
from services.workspace.views import AppealView, applied, view_document, view_from

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
    assert view_from(view_document(waiting)) == waiting  # stored and read back whole
    later = AppealRouted.example().model_copy(
        update={"occurred_at": triaged.occurred_at + timedelta(minutes=5), "hop": 1}
    )
    placed = folded([registered, triaged, later])
    assert placed.state()["status"] == "routed"


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


def test_a_triage_form_routes_to_a_body_or_dismisses_on_a_ground_with_a_note() -> None:
    waiting = folded([AppealTriaged.example(), AppealRegistered.example()])
    registry = AgencyRegistry.default()

    def decide(form: dict[str, str], nonce: str = "n1"):
        return decisions.triage(waiting, "t-1", "op.madina", form, nonce, NOW, registry)

    routed = decide({"agency_code": "akimat-astana", "note": "Двор ОСИ"})
    assert (routed.agency_code, routed.dismissal, routed.triage_event_id) == (
        "akimat-astana",
        None,
        "t-1",
    )
    dismissed = decide({"choice": "dismiss", "dismissal": "offensive", "note": "Только брань"})
    assert (dismissed.agency_code, dismissed.dismissal) == (None, DismissalReason.OFFENSIVE)
    # A resubmitted form (same nonce) is the same decision; another nonce another one.
    again = decide({"choice": "dismiss", "dismissal": "offensive", "note": "Только брань"})
    assert again.event_id == dismissed.event_id and again.decision_id == dismissed.decision_id
    assert decide({"agency_code": "akimat-astana", "note": "x"}, "n2").event_id != routed.event_id

    with pytest.raises(FormErrors) as refused:
        decide({"choice": "dismiss", "dismissal": "because", "note": ""})
    assert refused.value.errors == {
        "note": ("field_required", {}),
        "dismissal": ("dismissal_required", {}),
    }
    with pytest.raises(FormErrors) as refused:
        decide({"choice": "route", "agency_code": "no-such-body", "note": "x"})
    assert refused.value.errors == {"agency_code": ("unknown_body", {})}
    with pytest.raises(FormErrors) as refused:
        decide({"choice": "both", "note": "x"})
    assert set(refused.value.errors) == {"choice"}


def test_a_dismissed_appeal_leaves_the_triage_queue_for_good() -> None:
    triaged = AppealTriaged.example()
    dismissed = AppealDismissed.example().model_copy(
        update={"occurred_at": triaged.occurred_at + timedelta(minutes=5)}
    )
    for order in itertools.permutations([AppealRegistered.example(), triaged, dismissed]):
        view = folded(list(order))
        state = view.state()
        assert (state["status"], state["holder"]) == ("dismissed", None)
        assert view_from(view_document(view)) == view


def test_the_body_picker_finds_bodies_by_name_category_and_place() -> None:
    registry = AgencyRegistry.default()

    def codes(search: BodySearch, **kwargs) -> list[str]:
        return [code for code, _ in find_bodies(registry, search, "ru", **kwargs)]

    # Every word, any language, any case; the name in the user's language.
    assert codes(BodySearch(text="ЭНЕРГ астан")) == ["astana-energy"]
    assert find_bodies(registry, BodySearch(text="astana-energy"), "kk")[0][1].startswith(
        "Астана қаласының"
    )
    # Competent for heating with jurisdiction in Astana (71): the city's bodies first, the
    # national ones after (they have jurisdiction everywhere); none of Almaty's.
    heating = codes(BodySearch(category=Category.UTILITIES_HEATING, place="71"))
    assert heating[:2] == ["akimat-astana", "astana-energy"]  # same reach: by Russian name
    reach = [max(len(p) for p in registry.by_code[c].jurisdiction) for c in heating]
    assert reach == sorted(reach, reverse=True) and reach[-1] == 0
    heats = Category.UTILITIES_HEATING
    assert all(registry.by_code[c].is_competent(heats, "711210000") for c in heating)
    assert not any(c.startswith("almaty") for c in heating)
    # Routing's candidates come first, in its order; the officer's own body never.
    everyone = codes(BodySearch(), proposed=["ministry-health", "akimat-astana"])
    assert everyone[:2] == ["ministry-health", "akimat-astana"]
    assert len(everyone) == len(registry.by_code)
    assert "astana-energy" not in codes(BodySearch(), leave_out="astana-energy")
    # A stale link's unknown values are ignored, not an error.
    assert BodySearch.of({"body_category": "nonsense", "body_place": "999"}) == BodySearch()


def test_a_breach_escalated_to_a_body_is_that_supervisors_to_act_on_until_answered() -> None:
    from services.workspace.supervision import Period as Days
    from services.workspace.supervision import supervision

    assignment = AgencyAssignment.example()  # astana-energy
    breached = SlaBreached.example().model_copy(
        update={"escalate_to": ["astana-energy:head", "akimat-astana"]}
    )
    late = folded([assignment, breached])
    period = Days(date(2026, 3, 1), date(2026, 4, 30))
    assert late.escalated_to == ("astana-energy", "akimat-astana")
    assert view_from(view_document(late)).escalated_to == late.escalated_to

    # The city akimat: escalated to it — listed there, not again among the breaches to act on.
    city = supervision(
        [late], {"akimat-astana", "astana-energy"}, period, ALMATY, [late], "akimat-astana"
    )
    assert [v.appeal_id for v, _ in city.escalated] == [late.appeal_id] and city.to_act_on == []
    # A body the escalation did not name sees it as a breach of its own bodies only.
    other = supervision([late], {"astana-energy"}, period, ALMATY, [late], "ministry-energy")
    assert other.escalated == [] and [v.appeal_id for v, _ in other.to_act_on] == [late.appeal_id]
    # Answered: nothing left to act on.
    done = folded([assignment, breached, AppealAnswered.example()])
    assert done.state()["status"] == "answered"
    assert supervision([done], set(), period, ALMATY, [done], "akimat-astana").escalated == []


def test_the_admins_user_forms_say_which_field_is_wrong_and_keep_an_admin() -> None:
    from services.workspace.accounts import User
    from services.workspace.user_forms import (
        AccessChange,
        NewUser,
        PasswordChange,
        RoleChange,
        new_user,
        user_change,
    )

    registry = AgencyRegistry.default()
    good = "correct horse battery staple"
    assert new_user(
        {
            "username": " Officer.Roads ",
            "role": "officer",
            "agency_code": "astana-roads",
            "password": good,
        },
        registry,
    ) == NewUser("officer.roads", "officer", "astana-roads", good)
    # An operator belongs to no body: a body sent along is dropped.
    assert (
        new_user(
            {
                "username": "desk",
                "role": "operator",
                "agency_code": "astana-roads",
                "password": good,
            },
            registry,
        ).agency_code
        is None
    )
    with pytest.raises(FormErrors) as refused:
        new_user({"username": "x", "role": "supervisor", "password": "short"}, registry)
    assert set(refused.value.errors) == {"username", "agency_code", "password"}

    admin = User("admin", "admin", None, "hash")
    officer = User("officer.roads", "officer", "astana-roads", "hash")
    assert user_change(
        {"action": "role", "role": "supervisor", "agency_code": "akimat-astana"},
        registry,
        officer,
        admin,
    ) == RoleChange("supervisor", "akimat-astana")
    assert user_change({"action": "password", "password": good}, registry, officer, admin) == (
        PasswordChange(good)
    )
    assert user_change({"action": "disable"}, registry, officer, admin) == AccessChange(True)
    assert user_change({"action": "enable"}, registry, officer, admin) == AccessChange(False)
    for form, field, key in (
        ({"action": "disable"}, "action", "not_yourself"),
        ({"action": "role", "role": "operator"}, "role", "not_yourself"),
        ({"action": "password", "password": "short"}, "password", "password_short"),
        ({"action": "delete"}, "action", "field_required"),
    ):
        with pytest.raises(FormErrors) as refused:
            user_change(form, registry, admin, admin)
        assert refused.value.errors[field][0] == key
    for key in ("not_yourself", "user_disabled", "no_such_user", "dismissal_required"):
        assert all(LABELS[key][lang] for lang in LANGUAGES)


def test_working_days_left_are_counted_as_the_law_counts_them() -> None:
    from services.workspace.views import _SHOWN, working_days_left

    calendar = WorkingCalendar.default()
    due = datetime(2026, 4, 1, 18, 0, tzinfo=ALMATY)  # Wednesday
    # Thursday 19 March: Friday 20, then 23–25 March off (Nauryz), 26, 27, 30, 31 March, 1 April.
    assert working_days_left(calendar, datetime(2026, 3, 19, 10, tzinfo=ALMATY), due) == 6
    assert working_days_left(calendar, datetime(2026, 4, 1, 9, tzinfo=ALMATY), due) == 0
    assert working_days_left(calendar, datetime(2026, 4, 1, 18, 1, tzinfo=ALMATY), due) is None
    # Every event the timeline shows has its words in both languages.
    for event_class in _SHOWN:
        key = "event." + event_class.model_fields["event_type"].default
        assert all(LABELS[key][lang] for lang in LANGUAGES)
