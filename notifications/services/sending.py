"""The sender: every due delivery and digest, once (docs/notifications.md,
"Sending guarantees").

A send is claimed before it goes out: in a short transaction the row is
locked (`SKIP LOCKED`: a concurrent sender passes over it), checked (still
pending and due, not cancelled, outside quiet hours, under the daily cap)
and moved to `sending` with a claim deadline, then committed. Only then is
the message handed to the mail backend, outside any transaction; success
moves the row to `sent` (and records the learning event), failure back to
`pending` with an exponential backoff. So a second beat, a redelivered task
or a concurrent worker finds the row taken or sent and sends nothing. A
worker that dies between the claim and the result leaves a `sending` row
whose claim runs out (`NOTIFICATIONS_CLAIM_SECONDS`); it is then sent again,
with the same Message-ID."""

from __future__ import annotations

import asyncio
import datetime
import logging
import weakref
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.asyncdb import db_call
from notifications import conf
from notifications.channels import IN_APP, channel_get, channel_keys
from notifications.emails import NoAddressError
from notifications.kinds import FREQUENCY_DAILY
from notifications.models import Delivery, DeliveryStatus, Digest, NotificationSettings
from notifications.schedule import local_day_start, quiet_until, zone
from notifications.selectors import daily_cap_get
from notifications.services.deliveries import digest_for
from notifications.services.notifications import delivery_sent_record, in_app_show

logger = logging.getLogger(__name__)

SENT = "sent"
HELD = "held"
CAPPED = "capped"
RETRY = "retry"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"
BATCH = 500


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4, ... times the base after each failed attempt, at most the max."""
    base = conf.retry_base_seconds()
    return min(conf.retry_max_seconds(), base * 2 ** max(0, attempts - 1))


def _claimable(now: datetime.datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, due_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def _digest_claimable(now: datetime.datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, send_after__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def _settings_locked(user_id: int) -> NotificationSettings:
    NotificationSettings.objects.get_or_create(user_id=user_id)
    return NotificationSettings.objects.select_for_update().get(user_id=user_id)


def _quiet_until(row: NotificationSettings, user, now) -> datetime.datetime | None:
    if not row.quiet_hours_enabled:
        return None
    return quiet_until(start=row.quiet_start, end=row.quiet_end, tz=zone(user.time_zone), now=now)


def _sent_today(user, now) -> int:
    """Immediate sends on interrupting channels since the learner's midnight
    (claimed ones count: they are going out)."""
    interrupting = [key for key in channel_keys() if channel_get(key).interrupts]
    start = local_day_start(tz=zone(user.time_zone), now=now)
    return (
        Delivery.objects.filter(
            notification__user=user, channel__in=interrupting, digest__isnull=True
        )
        .filter(
            Q(status=DeliveryStatus.SENT, sent_at__gte=start) | Q(status=DeliveryStatus.SENDING)
        )
        .count()
    )


def delivery_send(*, delivery_id: int, now: datetime.datetime | None = None) -> str:
    """Send one due delivery (not part of a digest) if it is still due and
    nobody else holds it. Returns what happened."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification", "notification__user")
            .filter(_claimable(now), pk=delivery_id, digest__isnull=True)
            .first()
        )
        if delivery is None:
            return SKIPPED
        notification = delivery.notification
        user = notification.user
        if notification.cancelled_at is not None or not user.is_active:
            Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.CANCELLED)
            return CANCELLED
        channel = channel_get(delivery.channel)
        if delivery.channel == IN_APP:
            in_app_show(delivery, now=now)
            return SENT
        if channel is None or channel.deliver is None:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, last_error=f"no channel {delivery.channel!r}"
            )
            return FAILED
        if channel.interrupts:
            row = _settings_locked(user.pk)
            until = _quiet_until(row, user, now)
            if until is not None:
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=DeliveryStatus.PENDING, due_at=until, claimed_until=None
                )
                return HELD
            if _sent_today(user, now) >= daily_cap_get(row):
                # Over the cap: it goes in the next daily digest instead.
                digest = digest_for(
                    user=user, channel=delivery.channel, frequency=FREQUENCY_DAILY, after=now
                )
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=DeliveryStatus.PENDING,
                    digest=digest,
                    due_at=digest.due_at,
                    claimed_until=None,
                    last_error="daily cap reached: moved to the daily digest",
                )
                return CAPPED
        attempts = delivery.attempts + 1
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENDING,
            attempts=attempts,
            claimed_until=now + datetime.timedelta(seconds=conf.claim_seconds()),
        )
    try:
        channel.deliver(notification)
    except NoAddressError as error:
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.CANCELLED, claimed_until=None, last_error=str(error)
        )
        return CANCELLED
    except Exception as error:  # the backend's failure, whatever it is: retry later
        logger.warning(
            "notification delivery %s failed (attempt %s): %s", delivery.pk, attempts, error
        )
        return _failed(
            Delivery, delivery.pk, attempts=attempts, error=error, field="due_at", now=now
        )
    sent_at = now
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SENT, sent_at=sent_at, claimed_until=None, last_error=""
        )
        if updated:
            delivery.status = DeliveryStatus.SENT
            delivery_sent_record(delivery, at=sent_at)
    return SENT


def _failed(
    model, pk: int, *, attempts: int, error: Exception, field: str, now: datetime.datetime
) -> str:
    gave_up = attempts >= conf.max_attempts()
    model.objects.filter(pk=pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        claimed_until=None,
        last_error=f"{type(error).__name__}: {error}"[:2000],
        **{field: now + datetime.timedelta(seconds=backoff_seconds(attempts))},
    )
    return FAILED if gave_up else RETRY


