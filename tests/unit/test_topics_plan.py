"""The topic plan: which topics exist and with how many partitions
(services/common/topics_admin.py)."""

from __future__ import annotations

from contracts import agency_actions, agency_inbox, topics
from reference.agencies import AgencyRegistry
from services.common.topics_admin import planned_topics

CHANNEL_TOPICS = (topics.CHANNEL_1414, topics.CHANNEL_IKOMEK109, topics.CHANNEL_EOTINISH)


def test_the_plan_has_every_fixed_topic_and_an_inbox_and_a_decisions_topic_per_agency() -> None:
    codes = ["akimat-astana", "government-office"]

    plan = planned_topics(codes)

    assert set(plan) == {
        *topics.ALL_FIXED_TOPICS,
        "agency.akimat-astana.inbox.v1",
        "agency.akimat-astana.actions.v1",
        "agency.government-office.inbox.v1",
        "agency.government-office.actions.v1",
    }


def test_the_plan_for_the_bundled_registry_has_both_topics_for_every_agency() -> None:
    codes = list(AgencyRegistry.default().by_code)

    plan = planned_topics(codes)

    assert len(plan) == len(topics.ALL_FIXED_TOPICS) + 2 * len(codes)
    assert all(agency_inbox(code) in plan and agency_actions(code) in plan for code in codes)


def test_the_dead_letter_topic_has_one_partition() -> None:
    assert planned_topics([])[topics.APPEALS_DLQ] == 1


def test_the_channel_topics_have_more_than_one_partition_so_consumers_can_share_them() -> None:
    plan = planned_topics([])
    for name in CHANNEL_TOPICS:
        assert plan[name] > 1, name


def test_the_busy_lifecycle_topics_have_more_than_one_partition() -> None:
    plan = planned_topics([])
    for name in (topics.APPEALS_REGISTERED, topics.APPEALS_ROUTED, topics.AGENCY_ACTIONS):
        assert plan[name] > 1, name


def test_an_agency_inbox_has_a_positive_partition_count() -> None:
    assert planned_topics(["akimat-astana"])["agency.akimat-astana.inbox.v1"] >= 1
