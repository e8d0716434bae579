"""Planning deliveries: which channel gets a notification, when, alone or in
a digest. Called by the notification and preference services inside their
transaction."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction

from notifications import conf
from notifications.kinds import FREQUENCY_IMMEDIATELY, FREQUENCY_OFF
from notifications.models import Delivery, DeliveryStatus, Digest
from notifications.schedule import digest_due_at, zone


def digest_for(*, user, channel: str, frequency: str, after: datetime.datetime) -> Digest:
    """The learner's pending digest on this channel and frequency that goes
    out next after `after` (created on first use; unique per period)."""
    due_at = digest_due_at(
        frequency=frequency,
        tz=zone(user.time_zone),
        after=after,
        hour=conf.digest_hour(),
        weekday=conf.digest_weekday(),
    )
    lookup = {"user": user, "channel": channel, "frequency": frequency, "due_at": due_at}
    digest = Digest.objects.filter(**lookup).first()
    if digest is None:
        try:
            with transaction.atomic():
                digest = Digest.objects.create(**lookup, send_after=due_at)
        except IntegrityError:  # created meanwhile by a concurrent planner
            digest = Digest.objects.get(**lookup)
    if digest.status != DeliveryStatus.PENDING:
        # That period's digest already went (a clock at its boundary): the next one.
        return digest_for(
            user=user,
            channel=channel,
            frequency=frequency,
            after=due_at + datetime.timedelta(seconds=1),
        )
    return digest


def delivery_schedule(
    delivery: Delivery, *, user, frequency: str, now: datetime.datetime, available_at
) -> None:
    """Set a pending delivery's frequency, digest and due time (not saved)."""
    delivery.frequency = frequency
    start = max(now, available_at)
    if frequency == FREQUENCY_OFF:
        delivery.status = DeliveryStatus.CANCELLED
        delivery.digest = None
        delivery.due_at = start
    elif frequency == FREQUENCY_IMMEDIATELY:
        delivery.digest = None
        delivery.due_at = start
    else:
        digest = digest_for(user=user, channel=delivery.channel, frequency=frequency, after=start)
        delivery.digest = digest
        delivery.due_at = digest.due_at
