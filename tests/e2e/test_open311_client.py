"""Open311 GeoReport v2 on the running system, over real HTTP: a published Open311 client
library from PyPI (`georeport`, unmodified) reads the catalogue and the requests; filing
goes as the spec's plain form POST (the library cannot file), and the XML forms as plain
HTTP too. An appeal filed this way is followed to the citizen's notice, like a 1414 call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from georeport import GeoReport

from contracts import topics
from reference.agencies import AgencyRegistry
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.http import served_over_http
from tests.support.system import E2E_CLIENT_KEY, RunningSystem, TopicWatcher, eventually

ASTANA = ("51.1283", "71.4305")
TASHKENT = ("41.30", "69.24")


@pytest.fixture(scope="module")
async def endpoint(system: RunningSystem) -> AsyncIterator[str]:
    async with served_over_http({"intake": system.apps["intake"]}) as ports:
        yield f"http://127.0.0.1:{ports['intake']}/open311/v2"


def filed(**changes: str) -> dict[str, str]:
    form = {
        "api_key": E2E_CLIENT_KEY,
        "jurisdiction_id": "kz",
        "service_code": "utilities.heating",
        "lat": ASTANA[0],
        "long": ASTANA[1],
        "first_name": "Ерлан",
        "last_name": "Ахметов",
        "phone": "+77011234567",
        "description": f"Нет отопления в доме третьи сутки ({uuid.uuid4().hex[:8]}).",
        "attribute[kind]": "complaint",
        "locale": "ru",
    }
    return {**form, **changes}


async def post(endpoint: str, form: dict[str, str], fmt: str = "json") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{endpoint}/requests.{fmt}", data=form)


async def get(endpoint: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{endpoint}/{path}", params=params)


async def one_event(system: RunningSystem, topic: str, appeal_id: str) -> dict[str, Any]:
    """The appeal's event on `topic`; every one seen so far carries the same id (the form
    posted twice republishes the very event)."""
    async with TopicWatcher(system.bootstrap, system.topic(topic)) as watch:
        found = await watch.wait_for(lambda event: event.get("appeal_id") == appeal_id)
    assert len({event["event_id"] for event in found}) == 1, found
    return found[0]


async def test_an_open311_client_files_an_appeal_and_follows_it_to_the_citizens_notice(
    system: RunningSystem, endpoint: str
) -> None:
    discovery = (await get(endpoint, "discovery.json")).json()
    assert discovery["endpoints"][0]["url"] == endpoint
    library = GeoReport(endpoint, jurisdiction="kz")

    services = await asyncio.to_thread(library.get_service_list)
    heating = next(s for s in services if s["service_code"] == "utilities.heating")
    assert heating["service_name"] == "Жылумен жабдықтау"  # Kazakh unless asked otherwise
    assert heating["metadata"] is True
    definition = await asyncio.to_thread(library.get_service_definition, "utilities.heating")
    assert [a["code"] for a in definition["attributes"]] == ["kind", "iin"]

    form = filed()
    response = await post(endpoint, form)
    assert response.status_code == 201, response.text
    [answer] = response.json()
    number, token = answer["service_request_id"], answer["token"]
    assert number.startswith("ZH-") and number in answer["service_notice"]
    again = await post(endpoint, form)  # a client retrying: the same appeal, the same number
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == number
    [resolved] = (await get(endpoint, f"tokens/{token}.json")).json()
    assert resolved == {"service_request_id": number, "token": token}

    # Registered, routed, timed and notified like any channel's appeal.
    registered = await one_event(system, topics.APPEALS_REGISTERED, token)
    assert registered["channel"] == "open311" and registered["region_kato"].startswith("711")
    assert registered["language"] == "ru" and registered["kind"] == "complaint"
    routed = await one_event(system, topics.APPEALS_ROUTED, token)
    assert routed["agency_code"] == "astana-energy"
    started = await one_event(system, topics.SLA_EVENTS, token)
    assert started["event_type"] == "sla.started"
    notice = await one_event(system, topics.NOTIFICATION_OUTCOMES, token)
    assert (notice["status"], notice["language"]) == ("sent", "ru")

    # The library reads it back: open, with the body and the statutory deadline.
    body = AgencyRegistry.default().get("astana-energy")
    assert body is not None

    def shown() -> dict[str, Any] | None:
        found = library.get_service_request(number)
        return found if found.get("agency_responsible") == body.names["kk"] else None

    request = await eventually(lambda: asyncio.to_thread(shown))
    assert request["status"] == "open" and request["service_code"] == "utilities.heating"
    expected = datetime.fromisoformat(request["expected_datetime"])
    assert expected == datetime.fromisoformat(registered["answer_due_at"])
    assert request["address_id"] == registered["region_kato"][:4] + "00000"  # district only
    assert request["description"] is None  # never the citizen's text
    listed = await asyncio.to_thread(library.get_service_requests, service_code="utilities.heating")
    assert number in [r["service_request_id"] for r in listed]

    # XML says the same as JSON, through the library and as plain HTTP.
    as_xml = await asyncio.to_thread(
        GeoReport(endpoint, jurisdiction="kz", output_format="xml").get_service_request, number
    )
    assert as_xml["service_request_id"] == number
    assert as_xml["agency_responsible"] == request["agency_responsible"]
    xml = ElementTree.fromstring((await get(endpoint, f"requests/{number}.xml")).content)
    [element] = xml.findall("request")
    for field, value in request.items():
        text = element.findtext(field)
        assert (text or None) == (None if value is None else str(value)), field


async def test_xml_and_json_list_the_same_services_in_the_asked_language(endpoint: str) -> None:
    as_json = (await get(endpoint, "services.json", locale="en")).json()
    root = ElementTree.fromstring((await get(endpoint, "services.xml", locale="en")).content)
    assert root.tag == "services"
    as_xml = [{child.tag: child.text for child in service} for service in root]
    assert [s["service_code"] for s in as_xml] == [s["service_code"] for s in as_json]
    assert [s["service_name"] for s in as_xml] == [s["service_name"] for s in as_json]
    assert as_json[0]["service_name"] == "Healthcare"


async def test_the_specs_errors_for_a_bad_key_a_bad_code_and_a_point_outside_the_country(
    system: RunningSystem, endpoint: str
) -> None:
    refused = await post(endpoint, filed(api_key="not-a-key-of-ours"))
    assert refused.status_code == 403
    [error] = refused.json()
    assert error["code"] == 403 and "api_key" in error["description"]
    refused_xml = await post(endpoint, filed(api_key=""), fmt="xml")
    root = ElementTree.fromstring(refused_xml.content)
    assert refused_xml.status_code == 403 and root.tag == "errors"
    assert root.find("error/code").text == "403"  # type: ignore[union-attr]

    assert (await get(endpoint, "services/no.such.service.json")).status_code == 404
    bad_code = await post(endpoint, filed(service_code="no.such.service"))
    assert bad_code.status_code == 400 and "service_code" in bad_code.json()[0]["description"]
    outside = await post(endpoint, filed(lat=TASHKENT[0], long=TASHKENT[1]))
    assert outside.status_code == 400
    assert "outside Kazakhstan" in outside.json()[0]["description"]
    invalid = await post(endpoint, filed(**{"attribute[kind]": "wish", "phone": "12"}))
    assert invalid.status_code == 400
    assert {e["description"].split(":")[0] for e in invalid.json()} == {"attribute[kind]", "phone"}

    unknown = await get(endpoint, "services.json", jurisdiction_id="kz-99")
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404

    # An appeal of another channel is not in the public Open311 feed: the same 404.
    call = call_1414(f"1414-o311-{uuid.uuid4().hex[:8]}")
    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REGISTERED)) as watch:
        [other] = await watch.wait_for(lambda e: e.get("channel_appeal_id") == call["call_id"])
    hidden = await get(endpoint, f"requests/{other['registration_number']}.json")
    assert hidden.status_code == 404
