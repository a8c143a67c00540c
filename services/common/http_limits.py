"""Limits on every HTTP request, and errors without internals.

`RequestLimits` wraps a service's whole ASGI app, so no route can forget them:
- the request target (path and query) longer than `max_target_chars` → 414;
- more than `max_headers` header fields, or more than `max_header_bytes` of them → 431;
- a body longer than `max_body_bytes` → 413, refused on its declared Content-Length before a
  byte is read, and cut off while streaming when it has none (chunked) or lied;
- responses are JSON `{"error": ..., "reason": ...}`, the same shape the routes use.

uvicorn adds its own ceiling underneath (`h11_max_incomplete_event_size` in serve.py), so an
endless header line never reaches Python at all.

`error_handlers` make Starlette's 404/405 JSON and turn any unexpected exception into a
plain 500 `{"error": "internal"}`: the traceback goes to the log, never to the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tyndau.http")

MAX_TARGET_CHARS = 2048
MAX_HEADERS = 64
MAX_HEADER_BYTES = 8 * 1024


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_target_chars: int = MAX_TARGET_CHARS,
        max_headers: int = MAX_HEADERS,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_target_chars = max_target_chars
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:  # too late for a status: the connection is simply closed
                raise
            await self._too_large()(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        if target > self.max_target_chars:
            return refuse(
                414, "uri_too_long", f"the path and query exceed {self.max_target_chars} characters"
            )
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        size = sum(len(name) + len(value) for name, value in headers)
        if len(headers) > self.max_headers or size > self.max_header_bytes:
            return refuse(
                431,
                "headers_too_large",
                f"at most {self.max_headers} headers of {self.max_header_bytes} bytes in all",
            )
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> Response:
        return refuse(413, "too_large", f"the body must be at most {self.max_body_bytes} bytes")


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it (or its declared length) exceeds `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def refuse(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return JSONResponse(
        {"error": codes.get(exc.status_code, "http_error"), "reason": exc.detail},
        exc.status_code,
        headers=exc.headers,
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # The route template, not the path: paths may hold an IIN.
    route = getattr(request.scope.get("route"), "path", "?")
    log.error("unhandled error on %s %s", request.method, route, exc_info=exc)
    return refuse(500, "internal", "the service failed to answer; the error is logged")


def error_handlers() -> dict[Any, Any]:
    return {HTTPException: _http_error, Exception: _internal_error}
