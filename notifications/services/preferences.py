"""A learner's preferences: frequency per kind x channel, quiet hours, daily
cap; and unsubscribing from a signed link. A change is honoured at once:
deliveries still pending are re-planned (cancelled, moved into or out of a
digest) in the same transaction."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import NotFoundError, ValidationError
from courses.models import User
from notifications.channels import CHANNELS
from notifications.kinds import FREQUENCIES, FREQUENCY_OFF, kind_get
from notifications.models import (
    Delivery,
    DeliveryStatus,
    NotificationPreference,
    NotificationSettings,
)
from notifications.services.deliveries import delivery_schedule
from notifications.unsubscribe import unsubscribe_token_read

CAP_MIN, CAP_MAX = 1, 100
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _frequencies_clean(kinds: Any) -> list[tuple[str, str, str]]:
    if not isinstance(kinds, dict):
        raise ValidationError(
            'Preferences are an object: {"<kind>": {"<channel>": "<frequency>"}}.',
            code="invalid",
            details={"kinds": "Expected an object."},
        )
    cleaned = []
    for key, channels in kinds.items():
        kind = kind_get(key)
        if kind is None:
            raise ValidationError(
                f"Unknown notification kind {key!r}.",
                code="unknown_kind",
                details={"kinds": f"Unknown kind {key!r}."},
            )
        if not isinstance(channels, dict):
            raise ValidationError(
                f"The channels of {key!r} must be an object of channel to frequency.",
                code="invalid",
                details={"kinds": key},
            )
        for channel, frequency in channels.items():
            if channel not in CHANNELS:
                raise ValidationError(
                    f"Unknown channel {channel!r}; channels are {', '.join(CHANNELS)}.",
                    code="unknown_channel",
                    details={"kinds": f"{key}.{channel}"},
                )
            if channel not in kind.channels:
                raise ValidationError(
                    f"{key!r} notifications are not sent by {channel!r}.",
                    code="unknown_channel",
                    details={"kinds": f"{key}.{channel}"},
                )
            if frequency not in FREQUENCIES:
                raise ValidationError(
                    f"Unknown frequency {frequency!r}; choose one of {', '.join(FREQUENCIES)}.",
                    code="unknown_frequency",
                    details={"kinds": f"{key}.{channel}"},
                )
            cleaned.append((key, channel, frequency))
    return cleaned


def _clock(value: Any, field: str) -> datetime.time:
    match = CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(
            f"Quiet hours' {field} is a time HH:MM between 00:00 and 23:59.",
            code="invalid_quiet_hours",
            details={"quiet_hours": field},
        )
    return datetime.time(int(match[1]), int(match[2]))


def _quiet_hours_clean(
    value: Any, current: NotificationSettings
) -> tuple[bool, datetime.time, datetime.time]:
    if not isinstance(value, dict) or set(value) - {"enabled", "start", "end"}:
        raise ValidationError(
            'Quiet hours are {"enabled": true, "start": "HH:MM", "end": "HH:MM"}.',
            code="invalid_quiet_hours",
            details={"quiet_hours": "Expected enabled, start and end."},
        )
    enabled = value.get("enabled", current.quiet_hours_enabled)
    if not isinstance(enabled, bool):
        raise ValidationError(
            "Quiet hours' enabled is true or false.",
            code="invalid_quiet_hours",
            details={"quiet_hours": "enabled"},
        )
    start = _clock(value["start"], "start") if "start" in value else current.quiet_start
    end = _clock(value["end"], "end") if "end" in value else current.quiet_end
    if enabled and start == end:
        raise ValidationError(
            "Quiet hours must start and end at different times (turn them off instead).",
            code="invalid_quiet_hours",
            details={"quiet_hours": "start equals end"},
        )
    return enabled, start, end


def _cap_clean(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not CAP_MIN <= value <= CAP_MAX:
        raise ValidationError(
            f"The daily cap is a whole number from {CAP_MIN} to {CAP_MAX}.",
            code="invalid",
            details={"daily_cap": "out of range"},
        )
    return value


def _replan(*, user, kind: str, channel: str, frequency: str, now: datetime.datetime) -> None:
    pending = (
        Delivery.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("notification")
        .filter(
            notification__user=user,
            notification__kind=kind,
            channel=channel,
            status=DeliveryStatus.PENDING,
        )
    )
    # Rows a sender holds right now (skipped) are being sent already.
    for delivery in pending:
        delivery_schedule(
            delivery,
            user=user,
            frequency=frequency,
            now=now,
            available_at=delivery.notification.available_at,
        )
        delivery.save(update_fields=["frequency", "status", "digest", "due_at"])


def preferences_update(
    *,
    user,
    kinds: Any = None,
    quiet_hours: Any = None,
    daily_cap: Any = None,
    now: datetime.datetime | None = None,
) -> None:
    """Validate everything first (a bad entry changes nothing), then store
    and re-plan what is still pending."""
    now = now or timezone.now()
    frequencies = _frequencies_clean(kinds) if kinds is not None else []
    with transaction.atomic():
        current = NotificationSettings.objects.filter(user=user).first() or NotificationSettings(
            user=user
        )
        quiet = _quiet_hours_clean(quiet_hours, current) if quiet_hours is not None else None
        cap = _cap_clean(daily_cap) if daily_cap is not None else None
        for kind, channel, frequency in frequencies:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, channel=channel, defaults={"frequency": frequency}
            )
            _replan(user=user, kind=kind, channel=channel, frequency=frequency, now=now)
        # Settings last: the sender locks a delivery, then the settings row.
        if quiet is not None or cap is not None:
            values: dict[str, Any] = {}
            if quiet is not None:
                values.update(
                    quiet_hours_enabled=quiet[0], quiet_start=quiet[1], quiet_end=quiet[2]
                )
            if cap is not None:
                values["daily_cap"] = cap
            NotificationSettings.objects.update_or_create(user=user, defaults=values)


def unsubscribe_apply(*, token: str, now: datetime.datetime | None = None) -> tuple[Any, list[str]]:
    """Turn off the kinds a signed unsubscribe link names, on its channel, at
    once (pending sends are cancelled). Returns the user and the kinds."""
    request = unsubscribe_token_read(token)
    user = User.objects.filter(pk=request.user_id, is_active=True).first()
    if user is None:
        raise NotFoundError("This unsubscribe link's account no longer exists.", code="not_found")
    kinds = [
        key
        for key in request.kinds
        if (kind := kind_get(key)) is not None and request.channel in kind.channels
    ]
    preferences_update(
        user=user,
        kinds={key: {request.channel: FREQUENCY_OFF} for key in kinds},
        now=now,
    )
    return user, kinds
