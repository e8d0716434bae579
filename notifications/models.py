"""Notifications, their per-channel deliveries, digests, preferences and the
per-user socket's sequence row (docs/notifications.md).

A `Notification` is unique per (user, kind, key): creating it twice returns
the first row. Each channel it goes out on has one `Delivery` row, unique per
(notification, channel), whose status moves pending -> sending -> sent (or
cancelled, failed); the sender claims a row with a row lock and a committed
state change, so two beats never send the same delivery twice. Deliveries
held for a digest point at a `Digest` row, unique per (user, channel,
frequency, due time), sent the same way."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Notification(models.Model):
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=100)
    key = models.CharField(_("key"), max_length=200)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500)  # site-relative
    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Nothing goes out before this time (max of creation and `not_before`).
    available_at = models.DateTimeField(_("available at"))
    # When it appeared in the bell (null: not yet, or in-app is off).
    shown_at = models.DateTimeField(_("shown at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "key"], name="notifications_unique_user_kind_key"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-shown_at"], name="notif_user_shown"),
            models.Index(
                fields=["user"],
                condition=Q(read_at__isnull=True, shown_at__isnull=False),
                name="notif_user_unread",
            ),
            models.Index(fields=["kind", "key"], name="notif_kind_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} for {self.user_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")


class Digest(models.Model):
    """One digest message of a user on a channel (daily or weekly), due at
    `due_at`; its deliveries are sent together."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="notification_digests")
    channel = models.CharField(max_length=32)
    frequency = models.CharField(max_length=16)
    due_at = models.DateTimeField()  # the period's send time: part of its identity
    # Not before this time (quiet hours, a retry's backoff); starts at due_at.
    send_after = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "frequency", "due_at"],
                name="notifications_unique_digest",
            ),
        ]
        indexes = [models.Index(fields=["status", "send_after"], name="notif_digest_due")]

    def __str__(self) -> str:
        return f"{self.frequency} {self.channel} digest of {self.user_id} at {self.due_at}"


class Delivery(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=32)
    frequency = models.CharField(max_length=16)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Not before this time (availability, quiet hours, a retry's backoff).
    due_at = models.DateTimeField()
    digest = models.ForeignKey(
        Digest, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    attempts = models.PositiveIntegerField(default=0)
    # A `sending` row whose claim ran out belonged to a worker that died mid-send.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="notifications_unique_delivery"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending", digest__isnull=True),
                name="notif_delivery_due",
            ),
            models.Index(fields=["status", "sent_at"], name="notif_delivery_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of notification {self.notification_id}"


class NotificationPreference(models.Model):
    """A learner's choice for one kind on one channel (absent: the kind's default)."""

    user = models.ForeignKey(
        USER, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=100)
    channel = models.CharField(max_length=32)
    frequency = models.CharField(max_length=16)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="notifications_unique_preference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel}: {self.frequency}"


def default_quiet_start() -> datetime.time:
    return datetime.time(21, 0)


def default_quiet_end() -> datetime.time:
    return datetime.time(8, 0)


class NotificationSettings(models.Model):
    """A learner's quiet hours (in their own time zone) and daily cap. Its row
    lock serialises the cap's count across concurrent senders."""

    user = models.OneToOneField(
        USER, on_delete=models.CASCADE, primary_key=True, related_name="notification_settings"
    )
    quiet_hours_enabled = models.BooleanField(default=True)
    quiet_start = models.TimeField(default=default_quiet_start)
    quiet_end = models.TimeField(default=default_quiet_end)
    daily_cap = models.PositiveIntegerField(null=True, blank=True)  # null: the site default
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification settings of {self.user_id}"


class NotificationStream(models.Model):
    """The sequence row of a user's notification socket (core/rooms): `seq`
    and `stream_heads` number its frames for resync."""

    user = models.OneToOneField(
        USER, on_delete=models.CASCADE, primary_key=True, related_name="notification_stream"
    )
    seq = models.BigIntegerField(default=0)
    stream_heads = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"notification stream of {self.user_id} at {self.seq}"
