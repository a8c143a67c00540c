"""Structured logs: JSON lines with the message's ids, personal data masked, trace context
carried from a consumed message to what its handler publishes."""

from __future__ import annotations

import io
import json
import logging

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.logs import JsonFormatter, MessageContextMiddleware, mask_personal_data


def test_phones_iins_and_emails_are_masked_but_stay_distinguishable() -> None:
    text = "caller +77011234567 / 8 (701) 765-43-21, IIN 900101300017, mail a.user@gov.kz"
    masked = mask_personal_data(text)
    assert "+77011234567" not in masked and "+7********67" in masked
    assert "765-43-21" not in masked and "+7********21" in masked
    assert "900101300017" not in masked and "**********17" in masked
    assert "a.user@gov.kz" not in masked and "a***@gov.kz" in masked


def test_ids_that_are_not_personal_data_are_left_alone() -> None:
    text = "appeal 66e37ee2-94d9-5d62-9448-83e01901eea7 number ZH-20261123-C255UIKR kato 711210000"
    assert mask_personal_data(text) == text


def _capture(service: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service))
    logger = logging.getLogger(f"test.logs.{service}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_a_log_line_is_one_json_object_with_the_service_and_a_masked_message() -> None:
    logger, stream = _capture("intake")
    logger.warning("could not reach %s", "+77011234567")
    entry = json.loads(stream.getvalue())
    assert entry["service"] == "intake"
    assert entry["level"] == "warning"
    assert entry["message"] == "could not reach +7********67"


async def test_a_handler_logs_with_the_message_ids_and_passes_traceparent_on() -> None:
    logger, stream = _capture("routing")
    broker = KafkaBroker(middlewares=[MessageContextMiddleware])
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @broker.subscriber("in-topic")
    async def handle(message: KafkaMessage) -> None:
        logger.info("handling")
        await broker.publish(b"{}", "out-topic")

    @broker.subscriber("out-topic")
    async def downstream(message: KafkaMessage) -> None:
        logger.info("downstream %s", message.headers.get("traceparent"))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b"{}",
            "in-topic",
            key=b"appeal-42",
            headers={
                "x-correlation-id": "corr-7",
                "x-event-id": "event-9",
                "traceparent": traceparent,
            },
        )

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    handling = next(e for e in entries if e["message"] == "handling")
    assert handling["appeal_id"] == "appeal-42"
    assert handling["correlation_id"] == "corr-7"
    assert handling["event_id"] == "event-9"
    assert handling["traceparent"] == traceparent
    downstream_entry = next(e for e in entries if e["message"].startswith("downstream"))
    assert downstream_entry["message"] == f"downstream {traceparent}"
