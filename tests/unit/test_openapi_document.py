"""The OpenAPI documents are made from the routes: every route of every service is described,
its answers are the models the handlers serialise through, and a route nobody described
cannot be served undetected."""

from __future__ import annotations

import importlib

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.http import service_openapi
from services.common.openapi import (
    ErrorBody,
    Operation,
    Reply,
    Undocumented,
    documented,
    one_route_per_path,
    openapi_document,
    reply,
)
from services.common.settings import settings_for

SERVICES = ("intake", "routing", "sla", "notify")


def app_of(service: str) -> Starlette:
    settings = settings_for(service, kafka_bootstrap_servers="127.0.0.1:9092")
    return importlib.import_module(f"services.{service}.app").create_app(settings)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_and_method_of_the_service_is_in_its_document(service: str) -> None:
    app = app_of(service)
    document = service_openapi(app)
    served = {
        (route.path, method.lower())
        for route in app.routes
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {
        (path, method) for path, methods in document["paths"].items() for method in methods
    }
    assert served == described
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            # The limits every request passes are documented everywhere, not left implicit.
            assert {"405", "414", "431"} <= set(operation["responses"]), (path, method)
            for answer in operation["responses"].values():
                for content in answer.get("content", {}).values():
                    reference = content["schema"].get("$ref")
                    if reference:
                        assert reference.rsplit("/", 1)[-1] in document["components"]["schemas"]


def test_protected_routes_name_the_bearer_scheme_and_the_guards_answers() -> None:
    document = service_openapi(app_of("notify"))
    resend = document["paths"]["/v1/notifications/{notification_id}/resend"]["post"]
    assert resend["security"] == [{"bearer": []}]
    assert {"202", "401", "403", "404", "409", "503"} <= set(resend["responses"])
    health = document["paths"]["/health"]["get"]
    assert health["security"] == []  # public
    # The status lookup serves an anonymous caller holding the code: security is optional.
    intake = service_openapi(app_of("intake"))
    lookup = intake["paths"]["/v1/appeals/{registration_number}"]["get"]
    assert lookup["security"] == [{"bearer": []}, {}]
    assert intake["paths"]["/v1/appeals"]["post"]["security"] == [{"gatewayKey": []}]


def test_a_route_without_an_operation_is_refused_by_name() -> None:
    async def plain(_: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(Undocumented, match="/v1/secret"):
        openapi_document([Route("/v1/secret", plain)], "t", "1", "d")


class Thing(BaseModel):
    name: str


async def test_an_answer_that_does_not_fit_its_documented_model_fails_instead_of_leaving() -> None:
    async def wrong(_: Request) -> JSONResponse:
        return reply(Thing, {"title": "no name"})

    operation = Operation("A thing", "test", (Reply(200, "The thing.", Thing),))
    app = Starlette(routes=[documented("/thing", wrong, ["GET"], operation)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/thing")).status_code == 500


async def test_routes_of_one_path_answer_an_unserved_method_with_all_their_methods() -> None:
    async def read(_: Request) -> JSONResponse:
        return reply(Thing, {"name": "read"})

    async def write(_: Request) -> JSONResponse:
        return reply(Thing, {"name": "written"})

    reading = Operation("Read", "test", (Reply(200, "Read.", Thing),))
    writing = Operation("Write", "test", (Reply(200, "Written.", Thing),))
    routes = one_route_per_path(
        [documented("/x", read, ["GET"], reading), documented("/x", write, ["PUT"], writing)]
    )
    assert len(routes) == 1
    transport = httpx.ASGITransport(app=Starlette(routes=routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/x")).json() == {"name": "read"}
        assert (await client.put("/x")).json() == {"name": "written"}
        refused = await client.delete("/x")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT"}
    document = openapi_document(routes, "t", "1", "d")
    assert document["paths"]["/x"]["get"]["summary"] == "Read"
    assert document["paths"]["/x"]["put"]["summary"] == "Write"
    assert ErrorBody.__name__ in document["components"]["schemas"]  # the 405's body
