"""The chaos run's verdict: what counts as lost, doubled, late — from what was sent, what the
topics hold and what the stand-in providers accepted."""

from __future__ import annotations

import signal

from chaos.faults import plan
from chaos.fleet import SERVICES
from chaos.ledger import REGISTRATION_NOTICE, Observed, tally
from chaos.load import SentCall
from chaos.providers import Delivery, Received
from contracts import topics


def _sent(*appeals: str) -> dict[str, SentCall]:
    return {
        a: SentCall(a, f"+7701000000{i}", at=100.0 + i, attempts=1) for i, a in enumerate(appeals)
    }


def _observed_all_the_way(sent: dict[str, SentCall]) -> tuple[Observed, list[Delivery]]:
    observed = Observed()
    deliveries = []
    for i, appeal in enumerate(sent):
        observed.take(
            topics.APPEALS_REGISTERED,
            {"appeal_id": appeal, "event_id": f"reg-{appeal}", "registration_number": f"N-{i}"},
        )
        observed.take(topics.APPEALS_ROUTED, {"appeal_id": appeal})
        observed.take(topics.SLA_EVENTS, {"appeal_id": appeal, "event_type": "sla.started"})
        observed.take(
            topics.NOTIFICATION_OUTCOMES,
            {
                "appeal_id": appeal,
                "notification_id": f"n-{appeal}",
                "template": REGISTRATION_NOTICE,
            },
        )
        deliveries.append(Delivery("sms", sent[appeal].phone, f"n-{appeal}", sent[appeal].at + 2))
    return observed, deliveries


def test_every_call_all_the_way_is_complete_with_its_latency() -> None:
    sent = _sent("a", "b")
    observed, deliveries = _observed_all_the_way(sent)
    verdict = tally(sent, observed, deliveries)
    assert verdict.complete and verdict.problems() == []
    assert verdict.registered == 2
    assert verdict.call_to_notice["p99_s"] == 2.0


def test_a_call_never_registered_is_lost_and_a_rejected_valid_call_is_a_problem() -> None:
    sent = _sent("a", "b", "c")
    observed, deliveries = _observed_all_the_way(_sent("a"))
    observed.take(topics.APPEALS_REJECTED, {"appeal_id": "c"})
    verdict = tally(sent, observed, deliveries)
    assert verdict.lost_registrations == 1  # b: neither registered nor rejected
    assert verdict.rejected_valid_calls == 1
    assert not verdict.complete
    assert "1 lost registrations" in verdict.problems()


def test_two_numbers_for_one_appeal_and_one_number_for_two_appeals_are_counted() -> None:
    sent = _sent("a", "b")
    observed, deliveries = _observed_all_the_way(sent)
    observed.take(
        topics.APPEALS_REGISTERED,
        {"appeal_id": "a", "event_id": "reg-a-again", "registration_number": "N-1"},
    )
    verdict = tally(sent, observed, deliveries)
    assert verdict.duplicate_registrations == 1  # a holds N-0 and N-1
    assert verdict.shared_numbers == 1  # N-1 is a's and b's


def test_the_same_event_seen_again_is_a_redelivery_not_a_duplicate() -> None:
    sent = _sent("a")
    observed, deliveries = _observed_all_the_way(sent)
    observed.take(
        topics.APPEALS_REGISTERED,
        {"appeal_id": "a", "event_id": "reg-a", "registration_number": "N-0"},
    )
    verdict = tally(sent, observed, deliveries)
    assert verdict.redelivered_registration_events == 1
    assert verdict.problems() == []


def test_a_notice_under_a_second_key_is_a_duplicate_the_same_key_again_is_not() -> None:
    sent = _sent("a")
    observed, deliveries = _observed_all_the_way(sent)
    received = Received()
    for d in deliveries:
        received.add(d.channel, d.address, d.key)
    received.add("sms", sent["a"].phone, "n-a")  # the gateway drops a key it has seen
    assert received.repeats == 1
    assert tally(sent, observed, received.deliveries).duplicate_notices == 0

    observed.take(
        topics.NOTIFICATION_OUTCOMES,
        {"appeal_id": "a", "notification_id": "n-a-2", "template": REGISTRATION_NOTICE},
    )
    received.add("sms", sent["a"].phone, "n-a-2")
    assert tally(sent, observed, received.deliveries).duplicate_notices == 1


def test_a_registered_appeal_without_a_notice_or_a_timer_is_incomplete() -> None:
    sent = _sent("a")
    observed, _ = _observed_all_the_way(sent)
    observed.timers.clear()
    verdict = tally(sent, observed, [])
    assert verdict.lost_notices == 1 and verdict.no_timer == 1
    assert not verdict.complete


def test_dead_letters_are_a_problem() -> None:
    sent = _sent("a")
    observed, deliveries = _observed_all_the_way(sent)
    observed.take(topics.APPEALS_DLQ, {})
    assert tally(sent, observed, deliveries).problems() == ["1 dead letters"]


def test_the_fault_plan_has_every_kind_the_issue_names() -> None:
    faults = plan()
    for sig in (signal.SIGKILL, signal.SIGTERM):
        for name in SERVICES:
            assert any(f.services == (name,) and f.signal == sig for f in faults)
    assert any(len(f.services) == 2 for f in faults)
    assert {f.target for f in faults} == {"service", "store", "broker"}
