"""Stand-in delivery providers for the chaos run: an HTTP server playing the SMS gateway and
the push webhook, and an SMTP server, each recording what it accepted and when.

A real gateway de-duplicates by the `Idempotency-Key` notify sends, so a citizen receives one
message per distinct key: a repeated POST with a key already seen is recorded as a repeat (the
gateway would drop it), two keys for the same notice are a duplicate the citizen sees.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from dataclasses import dataclass, field

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.pipeline import free_port


@dataclass(frozen=True)
class Delivery:
    """One message a provider accepted: `key` is notify's notification id."""

    channel: str
    address: str
    key: str
    at: float  # time.monotonic() when it arrived


@dataclass
class Received:
    """Everything the stand-ins accepted, in arrival order."""

    deliveries: list[Delivery] = field(default_factory=list)
    repeats: int = 0  # posts of a key already accepted (a real gateway drops them)
    _keys: set[tuple[str, str]] = field(default_factory=set)

    def add(self, channel: str, address: str, key: str) -> None:
        if (channel, key) in self._keys:
            self.repeats += 1
            return
        self._keys.add((channel, key))
        self.deliveries.append(Delivery(channel, address, key, time.monotonic()))


class _SmtpHandler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        # notify's Message-ID is <notification id@tyndau.notify>: the key of an e-mail.
        key = str(message["Message-ID"]).strip("<>").split("@")[0]
        for address in envelope.rcpt_tos:
            self.received.add("email", address, key)
        return "250 Message accepted for delivery"


class StandInProviders:
    """`async with StandInProviders() as providers:` — `providers.environment()` is what notify
    needs to deliver to them; `providers.received` what arrived."""

    def __init__(self) -> None:
        self.received = Received()
        self.http_port = free_port()
        self.smtp_port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None
        self._smtp: Controller | None = None

    def environment(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.http_port}"
        return {
            "NOTIFY_SMS_GATEWAY_URL": f"{base}/sms",
            "NOTIFY_PUSH_WEBHOOK_URL": f"{base}/push",
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(self.smtp_port),
            "NOTIFY_SMTP_STARTTLS": "false",
        }

    def _app(self) -> Starlette:
        def endpoint(channel: str, address_field: str):
            async def accept(request: Request) -> Response:
                try:
                    body = await request.json()
                except ClientDisconnect:
                    # notify was killed mid-request: nothing arrived, as at a real gateway.
                    return Response(status_code=499)
                key = request.headers.get("Idempotency-Key", "")
                self.received.add(channel, body[address_field], key)
                return JSONResponse({"message_id": f"{channel}-{key}"})

            return accept

        return Starlette(
            routes=[
                Route("/sms", endpoint("sms", "to"), methods=["POST"]),
                Route("/push", endpoint("push", "iin"), methods=["POST"]),
            ]
        )

    async def __aenter__(self) -> StandInProviders:
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=self.http_port,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.05)
        self._smtp = Controller(
            _SmtpHandler(self.received), hostname="127.0.0.1", port=self.smtp_port
        )
        self._smtp.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
