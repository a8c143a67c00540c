"""Who a notice goes to, and where they can be reached.

A citizen is addressed from the appeal's projection (or, for a refused anonymous appeal,
from the rejection itself), with their stored preferences; officers and supervisors from the
staff directory (`directory.py`). A body without a directory entry for the role is nobody to
tell — counted and logged, never silent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from contracts import AppealRejected, DeliveryChannel, Language, RecipientRole
from services.notify.directory import StaffDirectory
from services.notify.metrics import NotifyMetrics
from services.notify.policy import CitizenPreferences
from services.notify.rules import AppealView, Rule, staff_codes
from services.notify.store import NotifyStore

log = logging.getLogger("tyndau.notify.recipients")


@dataclass
class Recipient:
    role: RecipientRole
    key: str
    """`citizen`, or `officer:<agency>` / `supervisor:<agency>`: part of the idempotency key."""
    language: Language
    addresses: dict[DeliveryChannel, str | None]
    preferences: CitizenPreferences = field(default_factory=CitizenPreferences)


class Recipients:
    def __init__(
        self, store: NotifyStore, directory: StaffDirectory, metrics: NotifyMetrics
    ) -> None:
        self.store = store
        self.directory = directory
        self.metrics = metrics

    async def of(self, rule: Rule, event: Any, appeal: AppealView | None) -> list[Recipient]:
        """Everyone `rule` tells about `event`."""
        if rule.role is RecipientRole.CITIZEN:
            return [await self._citizen(event, appeal)]
        return self._staff(rule, event, appeal)

    async def _citizen(self, event: Any, appeal: AppealView | None) -> Recipient:
        if isinstance(event, AppealRejected):
            contact = event.applicant_contact
            assert contact is not None  # the rule's condition
            phone, email, iin, language = contact.phone, contact.email, None, Language.KK
        else:
            assert appeal is not None
            phone, email, iin, language = appeal.phone, appeal.email, appeal.iin, appeal.language
        return Recipient(
            role=RecipientRole.CITIZEN,
            key=RecipientRole.CITIZEN.value,
            language=language,
            addresses={
                DeliveryChannel.SMS: phone,
                DeliveryChannel.EMAIL: email,
                DeliveryChannel.PUSH: iin,
                DeliveryChannel.OUTBOX: phone or email,
            },
            preferences=await self.preferences_for(iin, phone, email),
        )

    def _staff(self, rule: Rule, event: Any, appeal: AppealView | None) -> list[Recipient]:
        recipients = []
        for code in staff_codes(rule, event):
            contact = self.directory.contact(code, rule.role)
            if contact is None or not (contact.email or contact.phone):
                self.metrics.unaddressed.labels(rule.role.value, rule.template).inc()
                log.info(
                    "no %s of %s in the directory: %s not sent", rule.role, code, rule.template
                )
                continue
            recipients.append(
                Recipient(
                    role=rule.role,
                    key=f"{rule.role.value}:{code}",
                    language=contact.language or (appeal.language if appeal else Language.KK),
                    addresses={
                        DeliveryChannel.EMAIL: contact.email,
                        DeliveryChannel.SMS: contact.phone,
                        DeliveryChannel.OUTBOX: contact.email or contact.phone,
                    },
                )
            )
        return recipients

    async def preferences_for(self, *keys: str | None) -> CitizenPreferences:
        """The preferences stored under the first of `keys` (IIN, phone, e-mail) that has any."""
        wanted = [key for key in keys if key]
        found = await asyncio.gather(*(self.store.preferences(key) for key in wanted))
        return next((stored for stored in found if stored is not None), CitizenPreferences())
