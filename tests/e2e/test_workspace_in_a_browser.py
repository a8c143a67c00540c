"""The workspace in a real browser (Debian's chromium, driven by Playwright by executable
path) against the running system — real broker, real store, the four services and the
workspace served over HTTP: an officer logs in, sees the appeal routed to the body in the
inbox, accepts it, is refused an extension beyond two months (with the message), extends
within, answers — and the citizen's notice goes out and the status lookup says answered; an
officer of another body gets 403 on its URL; the interface speaks Kazakh and Russian.
Screenshots of each page go to tests/artifacts/workspace/ (ignored by git)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, async_playwright

from contracts import SlaBreached, deterministic_id, topics
from reference.calendar import WorkingCalendar
from reference.statute import extension_cap
from services.common.settings import settings_for
from services.workspace.app import create_app as create_workspace
from services.workspace.settings import WorkspaceSettings
from services.workspace.views import AppealView
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.http import served_over_http
from tests.support.system import RunningSystem, eventually, running_system

ALMATY = ZoneInfo("Asia/Almaty")
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "workspace"
CHROMIUM = "/usr/bin/chromium"
# As the machine notes say: without these, chromium's calls home are refused by the
# closed network, many at a time.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"


@dataclass
class Desk:
    system: RunningSystem
    app: object
    url: str


@pytest.fixture(scope="module")
async def desk(infra, run_prefix: str) -> AsyncIterator[Desk]:
    prefix = f"{run_prefix}ws-"
    async with running_system(infra.kafka_bootstrap_servers, infra.mongodb_url, prefix) as system:
        settings = WorkspaceSettings.specialise(
            settings_for(
                "workspace",
                kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                mongodb_url=infra.mongodb_url,
                topic_prefix=prefix,
                database_prefix=prefix,
            ),
            secure_cookies=False,  # plain HTTP on localhost
        )
        app = create_workspace(settings)
        async with app.router.lifespan_context(app):
            accounts = app.state.accounts
            assert await accounts.add_user("officer.energy", PASSWORD, "officer", "astana-energy")
            assert await accounts.add_user("officer.health", PASSWORD, "officer", "ministry-health")
            assert await accounts.add_user("officer.akimat", PASSWORD, "officer", "akimat-astana")
            assert await accounts.add_user("operator.desk", PASSWORD, "operator")
            assert await accounts.add_user(
                "supervisor.akimat", PASSWORD, "supervisor", "akimat-astana"
            )
            assert await accounts.add_user("admin.test", PASSWORD, "admin")
            assert await accounts.add_user(
                "officer.yesil", PASSWORD, "officer", "akimat-astana-yesil"
            )
            async with served_over_http({"workspace": app}) as ports:
                yield Desk(system, app, f"http://127.0.0.1:{ports['workspace']}")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def logged_in(browser: Browser, desk: Desk, username: str, start: str = "/inbox") -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{desk.url}/login")
    await page.get_by_label("Пайдаланушы аты").fill(username)  # Kazakh by default
    await page.get_by_label("Құпиясөз").fill(PASSWORD)
    await page.get_by_role("button", name="Кіру").click()
    await page.wait_for_url(f"{desk.url}{start}")
    return page


async def waiting_in_triage(desk: Desk, call_id: str, summary: str) -> tuple[str, AppealView]:
    """A call routing cannot place, sent; its id and view once it waits in the queue."""
    appeal_id = deterministic_id("appeal", "1414", call_id)
    call = call_1414(call_id) | {"topic_code": "other", "summary": summary}
    await desk.system.publish(topics.CHANNEL_1414, call, key=call_id)
    views = desk.app.state.views

    async def waiting() -> AppealView | None:
        view = await views.get(appeal_id)
        return view if view and view.state()["status"] == "in_triage" and view.text else None

    return appeal_id, await eventually(waiting, timeout=60)


async def test_an_operator_places_an_appeal_routing_could_not_and_it_reaches_the_body(
    desk: Desk, browser: Browser, unique_id: str
) -> None:
    appeal_id, view = await waiting_in_triage(
        desk, f"1414-triage-{unique_id}", "Прошу рассмотреть моё обращение."
    )
    views = desk.app.state.views
    page = await logged_in(browser, desk, "operator.desk", start="/triage")
    await page.get_by_role("link", name=view.registration_number).click()
    await page.wait_for_url(f"{desk.url}/triage/{appeal_id}")
    assert "Прошу рассмотреть" in await page.locator("main").inner_text()
    await page.screenshot(path=SHOTS / "triage.png", full_page=True)
    await page.locator("#decide").click()  # no reasoning: refused, with the field
    assert await page.locator("#note-error").inner_text() == "Толтыру міндетті."
    # Find the body in the registry: the city akimat's bodies by code, in Astana.
    every_body = await page.locator("#agency_code option").count()
    await page.get_by_label("Органды іздеу").fill("akimat-astana")
    await page.locator("#body_place").select_option("71")
    await page.locator("#find_body").click()
    await page.wait_for_url(f"{desk.url}/triage/{appeal_id}?*")
    found = await page.locator("#agency_code option").all_inner_texts()
    assert 1 < len(found) < every_body and all("akimat-astana" in o for o in found)
    await page.get_by_label("Қай органға").select_option("akimat-astana")
    await page.get_by_label("Негіздеме").fill("Қала әкімдігінің құзыреті.")
    await page.locator("#decide").click()
    await page.wait_for_url(f"{desk.url}/triage")

    async def routed_to_the_body() -> bool:
        current = await views.get(appeal_id)
        return current is not None and "akimat-astana" in current.bodies

    await eventually(routed_to_the_body, timeout=30)
    # Gone from the queue for everyone; in the body's inbox.
    await page.reload()
    assert await page.get_by_role("link", name=view.registration_number).count() == 0
    officer = await logged_in(browser, desk, "officer.akimat")
    await officer.get_by_role("link", name=view.registration_number).wait_for()


async def test_an_operator_dismisses_an_appeal_and_the_citizen_is_told_why(
    desk: Desk, browser: Browser, unique_id: str
) -> None:
    appeal_id, view = await waiting_in_triage(desk, f"1414-dismiss-{unique_id}", "Алло? Алло.")
    views = desk.app.state.views
    page = await logged_in(browser, desk, "operator.desk", start="/triage")
    await page.goto(f"{desk.url}/triage/{appeal_id}")
    await page.locator("#choice-dismiss").check()
    await page.locator("#decide").click()  # no ground, no note: both named
    assert await page.locator("#dismissal-error").inner_text() == (
        "Қараусыз қалдыру негізін таңдаңыз."
    )
    assert await page.locator("#note-error").inner_text() == "Толтыру міндетті."
    assert await page.locator("#choice-dismiss").is_checked()  # the choice is kept
    await page.get_by_label("Негізі").select_option("not_an_appeal")
    await page.get_by_label("Негіздеме").fill("Қоңырау үзілді, өтініш мәні айтылмады.")
    await page.screenshot(path=SHOTS / "triage-dismiss.png", full_page=True)
    await page.locator("#decide").dblclick()  # one decision
    await page.wait_for_url(f"{desk.url}/triage")

    async def dismissed() -> bool:
        current = await views.get(appeal_id)
        return current is not None and current.state()["status"] == "dismissed"

    await eventually(dismissed, timeout=30)
    await page.reload()
    assert await page.get_by_role("link", name=view.registration_number).count() == 0

    async def citizen_told() -> list:
        found = desk.system.db("notify")["notifications"].find(
            {"appeal_id": appeal_id, "template": "appeal_dismissed"}
        )
        return [n async for n in found]

    [notice] = await eventually(citizen_told, timeout=30)
    async with desk.system.http("intake") as http:
        status = await http.get(
            f"/v1/appeals/{view.registration_number}", headers=bearer("call-centre-operator")
        )
    assert status.json()["status"] == "dismissed"
    shown = [e for e in status.json()["timeline"] if e["event_type"] == "appeal.dismissed"]
    assert [e["reason_code"] for e in shown] == ["not_an_appeal"]  # the double click: one
    assert notice["language"] == "ru"  # the call's language


async def test_an_officer_accepts_extends_within_the_cap_and_answers(
    desk: Desk, browser: Browser, unique_id: str
) -> None:
    call_id = f"1414-ws-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    call = call_1414(call_id)
    await desk.system.publish(topics.CHANNEL_1414, call, key=call_id)
    views = desk.app.state.views

    async def in_read_model() -> object:
        view = await views.get(appeal_id)
        return view if view and view.registration_number and view.text else None

    view = await eventually(in_read_model, timeout=60)
    number = view.registration_number

    page = await logged_in(browser, desk, "officer.energy")
    await page.get_by_role("link", name=number).wait_for()
    await page.screenshot(path=SHOTS / "inbox.png", full_page=True)
    # Deadlines with the working days left, as the law counts them (Kazakh by default).
    assert "жұмыс күні қалды" in await page.locator("main").inner_text()
    await page.get_by_role("link", name=number).click()
    await page.wait_for_url(f"{desk.url}/appeals/{appeal_id}")
    assert await page.locator("h1").inner_text() == number
    assert "Органға түсті" in await page.locator("#timeline").inner_text()
    await page.screenshot(path=SHOTS / "appeal.png", full_page=True)

    async def state_is(status: str) -> bool:
        current = await views.get(appeal_id)
        return current is not None and current.state()["status"] == status

    # Accept (a double click is one decision: the form's nonce names it).
    await page.locator("#accept").dblclick()
    await page.get_by_role("status").wait_for()
    await eventually(lambda: state_is("accepted"), timeout=30)

    # Beyond two months from receipt: refused in the form, with the last day allowed.
    calendar = WorkingCalendar.default()
    received = datetime.fromisoformat(call["call_started_at"])
    cap = extension_cap(calendar, received)
    await page.goto(f"{desk.url}/appeals/{appeal_id}")
    await page.get_by_label("Жаңа мерзім (күні)").fill((cap + timedelta(days=3)).isoformat())
    await page.locator("#extend_reason").fill("Қосымша тексеру қажет.")
    await page.locator("#extend").click()
    error = page.locator("#new_due-error")
    await error.wait_for()
    assert "екі айдан" in await error.inner_text()
    assert cap.strftime("%d.%m.%Y") in await error.inner_text()
    await page.screenshot(path=SHOTS / "extension-refused.png", full_page=True)

    # Within: a working day between the deadline and the cap.
    due = datetime.fromisoformat((await views.get(appeal_id)).state()["answer_due_at"])
    within = next(
        d
        for d in (due.astimezone(ALMATY).date() + timedelta(days=n) for n in range(1, 40))
        if calendar.is_working_day(d) and d <= cap
    )
    await page.get_by_label("Жаңа мерзім (күні)").fill(within.isoformat())
    await page.locator("#extend_reason").fill("Қосымша тексеру қажет.")
    await page.locator("#extend").click()
    await page.get_by_role("status").wait_for()
    await eventually(lambda: state_is("extended"), timeout=30)

    # Answer.
    await page.get_by_label("Нәтижесі").select_option("satisfied")
    await page.get_by_label("Жауап мәтіні").fill("Жылу берілді, батареялар ыстық.")
    await page.get_by_label("Жауапты алу жолы").fill("eGov жеке кабинетінде.")
    await page.locator("#answer").click()
    await page.get_by_role("status").wait_for()
    await eventually(lambda: state_is("answered"), timeout=30)

    async def citizen_told() -> object:
        return await desk.system.db("notify")["notifications"].find_one(
            {"appeal_id": appeal_id, "template": "appeal_answered"}
        )

    await eventually(citizen_told, timeout=30)
    async with desk.system.http("intake") as http:
        status = await http.get(f"/v1/appeals/{number}", headers=bearer("call-centre-operator"))
    assert status.json()["status"] == "answered"
    # The inbox opens on the open appeals: an answered one is under "all" and "answered".
    # (The filter is a plain form: it works from the keyboard, without script.)
    await page.goto(f"{desk.url}/inbox")
    assert await page.get_by_role("link", name=number).count() == 0
    for status_shown, listed in (("all", 1), ("answered", 1), ("accepted", 0)):
        await page.locator("#status").select_option(status_shown)
        await page.locator("#filter").click()
        await page.wait_for_url(f"{desk.url}/inbox?status={status_shown}")
        assert await page.get_by_role("link", name=number).count() == listed
    extended = [e for e in status.json()["timeline"] if e["event_type"] == "agency.extended"]
    assert len(extended) == 1  # one extension, though the officer also tried another
    accepted = [e for e in status.json()["timeline"] if e["event_type"] == "agency.accepted"]
    assert len(accepted) == 1  # the double click: one decision

    # Another body's officer: 403 on this appeal's URL.
    other = await logged_in(browser, desk, "officer.health")
    answer = await other.goto(f"{desk.url}/appeals/{appeal_id}")
    assert answer is not None and answer.status == 403
    await other.screenshot(path=SHOTS / "forbidden.png")


async def test_a_supervisor_sees_the_bodies_under_it_with_their_kpis_and_daily_flow(
    desk: Desk, browser: Browser
) -> None:
    # After the officer's test: astana-energy (under the city akimat) answered one appeal.
    page = await logged_in(browser, desk, "supervisor.akimat")
    await page.get_by_role("link", name="Бақылау").click()
    await page.wait_for_url(f"{desk.url}/supervision")
    row = page.locator('#kpis tr[data-body="astana-energy"] td')
    assert int(await row.nth(1).inner_text()) >= 1  # handled
    assert await page.locator("svg[role=img] rect").count() >= 60  # 30 days, two bars each
    await page.screenshot(path=SHOTS / "supervision.png", full_page=True)
    officer = await logged_in(browser, desk, "officer.energy")
    answer = await officer.goto(f"{desk.url}/supervision")
    assert answer is not None and answer.status == 403


async def test_a_breach_escalated_to_the_city_akimat_is_on_its_supervisors_page(
    desk: Desk, browser: Browser, unique_id: str
) -> None:
    call_id = f"1414-late-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    await desk.system.publish(topics.CHANNEL_1414, call_1414(call_id), key=call_id)
    views = desk.app.state.views

    async def routed() -> object:
        view = await views.get(appeal_id)
        return view if view and view.bodies and view.registration_number else None

    view = await eventually(routed, timeout=60)
    # The breach as sla publishes it when the deadline passes (a real timer would take
    # weeks): escalated to the body's head and the city akimat.
    breached = SlaBreached.example().model_copy(
        update={
            "event_id": deterministic_id("test.breach", appeal_id),
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "timer_id": f"{appeal_id}:answer",
            "agency_code": view.bodies[-1],
            "escalate_to": [f"{view.bodies[-1]}:head", "akimat-astana"],
        }
    )
    await desk.system.publish(topics.SLA_EVENTS, breached.model_dump(mode="json"), key=appeal_id)

    async def escalated() -> bool:
        current = await views.get(appeal_id)
        return current is not None and "akimat-astana" in current.escalated_to

    await eventually(escalated, timeout=30)
    page = await logged_in(browser, desk, "supervisor.akimat")
    await page.goto(f"{desk.url}/supervision")
    escalations = page.locator("#escalated")
    await escalations.get_by_role("link", name=view.registration_number).click()
    await page.wait_for_url(f"{desk.url}/appeals/{appeal_id}")
    await page.goto(f"{desk.url}/supervision")
    await page.screenshot(path=SHOTS / "supervision-escalated.png", full_page=True)


async def test_an_admin_adds_an_officer_who_then_logs_in_to_the_bodys_inbox(
    desk: Desk, browser: Browser
) -> None:
    page = await logged_in(browser, desk, "admin.test", start="/admin/users")
    await page.get_by_label("Пайдаланушы аты").last.fill("officer.roads")
    await page.locator("#role").select_option("officer")
    await page.locator("#new-password").fill("short")
    await page.locator("#create-user").click()  # no body, a short password: both named
    assert "органға" in await page.locator("#agency-error").inner_text()
    assert "12" in await page.locator("#password-error").inner_text()
    await page.locator("#agency_code").select_option("astana-roads")
    await page.locator("#new-password").fill(PASSWORD)
    await page.locator("#create-user").click()
    await page.get_by_role("status").wait_for()
    assert "officer.roads" in await page.locator("table").inner_text()
    stored = await desk.app.state.accounts.user("officer.roads")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    newcomer = await logged_in(browser, desk, "officer.roads")
    assert "astana-roads" in await newcomer.locator("h1").inner_text()
    officer = await logged_in(browser, desk, "officer.energy")
    answer = await officer.goto(f"{desk.url}/admin/users")
    assert answer is not None and answer.status == 403

    # Disabled: the open session ends at once, and the password no longer opens one.
    await page.get_by_role("link", name="officer.roads").click()
    await page.wait_for_url(f"{desk.url}/admin/users/officer.roads")
    await page.locator("#disable").click()
    await page.get_by_role("status").wait_for()
    assert await page.locator("#access").inner_text() == "Бұғатталған"
    await newcomer.goto(f"{desk.url}/inbox")
    assert newcomer.url.startswith(f"{desk.url}/login")
    assert await desk.app.state.accounts.check("officer.roads", PASSWORD) is None
    # A new password (a short one named first), enabled again: the new one opens the inbox.
    await page.locator("#new-password").fill("short")
    await page.locator("#save-password").click()
    assert "12" in await page.locator("#password-error").inner_text()
    await page.locator("#new-password").fill(f"{PASSWORD} two")
    await page.locator("#save-password").click()
    await page.get_by_role("status").wait_for()
    await page.locator("#enable").click()
    await page.get_by_role("status").wait_for()
    await page.screenshot(path=SHOTS / "user.png", full_page=True)
    assert await desk.app.state.accounts.check("officer.roads", PASSWORD) is None
    assert await desk.app.state.accounts.check("officer.roads", f"{PASSWORD} two") is not None
    # The admin cannot lock themselves out.
    await page.goto(f"{desk.url}/admin/users/admin.test")
    await page.locator("#disable").click()
    assert "өзіңізді" in await page.locator("#action-error").inner_text()


async def test_an_officer_answers_a_mass_incident_once_for_all_its_appeals(
    desk: Desk, browser: Browser, unique_id: str
) -> None:
    start = datetime.now(ALMATY) - timedelta(minutes=10)
    members = []
    for i in range(5):  # the street lights of one district, five calls in five minutes
        call_id = f"1414-lights-{unique_id}-{i}"
        call = call_1414(call_id, start + timedelta(minutes=i)) | {
            "topic_code": "lighting",
            "kato_code": "711610000",
            "summary": "Во дворе не горят фонари.",
        }
        await desk.system.publish(topics.CHANNEL_1414, call, key=call_id)
        members.append(deterministic_id("appeal", "1414", call_id))
    incidents = desk.app.state.incidents

    async def opened() -> list:
        found = await incidents.open_of("akimat-astana-yesil")
        return [i for i in found if set(members) <= set(i.members)]

    [incident] = await eventually(opened, timeout=60)
    page = await logged_in(browser, desk, "officer.yesil")
    await page.locator("#incidents a").first.click()
    await page.wait_for_url(f"{desk.url}/incidents/{incident.incident_id}")
    assert await page.locator("#member-count").inner_text() == "5"
    await page.screenshot(path=SHOTS / "incident.png", full_page=True)
    await page.get_by_label("Жауап мәтіні").fill("Шамдар жөнделді.")
    await page.get_by_label("Жауапты алу жолы").fill("eGov жеке кабинетінде.")
    await page.locator("#answer-incident").click()
    await page.get_by_role("status").wait_for()
    views = desk.app.state.views

    async def all_answered() -> bool:
        states = [await views.get(a) for a in members]
        return all(v is not None and v.state()["status"] == "answered" for v in states)

    await eventually(all_answered, timeout=60)

    async def resolved() -> bool:
        current = await incidents.get(incident.incident_id)
        return current is not None and current.resolved

    await eventually(resolved, timeout=30)
    other = await logged_in(browser, desk, "officer.energy")
    refused = await other.goto(f"{desk.url}/incidents/{incident.incident_id}")
    assert refused is not None and refused.status == 403


async def test_the_interface_speaks_kazakh_and_russian_and_remembers(
    desk: Desk, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{desk.url}/login")
    assert await page.locator("h1").inner_text() == "Кіру"
    assert await page.locator("html").get_attribute("lang") == "kk"
    await page.screenshot(path=SHOTS / "login-kk.png")
    await page.get_by_role("link", name="Русский").click()
    assert await page.locator("h1").inner_text() == "Вход"
    await page.goto(f"{desk.url}/login")  # remembered
    assert await page.locator("h1").inner_text() == "Вход"
    await page.get_by_label("Имя пользователя").fill("officer.energy")
    await page.get_by_label("Пароль").fill("wrong")
    await page.get_by_role("button", name="Вход").click()
    assert "Неверное имя пользователя или пароль." in await page.get_by_role("alert").inner_text()
