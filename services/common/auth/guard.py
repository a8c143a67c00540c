"""Protected routes: a route that reads or changes a person's data is made with
`Guard.route(path, handler, permission=..., target=...)`, and then

- no `Authorization: Bearer` token, or one that does not verify → 401 with the reason and
  a `WWW-Authenticate: Bearer` challenge (RFC 6750: `invalid_token` when one was sent);
- a valid token whose roles lack the permission → 403 naming the permission and the roles
  that hold it (`insufficient_scope`), and an audit record of the attempt;
- otherwise the handler runs with the `Caller`, and its result is audited
  (services/common/audit.py) before the response leaves;
- the issuer's keys unavailable → 503: the service cannot tell who is calling, so nobody
  gets in.

Refusals are counted in `tyndau_http_auth_total{route, outcome}`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common.audit import (
    AuditLog,
    AuditRecord,
    MongoAuditLog,
    Target,
    ensure_audit_indexes,
    target_ref,
)
from services.common.auth.roles import Permission, roles_holding
from services.common.auth.tokens import (
    Caller,
    KeysUnavailable,
    TokenVerifier,
    Unauthenticated,
    key_source,
)
from services.common.clock import Clock, SystemClock
from services.common.metrics import MetricSet, counter
from services.common.openapi import DocumentedRoute, ErrorBody, Operation, Reply
from services.common.secret_files import MissingSecret, SecretRef, audit_key

log = logging.getLogger("tyndau.auth")

Handler = Callable[[Request, Caller], Awaitable[Response]]
TargetOf = Callable[[Request], Target]

REALM = 'Bearer realm="tyndau"'


class AuthMetrics(MetricSet):
    outcomes = counter(
        "tyndau_http_auth_total",
        "Requests to protected routes, by route and outcome (allowed, unauthenticated, "
        "forbidden, keys_unavailable).",
        "route",
        "outcome",
    )


class Guard:
    def __init__(
        self,
        verifier: TokenVerifier,
        audit: AuditLog,
        pseudonym_key: SecretRef,
        service: str,
        metrics: AuthMetrics,
        clock: Clock | None = None,
    ) -> None:
        self.verifier, self.audit, self.pseudonym_key = verifier, audit, pseudonym_key
        self.service, self.metrics = service, metrics
        self.clock = clock or SystemClock()

    async def caller_of(self, request: Request) -> Caller | None:
        """The verified caller, or None when the request carries no credentials at all;
        `Unauthenticated` when it carries bad ones (an optional-auth route uses this)."""
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be `Bearer <token>`")
        return await self.verifier.verify(token.strip())

    def route(
        self,
        path: str,
        handler: Handler,
        *,
        methods: list[str],
        permission: Permission,
        operation: Operation,
        target: TargetOf | None = None,
        anonymous: Callable[[Request], Awaitable[Response]] | None = None,
    ) -> DocumentedRoute:
        """A protected route, documented by `operation` with the bearer scheme and the
        guard's own answers added (401, 403, 503). With `anonymous`, a request carrying no
        credentials at all is served by it instead of refused (a public route that shows
        more to a role); bad credentials are still 401."""

        async def endpoint(request: Request) -> Response:
            try:
                caller = await self.caller_of(request)
            except Unauthenticated as exc:
                self.metrics.outcomes.labels(path, "unauthenticated").inc()
                return unauthenticated(exc.reason, invalid_token=True)
            except KeysUnavailable as exc:
                log.error("cannot check tokens: %s", exc)
                self.metrics.outcomes.labels(path, "keys_unavailable").inc()
                return JSONResponse(
                    {"error": "unavailable", "reason": "tokens cannot be checked right now"},
                    503,
                    headers={"Retry-After": "5"},
                )
            if caller is None and anonymous is not None:
                return await anonymous(request)
            if caller is None:
                self.metrics.outcomes.labels(path, "unauthenticated").inc()
                return unauthenticated("this route needs a bearer token", invalid_token=False)
            acted_on = target(request) if target else None
            if not caller.may(permission):
                self.metrics.outcomes.labels(path, "forbidden").inc()
                await self._audit(caller, permission, request.method, path, acted_on, 403)
                return forbidden(permission, caller)
            self.metrics.outcomes.labels(path, "allowed").inc()
            response = await handler(request, caller)
            await self._audit(
                caller, permission, request.method, path, acted_on, response.status_code
            )
            return response

        holders = ", ".join(roles_holding(permission))
        documented = operation.with_replies(
            Reply(
                401,
                "Credentials that do not verify (a malformed Authorization, a bad token)"
                if anonymous
                else "No bearer token, or one that does not verify.",
                ErrorBody,
                headers={"WWW-Authenticate": "The Bearer challenge (RFC 6750)."},
            ),
            Reply(
                403, f"The token's roles lack {permission.value} ({holders} hold it).", Forbidden
            ),
            Reply(503, "The identity provider's keys are unavailable.", ErrorBody),
            security=("bearer",),
        )
        return DocumentedRoute(path, endpoint, methods=methods, operation=documented)

    async def _audit(
        self,
        caller: Caller,
        permission: Permission,
        method: str,
        route: str,
        target: Target | None,
        status: int,
    ) -> None:
        await self.audit.record(
            AuditRecord(
                at=self.clock.now(),
                service=self.service,
                actor=caller.subject,
                client=caller.client,
                roles=sorted(caller.roles),
                permission=permission.value,
                method=method,
                route=route,
                target_kind=target.kind if target else None,
                target_ref=target_ref(self.pseudonym_key.value, target) if target else None,
                status=status,
            )
        )


class Forbidden(ErrorBody):
    permission: str


def unauthenticated(reason: str, *, invalid_token: bool) -> JSONResponse:
    challenge = REALM
    if invalid_token:
        challenge += f', error="invalid_token", error_description="{reason}"'
    return JSONResponse(
        {"error": "unauthenticated", "reason": reason},
        401,
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(permission: Permission, caller: Caller) -> JSONResponse:
    holders = ", ".join(roles_holding(permission))
    held = ", ".join(sorted(caller.roles)) or "none"
    return JSONResponse(
        {
            "error": "forbidden",
            "reason": f"this needs {permission.value}, which the roles {holders} hold; "
            f"the token's roles are: {held}",
            "permission": permission.value,
        },
        403,
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope"'},
    )


def guard_for(runtime, clock: Clock | None = None) -> Guard:  # noqa: ANN001 - ServiceRuntime
    """The service's guard: tokens checked against the configured JWKS, audit records in
    the service's database (indexed at start), the pseudonym key required at start."""
    settings = runtime.settings
    keys = key_source(settings.jwks_location)
    verifier = TokenVerifier(
        keys, settings.auth_issuer, settings.auth_audience, settings.auth_roles_claim
    )
    pseudonym_key = audit_key()
    runtime.required_secrets.append(pseudonym_key)
    if not settings.jwks_location.startswith(("https://", "http://")):
        runtime.required_secrets.append(JwksPresent(settings.jwks_location))

    async def indexes(db: AsyncDatabase) -> None:
        await ensure_audit_indexes(db)

    runtime.on_database_ready.append(indexes)
    return Guard(
        verifier,
        MongoAuditLog(runtime.db),
        pseudonym_key,
        settings.service_name,
        AuthMetrics(runtime.registry),
        clock,
    )


class JwksPresent:
    """A start check: the JWKS file is there (the verifier re-reads it as it changes)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def check(self) -> None:
        if not os.path.exists(self.path):
            raise MissingSecret(
                f"no JWKS at {self.path}: set TYNDAU_AUTH_JWKS to the identity provider's "
                "jwks_uri or a JWKS file (make run makes a local one)"
            )
