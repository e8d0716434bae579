"""Creating, withdrawing, reading and opening notifications."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.services import event_record
from core.errors import ValidationError
from notifications import events
from notifications.channels import IN_APP
from notifications.kinds import FREQUENCY_IMMEDIATELY, FREQUENCY_OFF, kind_get
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.selectors import frequencies_get
from notifications.services.deliveries import delivery_schedule

EVENT_NAMESPACE = uuid.UUID("6b0b7c36-8f0e-4b8e-9a55-0c8f9f3f2a11")
TITLE_MAX = 200
KEY_MAX = 200
URL_MAX = 500
BODY_MAX = 5000


def event_uuid(*parts: Any) -> uuid.UUID:
    """A stable event id, so recording the same fact twice stores one event."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(str(part) for part in parts))


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url.startswith("/") or url.startswith("//") or "\\" in url or len(url) > URL_MAX:
        raise ValidationError(
            "A notification's link must be a site-relative path such as /courses/1/.",
            code="invalid_url",
            details={"url": url[:100]},
        )
    return url


def _clean(*, kind: str, key: str, title: str, body: str, url: str) -> tuple[Any, str]:
    found = kind_get(kind)
    if found is None:
        raise ValidationError(
            f"Unknown notification kind {kind!r}: register it with notifications.kinds.kind_register.",
            code="unknown_kind",
        )
    if not key or len(key) > KEY_MAX:
        raise ValidationError(f"A notification key is 1 to {KEY_MAX} characters.", code="invalid")
    if not title or len(title) > TITLE_MAX:
        raise ValidationError(f"A title is 1 to {TITLE_MAX} characters.", code="invalid")
    if len(body or "") > BODY_MAX:
        raise ValidationError(f"A body is at most {BODY_MAX} characters.", code="invalid")
    return found, _clean_url(url)


def notification_create_or_get(
    *,
    user,
    kind: str,
    key: str,
    title: str,
    body: str,
    url: str,
    course=None,
    not_before: datetime.datetime | None = None,
    payload: dict | None = None,
    now: datetime.datetime | None = None,
) -> tuple[Notification, bool]:
    """Create the notification (user, kind, key) and plan its deliveries by
    the learner's preferences, or return the existing one unchanged
    (created=False). The unique constraint decides, not a check-then-act.

    A due in-app delivery is shown at once (its frame goes after commit);
    the other channels are sent by the beat task (`deliveries_send`)."""
    found, url = _clean(kind=kind, key=key, title=title, body=body, url=url)
    now = now or timezone.now()
    available_at = max(now, not_before) if not_before else now
    # No savepoint of its own inside a caller's transaction (the insert has one).
    with transaction.atomic(savepoint=False):
        existing = Notification.objects.filter(user=user, kind=kind, key=key).first()
        if existing is not None:
            return existing, False
        frequencies = frequencies_get(user_id=user.pk, kind=found)
        # The bell shows it at once when in-app is immediate and it is due now.
        shown_now = frequencies.get(IN_APP) == FREQUENCY_IMMEDIATELY and available_at <= now
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    user=user,
                    kind=kind,
                    key=key,
                    title=title,
                    body=body or "",
                    url=url,
                    course=course,
                    payload=payload or {},
                    available_at=available_at,
                    shown_at=now if shown_now else None,
                )
        except IntegrityError:  # a concurrent create of the same (user, kind, key)
            return Notification.objects.get(user=user, kind=kind, key=key), False
        deliveries = []
        for channel, frequency in frequencies.items():
            if frequency == FREQUENCY_OFF:
                continue
            delivery = Delivery(notification=notification, channel=channel)
            delivery_schedule(
                delivery, user=user, frequency=frequency, now=now, available_at=available_at
            )
            if channel == IN_APP and shown_now:
                delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            deliveries.append(delivery)
        Delivery.objects.bulk_create(deliveries)
        if shown_now:
            shown = next(d for d in deliveries if d.channel == IN_APP)
            # A brand-new delivery: no earlier event to deduplicate against.
            delivery_sent_record(shown, at=now, idempotent=False)
            events.notification_created(notification)
    return notification, True


def notification_create(
    *,
    user,
    kind: str,
    key: str,
    title: str,
    body: str,
    url: str,
    course=None,
    not_before: datetime.datetime | None = None,
    payload: dict | None = None,
) -> Notification:
    """Idempotent on (user, kind, key): a second call returns the stored row unchanged."""
    notification, _created = notification_create_or_get(
        user=user,
        kind=kind,
        key=key,
        title=title,
        body=body,
        url=url,
        course=course,
        not_before=not_before,
        payload=payload,
    )
    return notification


