"""Intake's routes for the citizen's answer to the answer (rules: feedback.py):

- `POST /v1/appeals/{registration_number}/feedback` — a gateway (the e-Gov portal, the
  e-Otinish app) rates an answer for a citizen and may contest it; the citizen's proof is the
  lookup code from the registration notice;
- `POST /v1/channels/sms-replies` — the SMS operator forwards a reply to a notice
  (`<number> 1`, `<number> 2 [complaint]`); the proof is the phone the notice went to.

Both need a gateway key (X-Api-Key) like `POST /v1/appeals`. 201: recorded now (with the
repeat complaint's number and lookup code when contested); 200: given before, the same
answer; 404: no such appeal for this proof (one answer for all, so nothing can be probed);
409: not answered, the period is over, rated otherwise already, no supervising body; 422:
which field and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts import AppealRegistered
from services.common.messaging import describe_validation_error
from services.common.openapi import (
    Body,
    DocumentedRoute,
    ErrorBody,
    Operation,
    Param,
    Reply,
    documented,
    refusal,
    reply,
)
from services.intake.clients import GatewayClients, gateway_request
from services.intake.feedback import Feedback, FeedbackRefused, sms_reply
from services.intake.lookup import hidden_from_public
from services.intake.service import FeedbackResult, IntakeService
from services.intake.validation import normalise_phone
from services.intake.views import ContestReceipt, FeedbackReceipt, FeedbackRequest, SmsReply

FEEDBACK = "feedback"
_REPLIES = (
    Reply(201, "Recorded now; with the repeat complaint when contested.", FeedbackReceipt),
    Reply(200, "Given before: the same rating and repeat complaint.", FeedbackReceipt),
    Reply(400, "The body is not JSON.", ErrorBody),
    Reply(401, "No X-Api-Key.", ErrorBody, headers={"WWW-Authenticate": "ApiKey."}),
    Reply(403, "The X-Api-Key is not a gateway's key (SMS replies: not an operator's).", ErrorBody),
    Reply(404, "No such appeal for this proof (one answer for every case).", ErrorBody),
    Reply(409, "Not answered, period over, rated otherwise, or no supervising body.", ErrorBody),
    Reply(422, "Which field, and why.", ErrorBody),
)
RATE = Operation(
    "Rate an answer for its applicant, and optionally contest it",
    FEEDBACK,
    _REPLIES,
    description="A contest is registered as a repeat complaint to the supervising body of the "
    "body that answered, with its own number and term (README, the citizen's answer).",
    params=(Param("registration_number", "path", "The appeal's registration number."),),
    body=Body(FeedbackRequest),
    security=("gatewayKey",),
)
SMS_REPLY = Operation(
    "A citizen's reply to a notice, forwarded by the SMS operator",
    FEEDBACK,
    _REPLIES,
    description="`<registration number> 1` (satisfied), `<registration number> 2` (not "
    "satisfied), `<registration number> 2 <text>` (not satisfied, and a complaint).",
    body=Body(SmsReply),
    security=("gatewayKey",),
)


def _receipt(result: FeedbackResult, service: IntakeService) -> JSONResponse:
    rated, contest = result.rated, result.contest
    receipt = FeedbackReceipt(
        registration_number=rated.registration_number,
        rating=rated.rating,
        via=rated.via,
        rated_at=rated.occurred_at,
        answered_by=rated.agency_code,
        contest=None
        if contest is None
        else ContestReceipt(
            registration_number=contest.registration_number,
            appeal_id=contest.appeal_id,
            lookup_code=contest.lookup_code,
            answer_due_at=contest.answer_due_at,
            supervising_body=contest.addressed_to or "",
        ),
    )
    return reply(FeedbackReceipt, receipt, 201 if result.created else 200)


def feedback_routes(service: IntakeService, clients: GatewayClients) -> list[DocumentedRoute]:
    limit = service.settings.max_body_bytes
    not_found = "no answered appeal with this number for this applicant"

    def from_a_gateway(
        handle: Callable[[Request, bytes], Awaitable[Response]],
        only: frozenset[str] | None = None,
    ) -> Callable[[Request], Awaitable[Response]]:
        """`handle` for a gateway client (`only` these clients, when given)."""

        async def endpoint(request: Request) -> Response:
            checked = await gateway_request(request, clients, limit, only=only)
            if isinstance(checked, Response):
                return checked
            _, body = checked
            try:
                return await handle(request, body)
            except FeedbackRefused as refused:
                return refusal(refused.status, refused.error, refused.reason)
            except ValidationError as exc:
                if any(err["type"] == "json_invalid" for err in exc.errors()):
                    return refusal(400, "invalid_json", "the body is not JSON")
                return refusal(422, "invalid_feedback", describe_validation_error(exc))

        return endpoint

    async def rate(request: Request, body: bytes) -> Response:
        asked = FeedbackRequest.model_validate_json(body)

        def holds_the_code(registered: AppealRegistered) -> bool:
            # Urgent and security reports never show to a code holder (lookup.py): nor here.
            matches = service.lookup.matches(registered.appeal_id, asked.lookup_code)
            return matches and not hidden_from_public(registered)

        number = request.path_params["registration_number"]
        registered = await service.appeal_for_applicant(number, holds_the_code)
        if registered is None:
            return refusal(404, "not_found", not_found)
        feedback = Feedback(
            asked.rating,
            asked.contest.text if asked.contest else None,
            asked.contest.language if asked.contest else None,
            "gateway",
        )
        return _receipt(await service.give_feedback(registered, feedback), service)

    async def sms(_: Request, body: bytes) -> Response:
        received = SmsReply.model_validate_json(body)
        phone = normalise_phone(received.sender)
        if phone is None:
            return refusal(422, "invalid_feedback", "from: not a phone number +7XXXXXXXXXX")
        number, feedback = sms_reply(received.text)

        def sent_from_its_phone(registered: AppealRegistered) -> bool:
            return registered.applicant.phone == phone

        registered = await service.appeal_for_applicant(number, sent_from_its_phone)
        if registered is None:
            return refusal(404, "not_found", not_found)
        return _receipt(await service.give_feedback(registered, feedback), service)

    return [
        documented(
            "/v1/appeals/{registration_number}/feedback", from_a_gateway(rate), ["POST"], RATE
        ),
        documented(
            "/v1/channels/sms-replies",
            from_a_gateway(sms, only=service.settings.sms_operators),
            ["POST"],
            SMS_REPLY,
        ),
    ]
