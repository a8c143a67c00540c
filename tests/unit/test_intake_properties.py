"""Property-based: random and malformed payloads thrown at every channel adapter never crash
intake. Each one ends as exactly one of: a registered appeal (a draft that registers), a
rejection with at least one reason (that makes a valid `AppealRejected`), or `Undecodable`
(the dead-letter path). Pure and fast: no broker, no store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import AppealRegistered, AppealRejected, HttpGatewayAppeal
from reference.calendar import WorkingCalendar
from services.common.messaging import Undecodable
from services.intake.adapters import AppealDraft, Rejection, adapt_http
from services.intake.channels import CHANNEL_FORMATS, ChannelFormat, read_channel_message
from services.intake.registration import register, rejected_event

PLUS_5 = timezone(timedelta(hours=5))
NOW = datetime(2026, 3, 5, 13, 0, tzinfo=PLUS_5)
CALENDAR = WorkingCalendar.default()
EARLIEST = datetime(CALENDAR.covered_years.start, 1, 1, tzinfo=CALENDAR.tz)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that hit the rules (valid and invalid) more often than random text would.
INTERESTING = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "900101300017",
        "900101300018",
        "8 701 123 45 67",
        "+7 (701) 123-45-67",
        "a@b.kz",
        "2026-03-05T10:00:00+05:00",
        "2026-03-21T10:00:00+05:00",
        "2019-01-01T10:00:00+05:00",
        "2031-01-01T10:00:00+05:00",
        "0001-01-01T00:00:00+14:00",
        "2026-03-05T10:00:00",
        "711210000",
        "991210000",
        "kk",
        "ru",
        "de",
        "HEATING",
        "ALMATY",
        "complaint",
        "police",
        "corruption",
        "utilities.heating",
        "astana-education",
        "ZHALOBA",
        "telegram",
        "x" * 20_001,
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | INTERESTING
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return [prefix] if prefix else []
    paths = [prefix] if prefix else []
    for key, child in value.items():
        paths.extend(_paths(child, (*prefix, key)))
    return paths


@st.composite
def mutated(draw: st.DrawFn, example: dict[str, Any]) -> dict[str, Any]:
    """The channel's documented example with some fields replaced by random JSON or deleted."""
    message = json.loads(json.dumps(example))
    paths = _paths(message)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=5, unique=True)):
        parent = message
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.integers(0, 5)) == 0:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return message


def assert_one_clear_outcome(outcome: AppealDraft | Rejection) -> None:
    if isinstance(outcome, AppealDraft):
        event = register(outcome, CALENDAR, NOW, None, sequence=1)
        assert isinstance(event, AppealRegistered)
        assert event.registered_at >= event.received_at
        assert event.answer_due_at > event.registered_at
        # Anonymous appeals reach registration only as urgent crime or security reports.
        assert not event.applicant.anonymous or event.urgent
    else:
        assert isinstance(outcome, Rejection)
        event = rejected_event(outcome, NOW, None)
        assert isinstance(event, AppealRejected)
        assert event.errors and all(e.code and e.message for e in event.errors)


def run_channel(fmt: ChannelFormat, raw: bytes) -> None:
    try:
        outcome = read_channel_message(fmt, raw, NOW, EARLIEST)
    except Undecodable as exc:
        assert str(exc)  # the dead letter says why
        return
    assert_one_clear_outcome(outcome)


def run_gateway(raw: bytes) -> None:
    try:
        appeal = HttpGatewayAppeal.model_validate_json(raw)
        outcome = adapt_http(appeal, "reception", NOW, EARLIEST)
    except Exception as exc:  # noqa: BLE001 - only the two "not the format" answers are fine
        assert type(exc).__name__ in {"ValidationError", "Undecodable"}, repr(exc)
        return
    assert_one_clear_outcome(outcome)


FORMATS = {fmt.channel.value: fmt for fmt in CHANNEL_FORMATS}


@FAST
@given(fmt=st.sampled_from(CHANNEL_FORMATS), raw=st.binary(max_size=200))
def test_random_bytes_on_any_channel_topic_are_dead_lettered_or_adapted(
    fmt: ChannelFormat, raw: bytes
) -> None:
    run_channel(fmt, raw)


@FAST
@given(fmt=st.sampled_from(CHANNEL_FORMATS), value=JSON_VALUES)
def test_random_json_on_any_channel_topic_never_crashes_intake(
    fmt: ChannelFormat, value: Any
) -> None:
    run_channel(fmt, json.dumps(value).encode())


@FAST
@given(data=st.data())
def test_a_1414_call_with_random_fields_is_registered_rejected_or_dead_lettered(
    data: st.DataObject,
) -> None:
    fmt = FORMATS["1414"]
    message = data.draw(mutated(fmt.model.example().model_dump(mode="json")))
    run_channel(fmt, json.dumps(message).encode())


@FAST
@given(data=st.data())
def test_an_ikomek_ticket_with_random_fields_is_registered_rejected_or_dead_lettered(
    data: st.DataObject,
) -> None:
    fmt = FORMATS["ikomek109"]
    message = data.draw(mutated(fmt.model.example().model_dump(mode="json")))
    run_channel(fmt, json.dumps(message).encode())


@FAST
@given(data=st.data())
def test_an_eotinish_appeal_with_random_fields_is_registered_rejected_or_dead_lettered(
    data: st.DataObject,
) -> None:
    fmt = FORMATS["eotinish"]
    message = data.draw(mutated(fmt.model.example().model_dump(mode="json")))
    run_channel(fmt, json.dumps(message).encode())


@FAST
@given(data=st.data())
def test_a_gateway_appeal_with_random_fields_is_registered_rejected_or_refused(
    data: st.DataObject,
) -> None:
    message = data.draw(mutated(HttpGatewayAppeal.example().model_dump(mode="json")))
    run_gateway(json.dumps(message).encode())


@FAST
@given(raw=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_random_bodies_posted_to_the_gateway_never_crash_the_adapter(raw: bytes) -> None:
    run_gateway(raw)
