"""OpenAPI 3.1 for a service's HTTP routes, made from the routes themselves.

Every route a service serves is made with its `Operation` (what it takes, what it answers
and when): `documented(path, endpoint, methods, operation)` here, `Guard.route(...,
operation=...)` for protected routes (which adds the bearer scheme and its 401/403/503),
Open311's route factory for `/open311/v2/`. The schemas are those of the pydantic models the
handlers build their answers with (`reply(Model, value)` validates and serialises through the
very model the document names), so the document cannot drift from what is sent.

`openapi_document(app, ...)` walks the app's routes; a route with no operation is an error
(`Undocumented`): the docs check (`python -m services.common.docs --check`) and the test
suite fail rather than ship a route nobody described.

Every operation also answers the limits every request passes (414 target too long, 431
headers too large; 413 body too large where there is a body — services/common/http_limits.py)
and 405 for a method the path does not serve; those are added here once, not per route.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
REF = "#/components/schemas/{model}"

Where = Literal["path", "query", "header"]
Mode = Literal["validation", "serialization"]


class ErrorBody(BaseModel):
    """What every service answers a refused request with (and a failed one: 500)."""

    error: str = Field(description="A stable code: `not_found`, `too_large`, `rate_limited`...")
    reason: str = Field(default="", description="What was wrong, for a person to read.")


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter. `schema` is JSON Schema (a string by default)."""

    name: str
    where: Where
    description: str
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": dict(self.schema),
        }


@dataclass(frozen=True)
class Reply:
    """One documented answer: its status, when it is given, and its body in each media type
    (a pydantic model or any type pydantic can describe, e.g. `list[Model]`; `str` for text;
    None for no body). `headers` names response headers it carries."""

    status: int
    description: str
    body: Any = None
    media_types: tuple[str, ...] = (JSON,)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    """A request body: its type (as for `Reply`) under one media type."""

    type: Any
    media_type: str = JSON
    description: str = ""


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Body | None = None
    # Names of security schemes (components.securitySchemes), any one of which admits the
    # caller; `optional_security` adds "no credentials" as an alternative (an anonymous
    # caller is served differently, not refused).
    security: tuple[str, ...] = ()
    optional_security: bool = False

    def with_replies(self, *extra: Reply, security: tuple[str, ...] | None = None) -> Operation:
        """This operation with `extra` replies (a status already documented keeps its own)."""
        known = {r.status for r in self.replies}
        replies = self.replies + tuple(r for r in extra if r.status not in known)
        return replace(
            self, replies=replies, security=self.security if security is None else security
        )


class DocumentedRoute(Route):
    """A Starlette route that carries its operation (one per method)."""

    def __init__(self, path: str, endpoint: Any, *, methods: Sequence[str], operation: Operation):
        super().__init__(path, endpoint, methods=list(methods))
        self.operations = {method.upper(): operation for method in methods}


def one_route_per_path(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """`routes` with documented routes of the same path (GET and POST `requests.{fmt}`, GET
    and PUT preferences) made one, dispatching on the method: Starlette answers a method no
    route serves from the first route of the path only, so its 405 would list that route's
    methods in `Allow`, not the path's."""
    merged: list[BaseRoute] = []
    by_path: dict[str, list[DocumentedRoute]] = {}
    for route in routes:
        if isinstance(route, DocumentedRoute):
            if route.path not in by_path:
                by_path[route.path] = []
                merged.append(route)  # holds the place of the path's first route
            by_path[route.path].append(route)
        else:
            merged.append(route)
    for index, route in enumerate(merged):
        same = by_path.get(getattr(route, "path", ""), [])
        if len(same) > 1:
            merged[index] = _dispatching(same)
    return merged


def _dispatching(routes: list[DocumentedRoute]) -> DocumentedRoute:
    endpoints = {method: r.endpoint for r in routes for method in r.operations}
    if "GET" in endpoints:
        endpoints.setdefault("HEAD", endpoints["GET"])

    async def endpoint(request: Any) -> Any:
        return await endpoints[request.method](request)

    first = routes[0]
    route = DocumentedRoute(
        first.path,
        endpoint,
        methods=sorted(endpoints),
        operation=next(iter(first.operations.values())),
    )
    route.operations = {m: op for r in routes for m, op in r.operations.items()}
    return route


def documented(
    path: str, endpoint: Any, methods: Sequence[str], operation: Operation
) -> DocumentedRoute:
    return DocumentedRoute(path, endpoint, methods=methods, operation=operation)


def reply(
    body_type: Any,
    value: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    exclude_unset: bool = False,
) -> JSONResponse:
    """A JSON answer serialised through `body_type` — the type the operation documents — so
    a value that does not fit it fails here (a 500 the tests see), not in a client.
    `exclude_unset`: optional fields the value does not have are left out, not `null`."""
    adapter = _adapter(body_type)
    checked = adapter.validate_python(value)
    data = adapter.dump_python(checked, mode="json", exclude_unset=exclude_unset)
    return JSONResponse(data, status, headers=headers)


def refusal(
    status: int, error: str, reason: str = "", headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A refused request's answer, the documented `ErrorBody`."""
    return reply(ErrorBody, ErrorBody(error=error, reason=reason), status, headers=headers)


class Undocumented(Exception):
    pass


# --- the document ---------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token of the identity provider (RS256, checked against its JWKS); "
        "its roles claim decides what the caller may do (README, Security).",
    },
    "gatewayKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A channel client's key (INTAKE_API_KEYS).",
    },
}

