"""What the Open311 GeoReport v2 endpoints answer, as typed documents (the spec's field names).

One model per document of the spec; `render.py` writes any of them as JSON or as the spec's
XML, so the two formats cannot say different things. Times are ISO-8601 with the offset
(Asia/Almaty for what the services decided, as the citizen reads it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, create_model


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True)


class Endpoint(_Document):
    specification: str = "http://wiki.open311.org/GeoReport_v2"
    url: str
    changeset: str
    type: str = Field(description="`production` or `test`.")
    formats: list[str] = ["application/json", "text/xml"]


class Discovery(_Document):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(_Document):
    service_code: str = Field(description="The national category code, e.g. `roads`.")
    service_name: str
    description: str
    metadata: bool = Field(description="True: the service has attributes (GET its definition).")
    type: str = "realtime"
    keywords: str
    group: str


class AttributeValue(_Document):
    key: str
    name: str


class Attribute(_Document):
    variable: bool = True
    code: str
    datatype: str
    required: bool
    datatype_description: str | None = None
    order: int
    description: str
    values: list[AttributeValue] = []


class ServiceDefinition(_Document):
    service_code: str
    attributes: list[Attribute]


class PostedRequest(_Document):
    """The answer to `POST requests`: the registration number at once (registration is
    synchronous here), and a token that resolves to it as well."""

    service_request_id: str | None
    token: str
    service_notice: str
    account_id: str | None = None


class TokenAnswer(_Document):
    service_request_id: str | None
    token: str


class ServiceRequest(_Document):
    service_request_id: str
    status: str = Field(
        description="`open`, or `closed` once the competent body answered or the "
        "appeal was left without consideration."
    )
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None = Field(
        default=None, description="Never the citizen's text: a public document shows no free text."
    )
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str = Field(description="The statutory answer deadline.")
    address: str | None = Field(description="The district or region, no finer.")
    address_id: str | None = Field(default=None, description="Its 9-digit KATO code.")
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class Error(_Document):
    code: int
    description: str


class Open311Post(_Document):
    """The form of `POST requests` (GeoReport v2 field names; `attribute[kind]` and
    `attribute[iin]` arrive as `attributes`). `api_key` and `jurisdiction_id` are the edge's
    to check and are not part of the appeal."""

    service_code: str
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
    attributes: dict[str, str] = {}

    @classmethod
    def from_form(cls, form: dict[str, str]) -> Open311Post:
        """From the decoded form: `attribute[code]` fields gathered, blanks as missing,
        fields the spec does not know ignored (as the spec asks of servers)."""
        attributes = {
            key[len("attribute[") : -1]: value.strip()
            for key, value in form.items()
            if key.startswith("attribute[") and key.endswith("]") and value.strip()
        }
        known = {
            key: value.strip() or None
            for key, value in form.items()
            if key in cls.model_fields and key != "attributes"
        }
        code = known.pop("service_code", None) or ""
        return cls(service_code=code, **known, attributes=attributes)


# The form as it is sent (what the OpenAPI document shows): Open311Post's fields as strings,
# plus what the edge checks itself and the `attribute[code]` fields; made from Open311Post,
# so the two cannot differ.
Open311Form = create_model(
    "Open311Form",
    __config__=ConfigDict(
        extra="allow",
        json_schema_extra={
            "patternProperties": {r"^attribute\[[a-z_]+\]$": {"type": "string"}},
            "description": "GeoReport v2's form: `attribute[kind]`, `attribute[iin]` as the "
            "service's definition lists them; fields the spec does not know are ignored.",
        },
    ),
    api_key=(str, Field(description="A channel key of intake's HTTP gateway.")),
    jurisdiction_id=(str | None, None),
    locale=(str | None, Field(default=None, description="kk, ru or en.")),
    **{
        name: (info.annotation, info)
        for name, info in Open311Post.model_fields.items()
        if name != "attributes"
    },
)
