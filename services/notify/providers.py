"""Delivery providers: one interface, four implementations (SMS gateway over HTTP, e-mail over
SMTP, push through a webhook, and the local outbox for `make run`).

A provider takes one rendered message to one address and either returns (the provider
accepted it) or raises `DeliveryFailed` saying whether trying again can help. Providers do
not retry, schedule or record anything: the delivery engine (service.py) does.

Every provider passes the notification id as an idempotency key (HTTP `Idempotency-Key`
header, e-mail `Message-ID`, the outbox document `_id`): if notify crashes after the provider
accepted a message but before that was recorded, the next attempt is recognised as the same
message by a provider that honours the key.

SMTP uses the standard library's blocking `smtplib` in a worker thread (`asyncio.to_thread`):
no new dependency, one short-lived connection per message, and e-mail volumes are small next
to SMS. A native async client (aiosmtplib) would be the upgrade if e-mail becomes the main
channel.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import httpx

from contracts import DeliveryChannel
from services.common.clock import Clock
from services.common.masking import scrub

# Client errors that say "try again later" rather than "this request is wrong".
_RETRYABLE_HTTP = {408, 425, 429}


def mask_address(address: str | None) -> str:
    """A delivery address (phone, e-mail, or IIN for push) as it may appear in a log or an
    operator's listing: `+7701*****67`, `e***@mail.kz`, `90********17`."""
    if not address:
        return "-"
    masked = scrub(address)
    return masked if masked != address else address[:2] + "***"


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: str
    address: str
    text: str
    subject: str = ""
    appeal_id: str | None = None
    template: str = ""


class DeliveryFailed(Exception):
    """The provider did not accept the message. `permanent`: retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = scrub(reason)[:500]
        self.permanent = permanent


class DeliveryProvider(Protocol):
    channel: DeliveryChannel

    async def deliver(self, message: OutgoingMessage) -> str | None:
        """Hand the message over; return the provider's reference (if any) once accepted."""
        ...


class Outbox(Protocol):
    async def add_to_outbox(self, document: dict[str, Any]) -> None: ...


class OutboxProvider:
    """Keeps messages in notify's own store (the `outbox` collection): what would have been
    sent."""

    channel = DeliveryChannel.OUTBOX

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock

    async def deliver(self, message: OutgoingMessage) -> str | None:
        await self.outbox.add_to_outbox(
            {
                "_id": message.notification_id,
                "address": message.address,
                "subject": message.subject,
                "text": message.text,
                "accepted_at": self.clock.now(),
            }
        )
        return message.notification_id


def _http_failure(response: httpx.Response, what: str) -> DeliveryFailed:
    code = response.status_code
    permanent = 400 <= code < 500 and code not in _RETRYABLE_HTTP
    return DeliveryFailed(
        f"{what} answered HTTP {code}: {response.text[:200]}", permanent=permanent
    )


def _reference(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        ref = body.get("message_id") or body.get("id")
        return str(ref) if ref is not None else None
    return None


async def _post(client: httpx.AsyncClient, url: str, what: str, **kwargs: object) -> str | None:
    try:
        response = await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{what} unreachable: {type(exc).__name__}: {exc}") from exc
    # 409: the gateway already has a message with this idempotency key — it was accepted.
    if response.is_success or response.status_code == 409:
        return _reference(response)
    raise _http_failure(response, what)


class JsonWebhookProvider:
    """A provider reached by `POST url` with a JSON body, `Authorization: Bearer <token>` (when
    a token is set) and `Idempotency-Key: <notification id>`; any 2xx (or 409: already has
    it) means accepted, 4xx (except 408/425/429) is permanent, everything else is retried.
    Subclasses say what the body holds."""

    channel: DeliveryChannel
    what: str

    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None) -> None:
        self.client, self.url, self.token = client, url, token

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        raise NotImplementedError

    async def deliver(self, message: OutgoingMessage) -> str | None:
        headers = {"Idempotency-Key": message.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return await _post(
            self.client, self.url, self.what, json=self.body(message), headers=headers
        )


class SmsGatewayProvider(JsonWebhookProvider):
    """SMS through an HTTP gateway: `{to, text, sender, client_ref}`."""

    channel = DeliveryChannel.SMS
    what = "SMS gateway"

    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None, sender: str) -> None:
        super().__init__(client, url, token)
        self.sender = sender

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "to": message.address,
            "text": message.text,
            "sender": self.sender,
            "client_ref": message.notification_id,
        }


class PushWebhookProvider(JsonWebhookProvider):
    """Push to the eGov mobile app through its webhook: `{iin, title, body, notification_id,
    appeal_id}`; the app finds the device by IIN."""

    channel = DeliveryChannel.PUSH
    what = "push webhook"

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "iin": message.address,
            "title": message.subject,
            "body": message.text,
            "notification_id": message.notification_id,
            "appeal_id": message.appeal_id,
        }


class SmtpProvider:
    """E-mail over SMTP (optional STARTTLS and login), one connection per message."""

    channel = DeliveryChannel.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    async def deliver(self, message: OutgoingMessage) -> str | None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        message_id = f"<{message.notification_id}@tyndau.notify>"
        email["Message-ID"] = message_id
        email.set_content(message.text)
        await asyncio.to_thread(self._send, email)
        return message_id

    def _send(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                f"SMTP refused the recipient: {codes}",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if exc.smtp_error else ""
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP unreachable: {type(exc).__name__}: {exc}") from exc
