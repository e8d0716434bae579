"""Pure time arithmetic in the learner's own time zone: quiet hours, digest
times, the start of their day (for the daily cap). No database."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from notifications.kinds import FREQUENCY_DAILY, FREQUENCY_WEEKLY


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):  # a name the tz database lost
        return ZoneInfo("UTC")


def _at(date: datetime.date, time: datetime.time, tz: ZoneInfo) -> datetime.datetime:
    """A local wall-clock time as an aware datetime (a time skipped by a DST
    jump lands just after it, as zoneinfo resolves it)."""
    return datetime.datetime.combine(date, time, tzinfo=tz)


def quiet_until(
    *,
    start: datetime.time,
    end: datetime.time,
    tz: ZoneInfo,
    now: datetime.datetime,
) -> datetime.datetime | None:
    """When the quiet hours containing `now` end, or None outside them.

    `start > end` spans midnight (21:00-08:00); `start == end` means none."""
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start > end:
        if clock >= start:
            return _at(local.date() + datetime.timedelta(days=1), end, tz)
        if clock < end:
            return _at(local.date(), end, tz)
        return None
    if start <= clock < end:
        return _at(local.date(), end, tz)
    return None


def local_day_start(*, tz: ZoneInfo, now: datetime.datetime) -> datetime.datetime:
    local = now.astimezone(tz)
    return _at(local.date(), datetime.time(0, 0), tz)


def digest_due_at(
    *,
    frequency: str,
    tz: ZoneInfo,
    after: datetime.datetime,
    hour: int,
    weekday: int,
) -> datetime.datetime:
    """The first digest time strictly after `after`: every day at `hour`
    local time (daily), or on `weekday` (0 = Monday) at `hour` (weekly)."""
    local = after.astimezone(tz)
    at = datetime.time(hour, 0)
    candidate = _at(local.date(), at, tz)
    if frequency == FREQUENCY_DAILY:
        if candidate <= after:
            candidate = _at(local.date() + datetime.timedelta(days=1), at, tz)
        return candidate
    if frequency != FREQUENCY_WEEKLY:
        raise ValueError(f"no digest for frequency {frequency!r}")
    days = (weekday - local.weekday()) % 7
    candidate = _at(local.date() + datetime.timedelta(days=days), at, tz)
    if candidate <= after:
        candidate = _at(local.date() + datetime.timedelta(days=days + 7), at, tz)
    return candidate
