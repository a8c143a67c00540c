"""Send one appeal in the call centre 1414 format to the running system, like the channel
would, and follow it: registered → routed → deadline timer → citizen notified.

    .venv/bin/python deploy/local/send_appeal.py [--lang kk|ru] [--kato 711210000] [--unclear]

`--unclear` sends one routing cannot place (category `other`, a text naming no competence):
it waits at the workspace's triage desk (http://127.0.0.1:8005/triage) for a human —
the start of the demo in README "The workspace".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from datetime import datetime, timedelta, timezone

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import Call1414Appeal, deterministic_id, topics
from services.common.kafka_auth import ADMIN, identity_for

STEPS = (
    (
        topics.APPEALS_REGISTERED,
        "registered",
        lambda e: (
            f"number {e['registration_number']}, answer due {e['answer_due_at']}; status: "
            f"curl 'http://127.0.0.1:8001/v1/appeals/{e['registration_number']}"
            f"?code={e.get('lookup_code')}'"
        ),
    ),
    (
        topics.APPEALS_ROUTED,
        "routed",
        lambda e: f"to {e['agency_code']} (rule {e['rule_id']}): {e['reason']}",
    ),
    (
        topics.SLA_EVENTS,
        "timer",
        lambda e: f"{e['event_type']} {e['deadline_kind']} deadline {e['due_at']}",
    ),
    (
        topics.NOTIFICATION_OUTCOMES,
        "citizen told",
        lambda e: f"{e['status']} via {e['delivery_channel']} ({e['template']}, {e['language']})",
    ),
)


UNCLEAR_STEPS = (
    STEPS[0],
    (
        topics.APPEALS_TRIAGE,
        "triage",
        lambda e: f"a human decides: http://127.0.0.1:8005/triage ({e['reason']})",
    ),
)
UNCLEAR_TEXT = {
    "ru": "Прошу рассмотреть моё обращение.",
    "kk": "Өтінішімді қарауды сұраймын.",
    "en": "Please consider my appeal.",
}


def sample_call(call_id: str, lang: str, kato: str, unclear: bool = False) -> dict:
    """The 1414 contract's example, taken a minute ago, in the chosen language and place
    (`unclear`: one routing cannot place)."""
    if unclear:
        return sample_call(call_id, lang, kato) | {
            "topic_code": "other",
            "summary": UNCLEAR_TEXT[lang],
        }
    return Call1414Appeal.example_payload(
        call_id=call_id,
        call_started_at=(
            datetime.now(timezone(timedelta(hours=5))) - timedelta(minutes=1)
        ).isoformat(),
        lang=lang,
        kato_code=kato,
        summary="Нет отопления в доме третьи сутки."
        if lang == "ru"
        else "Үйде үш күннен бері жылу жоқ.",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="ru", choices=["kk", "ru", "en"])
    parser.add_argument("--kato", default="711210000", help="9-digit KATO code of the place")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument(
        "--unclear", action="store_true", help="an appeal routing cannot place: triage"
    )
    args = parser.parse_args()
    steps = UNCLEAR_STEPS if args.unclear else STEPS

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("TYNDAU_TOPIC_PREFIX", "")
    call_id = f"demo-{uuid.uuid4().hex[:10]}"
    appeal_id = deterministic_id("appeal", "1414", call_id)

    # Sent as the call centre (its own principal may write only its channel topic) ...
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **identity_for("channel-1414").aiokafka()
    )
    await producer.start()
    try:
        body = sample_call(call_id, args.lang, args.kato, args.unclear)
        await producer.send_and_wait(
            prefix + topics.CHANNEL_1414, json.dumps(body).encode(), key=call_id.encode()
        )
    finally:
        await producer.stop()
    print(f"sent call {call_id} to {prefix + topics.CHANNEL_1414} (appeal id {appeal_id})")

    # ... and followed as the operator of this machine (the lifecycle topics carry personal
    # data: no channel may read them).
    consumer = AIOKafkaConsumer(
        *(prefix + t for t, _, _ in steps),
        bootstrap_servers=bootstrap,
        **identity_for(ADMIN).aiokafka(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    pending = {prefix + t: (label, fmt) for t, label, fmt in steps}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.timeout
        while pending and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event.get("appeal_id") == appeal_id and record.topic in pending:
                        label, fmt = pending.pop(record.topic)
                        print(f"  {label:>13}: {fmt(event)}")
    finally:
        await consumer.stop()
    if pending:
        raise SystemExit(
            f"not seen within {args.timeout} s: {', '.join(label for label, _ in pending.values())}"
        )


if __name__ == "__main__":
    asyncio.run(main())
