"""Reads of notifications and preferences, shared by the pages, the API and
the socket's snapshot."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from notifications import conf
from notifications.channels import channel_keys
from notifications.kinds import Kind, kind_get, kinds_all
from notifications.models import (
    Notification,
    NotificationPreference,
    NotificationSettings,
    NotificationStream,
)


def notifications_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """What the learner's bell and notifications page show, newest first."""
    rows = Notification.objects.filter(
        user=user, shown_at__isnull=False, cancelled_at__isnull=True
    ).order_by("-shown_at", "-pk")
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return rows


def unread_count_get(*, user_id: int) -> int:
    return Notification.objects.filter(
        user_id=user_id, shown_at__isnull=False, read_at__isnull=True, cancelled_at__isnull=True
    ).count()


def frequencies_get(*, user_id: int, kind: Kind) -> dict[str, str]:
    """The learner's frequency on each channel the kind uses (one query)."""
    stored = dict(
        NotificationPreference.objects.filter(user_id=user_id, kind=kind.key).values_list(
            "channel", "frequency"
        )
    )
    return {channel: stored.get(channel, kind.default_frequency) for channel in kind.channels}


def settings_get(*, user_id: int) -> NotificationSettings:
    """The learner's quiet hours and cap (defaults when never saved; not stored)."""
    found = NotificationSettings.objects.filter(user_id=user_id).first()
    return found or NotificationSettings(user_id=user_id)


def daily_cap_get(row: NotificationSettings) -> int:
    return row.daily_cap if row.daily_cap is not None else conf.daily_cap_default()


def preferences_get(*, user) -> dict[str, Any]:
    """Every registered kind x channel with the learner's frequency, their
    quiet hours, time zone and daily cap (the preferences page and API)."""
    stored = {
        (row.kind, row.channel): row.frequency
        for row in NotificationPreference.objects.filter(user=user)
    }
    row = settings_get(user_id=user.pk)
    kinds = []
    for kind in kinds_all():
        channels = {}
        for channel in channel_keys():
            if channel in kind.channels:
                channels[channel] = stored.get((kind.key, channel), kind.default_frequency)
        kinds.append(
            {
                "kind": kind.key,
                "label": kind.label,
                "description": kind.description,
                "channels": channels,
            }
        )
    return {
        "kinds": kinds,
        "quiet_hours": {
            "enabled": row.quiet_hours_enabled,
            "start": row.quiet_start.strftime("%H:%M"),
            "end": row.quiet_end.strftime("%H:%M"),
        },
        "time_zone": user.time_zone,
        "daily_cap": daily_cap_get(row),
    }


def kind_label(key: str) -> str:
    kind = kind_get(key)
    return kind.label if kind else key


def stream_seq_get(user_id: int) -> int | None:
    """The user's notification socket's current frame seq (None: no frame yet)."""
    return NotificationStream.objects.filter(user_id=user_id).values_list("seq", flat=True).first()


SNAPSHOT_RECENT = 10


def stream_snapshot_get(*, access) -> dict[str, Any]:
    """What the bell shows on connect: the unread count and the newest few.
    The seq is read first: anything committed after it arrives as frames."""
    from notifications.events import notification_data

    user = access.user
    seq = stream_seq_get(user.pk) or 0
    recent = list(notifications_list(user=user)[:SNAPSHOT_RECENT])
    return {
        "seq": seq,
        "unread_count": unread_count_get(user_id=user.pk),
        "notifications": [notification_data(n) for n in recent],
    }
