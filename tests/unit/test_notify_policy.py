"""Delivery policy (services/notify/policy.py), directory and settings of notify."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import DeliveryChannel, Language, RecipientRole
from services.common.settings import ServiceSettings
from services.notify.directory import StaffDirectory, load_agency_names, parse_directory
from services.notify.policy import CitizenPreferences, RetryPolicy, choose_channel, quiet_hours_end
from services.notify.providers import DeliveryFailed, mask_address
from services.notify.settings import NotifySettings

ALMATY = ZoneInfo("Asia/Almaty")
SMS, EMAIL, PUSH, OUTBOX = (
    DeliveryChannel.SMS,
    DeliveryChannel.EMAIL,
    DeliveryChannel.PUSH,
    DeliveryChannel.OUTBOX,
)
NIGHT = (time(22, 0), time(8, 0))


def almaty(hour: int, minute: int = 0, day: int = 5) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=ALMATY)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (almaty(23, 30), almaty(8, 0, day=6)),
        (almaty(22, 0), almaty(8, 0, day=6)),
        (almaty(2, 15), almaty(8, 0)),
        (almaty(7, 59), almaty(8, 0)),
    ],
)
def test_a_night_time_sms_waits_until_eight_in_the_morning(now, until) -> None:
    assert quiet_hours_end(now, *NIGHT, ALMATY) == until


@pytest.mark.parametrize("now", [almaty(8, 0), almaty(12, 0), almaty(21, 59)])
def test_daytime_is_not_quiet(now) -> None:
    assert quiet_hours_end(now, *NIGHT, ALMATY) is None


def test_quiet_hours_are_judged_in_almaty_time_whatever_the_instants_offset() -> None:
    # 17:30 UTC is 22:30 in Almaty.
    now = datetime(2026, 3, 5, 17, 30, tzinfo=UTC)
    assert quiet_hours_end(now, *NIGHT, ALMATY) == almaty(8, 0, day=6)


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    assert quiet_hours_end(almaty(13, 30), time(13, 0), time(14, 0), ALMATY) == almaty(14, 0)
    assert quiet_hours_end(almaty(23, 0), time(0, 0), time(0, 0), ALMATY) is None


def test_backoff_grows_exponentially_with_jitter_and_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=30, max_seconds=600, rng=random.Random(1))
    for attempt in range(1, 10):
        ceiling = min(600, 30 * 2 ** (attempt - 1))
        delays = {policy.delay_after(attempt) for _ in range(20)}
        assert all(
            timedelta(seconds=ceiling / 2) <= d <= timedelta(seconds=ceiling) for d in delays
        )
        assert len(delays) > 1  # jittered, so a gateway outage does not end in a stampede


def test_the_preferred_channel_wins_when_the_citizen_has_an_address_for_it() -> None:
    addresses = {SMS: "+77011234567", EMAIL: "a@b.kz", PUSH: None, OUTBOX: "+77011234567"}
    order = [SMS, PUSH, EMAIL, OUTBOX]
    assert choose_channel(addresses, {SMS, EMAIL}, order, EMAIL) == (EMAIL, "a@b.kz")
    assert choose_channel(addresses, {SMS, EMAIL}, order, PUSH) == (SMS, "+77011234567")
    assert choose_channel(addresses, {SMS, EMAIL}, order) == (SMS, "+77011234567")


def test_a_channel_without_a_provider_or_an_address_is_never_chosen() -> None:
    addresses = {SMS: None, EMAIL: None, PUSH: None, OUTBOX: None}
    assert choose_channel(addresses, {SMS, EMAIL, PUSH}, [SMS, PUSH, EMAIL]) is None
    assert choose_channel({SMS: "+77011234567"}, {EMAIL}, [SMS, EMAIL]) is None


def test_preferences_default_to_no_opt_out_and_reject_unknown_fields() -> None:
    assert CitizenPreferences() == CitizenPreferences(preferred_channel=None, opt_out=False)
    with pytest.raises(ValueError):
        CitizenPreferences.model_validate({"opt_out": True, "surprise": 1})


def test_the_directory_names_desks_and_heads_and_falls_back_to_the_desk() -> None:
    directory = StaffDirectory(
        parse_directory(
            json.dumps(
                {
                    "astana-energy": {
                        "officer": {"email": "desk@energy.kz", "language": "ru"},
                        "names": {"kk": "Энергетика басқармасы"},
                    },
                    "prosecutor-astana": {"supervisor": {"email": "head@prokuror.kz"}},
                }
            )
        ),
        {"astana-energy": {Language.RU: "Управление энергетики"}},
    )
    assert directory.contact("astana-energy", RecipientRole.OFFICER).email == "desk@energy.kz"
    assert directory.contact("astana-energy", RecipientRole.SUPERVISOR).email == "desk@energy.kz"
    assert directory.contact("prosecutor-astana", RecipientRole.OFFICER) is None
    assert directory.contact("nowhere", RecipientRole.OFFICER) is None
    assert directory.agency_name("astana-energy", Language.KK) == "Энергетика басқармасы"
    assert directory.agency_name("astana-energy", Language.RU) == "Управление энергетики"
    assert directory.agency_name("nowhere", Language.RU) == "nowhere"


def test_an_unset_directory_is_empty_and_a_file_path_is_read(tmp_path) -> None:
    assert parse_directory(None) == {} and parse_directory("  ") == {}
    path = tmp_path / "directory.json"
    path.write_text(json.dumps({"akimat-astana": {"officer": {"phone": "+77170000000"}}}))
    assert parse_directory(str(path))["akimat-astana"].officer.phone == "+77170000000"


def test_agency_names_come_from_the_registry_routing_ships() -> None:
    names = load_agency_names()
    assert names["akimat-astana"][Language.KK] == "Астана қаласы әкімдігі"
    assert load_agency_names("/nonexistent/agencies.json") == {}


def test_provider_failures_never_carry_personal_data_into_reasons() -> None:
    failure = DeliveryFailed("gateway refused +77011234567 and erlan@example.kz")
    assert "+77011234567" not in failure.reason and "erlan@example.kz" not in failure.reason
    assert not failure.permanent


def test_addresses_are_masked_for_logs() -> None:
    assert "1234567" not in mask_address("+77011234567")
    assert mask_address("erlan@example.kz").endswith("@example.kz")
    assert "3000" not in mask_address("900101300017")
    assert mask_address(None) == "-"


def test_notify_settings_come_from_the_environment_on_top_of_the_shared_ones(monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_SMS_GATEWAY_URL", "http://gw.example/send")
    monkeypatch.setenv("NOTIFY_QUIET_START", "23:00")
    monkeypatch.setenv("NOTIFY_CITIZEN_CHANNEL_ORDER", '["email", "sms"]')
    settings = NotifySettings.specialise(
        ServiceSettings(service_name="notify", topic_prefix="x-", database_prefix="x-")
    )
    assert settings.sms_gateway_url == "http://gw.example/send"
    assert settings.quiet_hours_start == time(23, 0)
    assert settings.quiet_hours_end == time(8, 0)
    assert settings.citizen_channel_order == [EMAIL, SMS]
    assert settings.topic_prefix == "x-" and settings.database_name == "x-notify"


def test_plain_service_settings_become_notify_settings() -> None:
    from services.common.settings import settings_for

    settings = NotifySettings.specialise(settings_for("notify", topic_prefix="p-"))
    assert isinstance(settings, NotifySettings)
    assert settings.topic_prefix == "p-" and settings.max_attempts >= 1