def delivery_sent_record(
    delivery: Delivery, *, at: datetime.datetime, idempotent: bool = True
) -> None:
    """The `sent_notification` event; `idempotent`: its id derives from the
    delivery, so recording it again (a retried send) stores nothing."""
    notification = delivery.notification
    event_record(
        verb="sent_notification",
        object_type="notification",
        object_id=notification.pk,
        actor=notification.user,
        course_id=notification.course_id,
        occurred_at=at,
        extensions={
            "kind": notification.kind,
            "channel": delivery.channel,
            "frequency": delivery.frequency,
        },
        event_id=event_uuid("sent", delivery.pk) if idempotent else None,
    )


def in_app_show(delivery: Delivery, *, now: datetime.datetime) -> None:
    """Show a notification in the bell. Precondition: inside a transaction,
    the delivery is pending and no other process holds it (just created, or
    locked by the sender)."""
    notification = delivery.notification
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT, sent_at=now, claimed_until=None
    )
    delivery.status = DeliveryStatus.SENT
    delivery.sent_at = now
    if notification.shown_at is None:
        notification.shown_at = now
        Notification.objects.filter(pk=notification.pk).update(shown_at=now)
    delivery_sent_record(delivery, at=now)
    events.notification_created(notification)


def _withdraw(notification: Notification, *, now: datetime.datetime) -> bool:
    """Precondition: the notification row is locked."""
    pending = Delivery.objects.filter(
        notification=notification, status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.CANCELLED)
    if notification.cancelled_at is not None:
        return False
    sent_elsewhere = Delivery.objects.filter(
        notification=notification, status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING]
    ).exclude(channel=IN_APP)
    if not pending and sent_elsewhere.exists():
        return False  # it already went out: nothing left to withdraw
    was_shown = notification.shown_at is not None
    notification.cancelled_at = now
    Notification.objects.filter(pk=notification.pk).update(cancelled_at=now)
    if was_shown:
        events.notification_withdrawn(notification.user_id, notification_id=notification.pk)
    return True


def notification_cancel(*, user, kind: str, key: str, now: datetime.datetime | None = None) -> bool:
    """Withdraw a notification not yet sent everywhere: its pending deliveries
    are cancelled and it leaves the bell. False if there was none, or it had
    already gone out (an email cannot be unsent)."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update().filter(user=user, kind=kind, key=key).first()
        )
        if notification is None:
            return False
        return _withdraw(notification, now=now)


def notifications_cancel_for(
    *, kind: str, key_prefix: str, now: datetime.datetime | None = None
) -> int:
    """Withdraw every unsent notification of a kind whose key starts with
    `key_prefix` (e.g. all of a dropped plan's follow-ups). Returns how many."""
    if not key_prefix:
        raise ValidationError("A key prefix is required.", code="invalid")
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        rows = (
            Notification.objects.select_for_update()
            .filter(kind=kind, key__startswith=key_prefix, cancelled_at__isnull=True)
            .order_by("pk")
        )
        for notification in rows:
            count += _withdraw(notification, now=now)
    return count


def notification_read(*, notification: Notification, now: datetime.datetime | None = None) -> bool:
    """Mark one notification read (the caller obtained it through
    `access_notification`). False if it already was."""
    now = now or timezone.now()
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now
        )
        if updated:
            notification.read_at = now
            events.notifications_read(notification.user_id, ids=[notification.pk], everything=False)
    return bool(updated)


def notifications_read_all(*, user, now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        updated = Notification.objects.filter(
            user=user, read_at__isnull=True, shown_at__isnull=False
        ).update(read_at=now)
        if updated:
            events.notifications_read(user.pk, ids=[], everything=True)
    return updated


def notification_open(
    *, notification: Notification, via: str, now: datetime.datetime | None = None
) -> Notification:
    """The learner followed a notification's link (in the app or from an
    email): it counts as opened and read, and the open is a learning event."""
    now = now or timezone.now()
    with transaction.atomic():
        first = not Notification.objects.filter(
            pk=notification.pk, opened_at__isnull=False
        ).exists()
        if first:
            Notification.objects.filter(pk=notification.pk).update(opened_at=now)
            notification.opened_at = now
        was_unread = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now
        )
        if was_unread:
            notification.read_at = now
        event_record(
            verb="opened_notification",
            object_type="notification",
            object_id=notification.pk,
            actor=notification.user,
            course_id=notification.course_id,
            occurred_at=now,
            extensions={"kind": notification.kind, "via": via, "first": first},
        )
        if was_unread and notification.shown_at is not None:
            events.notifications_read(notification.user_id, ids=[notification.pk], everything=False)
    return notification