LIMIT_REPLIES = (
    Reply(405, "The path does not serve this method.", ErrorBody),
    Reply(414, "The path and query are longer than the limit.", ErrorBody),
    Reply(431, "Too many header fields, or too many bytes of them.", ErrorBody),
)
BODY_LIMIT = Reply(413, "The body is longer than the limit.", ErrorBody)


def openapi_document(
    routes: Iterable[BaseRoute], title: str, version: str, description: str
) -> dict[str, Any]:
    """OpenAPI 3.1 for `routes` (an app's `app.routes`); `Undocumented` names any route
    without an operation."""
    paths: dict[str, dict[str, Any]] = {}
    # (key, mode) → type, for one shared components.schemas: answers are described as they
    # are serialised, request bodies as they are validated.
    types: dict[tuple[str, Mode], Any] = {}
    operations: list[tuple[str, str, Operation]] = []
    for route in routes:
        if not isinstance(route, DocumentedRoute):
            raise Undocumented(f"route {getattr(route, 'path', route)!r} has no operation")
        for method, operation in sorted(route.operations.items()):
            if method != "HEAD":
                operations.append((route.path, method.lower(), operation))
    for _path, _method, operation in operations:
        for answer in _replies_of(operation):
            if answer.body is not None:
                types.setdefault((_type_key(answer.body), "serialization"), answer.body)
        if operation.body is not None:
            types.setdefault((_type_key(operation.body.type), "validation"), operation.body.type)
    schemas, definitions = _schemas(types)
    used_schemes: set[str] = set()
    for path, method, operation in operations:
        paths.setdefault(path, {})[method] = _operation(
            operation, method, path, schemas, used_schemes
        )
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": definitions},
    }
    if used_schemes:
        document["components"]["securitySchemes"] = {
            name: SECURITY_SCHEMES[name] for name in sorted(used_schemes)
        }
    return document


def _replies_of(operation: Operation) -> tuple[Reply, ...]:
    extra = (*LIMIT_REPLIES, BODY_LIMIT) if operation.body is not None else LIMIT_REPLIES
    return operation.with_replies(*extra).replies


def _operation(
    operation: Operation,
    method: str,
    path: str,
    schemas: dict[str, dict[str, Any]],
    used_schemes: set[str],
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "operationId": _operation_id(method, path),
    }
    if operation.description:
        document["description"] = operation.description
    if operation.params:
        document["parameters"] = [param.document() for param in operation.params]
    if operation.body is not None:
        body = operation.body
        document["requestBody"] = {
            "required": True,
            "description": body.description,
            "content": {body.media_type: {"schema": schemas[(_type_key(body.type), "validation")]}},
        }
    responses: dict[str, Any] = {}
    for answer in sorted(_replies_of(operation), key=lambda r: r.status):
        entry: dict[str, Any] = {"description": answer.description}
        if answer.body is not None:
            schema = schemas[(_type_key(answer.body), "serialization")]
            entry["content"] = {media: {"schema": schema} for media in answer.media_types}
        if answer.headers:
            entry["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in answer.headers.items()
            }
        responses[str(answer.status)] = entry
    document["responses"] = responses
    if operation.security:
        used_schemes.update(operation.security)
        requirements: list[dict[str, list[str]]] = [{name: []} for name in operation.security]
        if operation.optional_security:
            requirements.append({})
        document["security"] = requirements
    else:
        document["security"] = []  # public: no credentials needed
    return document


def _operation_id(method: str, path: str) -> str:
    words = [
        part.strip("{}").replace(".", "_").replace("-", "_") for part in path.split("/") if part
    ]
    return "_".join([method, *words])


def _type_key(body_type: Any) -> str:
    return repr(body_type)


@functools.cache
def _adapter(body_type: Any) -> TypeAdapter:
    return TypeAdapter(body_type)


def _schemas(
    types: Mapping[tuple[str, Mode], Any],
) -> tuple[dict[tuple[str, Mode], dict[str, Any]], dict[str, Any]]:
    """Each type's schema (a `$ref` for a model) and the shared definitions."""
    keyed = sorted(types.items())
    inputs = [(key, mode, _adapter(body_type)) for (key, mode), body_type in keyed]
    mapping, top = TypeAdapter.json_schemas(inputs, ref_template=REF)
    return dict(mapping), top.get("$defs", {})
