"""Every request passes the same limits (services/common/http_limits.py), and errors are
JSON without internals: tried on a small app wrapped like every service's."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.http_limits import RequestLimits, error_handlers

LIMIT = 4096


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


async def broken(_: Request) -> JSONResponse:
    raise RuntimeError("secret internals: mongodb://admin:hunter2@db")


APP = Starlette(
    routes=[Route("/echo", echo, methods=["POST"]), Route("/broken", broken)],
    middleware=[Middleware(RequestLimits, max_body_bytes=LIMIT)],
    exception_handlers=error_handlers(),
)


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=APP, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_a_body_within_the_limit_is_served() -> None:
    async with client() as http:
        response = await http.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == 200 and response.json() == {"received": LIMIT}


async def test_a_declared_length_beyond_the_limit_is_413_before_reading() -> None:
    async with client() as http:
        response = await http.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_large",
        "reason": f"the body must be at most {LIMIT} bytes",
    }


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    async with client() as http:
        response = await http.post("/echo", content=chunks())
    assert response.status_code == 413 and response.json()["error"] == "too_large"


async def test_too_many_or_too_large_headers_are_431() -> None:
    async with client() as http:
        many = await http.get("/echo", headers={f"x-h{i}": "1" for i in range(80)})
        large = await http.get("/echo", headers={"x-big": "z" * 9000})
    assert many.status_code == 431 and large.status_code == 431
    assert many.json()["error"] == "headers_too_large"


async def test_a_very_long_path_or_query_is_414() -> None:
    async with client() as http:
        response = await http.get("/echo", params={"q": "a" * 3000})
    assert response.status_code == 414 and response.json()["error"] == "uri_too_long"


async def test_unknown_routes_and_methods_answer_json() -> None:
    async with client() as http:
        missing = await http.get("/nowhere")
        wrong_method = await http.get("/echo")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


async def test_an_unexpected_error_is_a_plain_500_and_the_traceback_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="tyndau.http"):
        async with client() as http:
            response = await http.get("/broken")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "reason": "the service failed to answer; the error is logged",
    }
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert any("RuntimeError" in json.dumps(r.exc_text or "") or r.exc_info for r in caplog.records)