def digest_send(*, digest_id: int, now: datetime.datetime | None = None) -> str:
    """Send one due digest as one message (or, in the app, show its items)."""
    now = now or timezone.now()
    with transaction.atomic():
        digest = (
            Digest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(_digest_claimable(now), pk=digest_id)
            .first()
        )
        if digest is None:
            return SKIPPED
        user = digest.user
        deliveries = list(
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification", "notification__user")
            .filter(digest=digest, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
            .order_by("notification__available_at", "pk")
        )
        live = []
        for delivery in deliveries:
            if delivery.notification.cancelled_at is not None or not user.is_active:
                Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.CANCELLED)
            else:
                live.append(delivery)
        if not live:
            Digest.objects.filter(pk=digest.pk).update(
                status=DeliveryStatus.CANCELLED, claimed_until=None
            )
            return CANCELLED
        channel = channel_get(digest.channel)
        if digest.channel == IN_APP:
            for delivery in live:
                in_app_show(delivery, now=now)
            Digest.objects.filter(pk=digest.pk).update(status=DeliveryStatus.SENT, sent_at=now)
            return SENT
        if channel is None or channel.digest_deliver is None:
            Digest.objects.filter(pk=digest.pk).update(
                status=DeliveryStatus.FAILED, last_error=f"no channel {digest.channel!r}"
            )
            return FAILED
        if channel.interrupts:
            row = _settings_locked(user.pk)
            until = _quiet_until(row, user, now)
            if until is not None:
                Digest.objects.filter(pk=digest.pk).update(
                    status=DeliveryStatus.PENDING, send_after=until, claimed_until=None
                )
                return HELD
        attempts = digest.attempts + 1
        claimed_until = now + datetime.timedelta(seconds=conf.claim_seconds())
        Digest.objects.filter(pk=digest.pk).update(
            status=DeliveryStatus.SENDING, attempts=attempts, claimed_until=claimed_until
        )
        Delivery.objects.filter(pk__in=[d.pk for d in live]).update(
            status=DeliveryStatus.SENDING, claimed_until=claimed_until
        )
    ids = [d.pk for d in live]
    try:
        channel.digest_deliver(
            user, [d.notification for d in live], digest.frequency, ident=f"digest.{digest.pk}"
        )
    except NoAddressError as error:
        with transaction.atomic():
            Digest.objects.filter(pk=digest.pk).update(
                status=DeliveryStatus.CANCELLED, last_error=str(error)
            )
            Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.CANCELLED)
        return CANCELLED
    except Exception as error:
        logger.warning("notification digest %s failed (attempt %s): %s", digest.pk, attempts, error)
        with transaction.atomic():
            outcome = _failed(
                Digest, digest.pk, attempts=attempts, error=error, field="send_after", now=now
            )
            Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING).update(
                status=DeliveryStatus.FAILED if outcome == FAILED else DeliveryStatus.PENDING,
                claimed_until=None,
            )
        return outcome
    sent_at = now
    with transaction.atomic():
        updated = Digest.objects.filter(pk=digest.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SENT, sent_at=sent_at, claimed_until=None, last_error=""
        )
        if updated:
            Delivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.SENT, sent_at=sent_at, claimed_until=None
            )
            for delivery in live:
                delivery_sent_record(delivery, at=sent_at)
    return SENT


def _strays_replan(now: datetime.datetime) -> int:
    """Pending deliveries whose digest already went (planned at the very
    moment it was claimed) move to the next one: nothing is left behind."""
    count = 0
    strays = (
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            digest__status__in=[DeliveryStatus.SENT, DeliveryStatus.CANCELLED],
        )
        .select_related("notification__user")
        .order_by("pk")[:BATCH]
    )
    for delivery in strays:
        with transaction.atomic():
            digest = digest_for(
                user=delivery.notification.user,
                channel=delivery.channel,
                frequency=delivery.digest.frequency,
                after=now,
            )
            count += Delivery.objects.filter(
                pk=delivery.pk, status=DeliveryStatus.PENDING, digest_id=delivery.digest_id
            ).update(digest=digest, due_at=digest.due_at)
    return count


def deliveries_send(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Everything due now: single deliveries, then digests. Safe to run
    concurrently with itself (each row is claimed once)."""
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    outcomes["replanned"] = _strays_replan(now)
    due = list(
        Delivery.objects.filter(_claimable(now), digest__isnull=True)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for delivery_id in due:
        outcomes[delivery_send(delivery_id=delivery_id, now=now)] += 1
    digests = list(
        Digest.objects.filter(_digest_claimable(now))
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for digest_id in digests:
        outcomes[f"digest_{digest_send(digest_id=digest_id, now=now)}"] += 1
    return dict(outcomes)


# --- The sender of the embedded default ----------------------------------------

EMBEDDED_SEND_SECONDS = 60.0
_embedded_senders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def embedded_sender_ensure() -> None:
    """Without a Celery worker (the embedded default runs tasks eagerly and
    has no beat), the server loop runs the sender every minute itself, from
    the first notification socket it serves. Call on the server loop."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    loop = asyncio.get_running_loop()
    task = _embedded_senders.get(loop)
    if task is None or task.done():
        _embedded_senders[loop] = loop.create_task(_send_forever())


async def _send_forever() -> None:
    while True:
        await asyncio.sleep(EMBEDDED_SEND_SECONDS)
        try:
            await db_call(deliveries_send)()
        except Exception:  # try again next time
            logger.exception("sending notifications failed")
