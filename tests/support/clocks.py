"""Clocks for tests, beside the services' own `SystemClock` and `ManualClock`
(services/common/clock.py): both here may be set anywhere, back in time included, because
one test module may put its notify instance at 23:30 after another test put it at 08:01."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALMATY = ZoneInfo("Asia/Almaty")


def local_moment(hour: int, minute: int, days_ahead: int = 0) -> datetime:
    """Today's (or a later day's) local time in Almaty."""
    day = datetime.now(ALMATY).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour, minute), tzinfo=ALMATY)


class SettableClock:
    """A fixed "now", moved only by the test."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> datetime:
        self.moment = moment
        return moment

    def set_local(self, hour: int, minute: int, days_ahead: int = 0) -> datetime:
        return self.set(local_moment(hour, minute, days_ahead).astimezone(UTC))

    def advance(self, seconds: float) -> datetime:
        return self.set(self.moment + timedelta(seconds=seconds))


class ShiftedClock:
    """The real time, shifted so that "now" is a chosen local time in Almaty: time passes
    (retries come due) while the test has put the service at, say, 23:30."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set_local(self, hour: int, minute: int, days_ahead: int = 0) -> datetime:
        target = local_moment(hour, minute, days_ahead)
        self.offset = target - datetime.now(UTC)
        return target
