"""The one learning-event log, live and async alike (xAPI-shaped).

Append-only: rows are inserted by `analytics.services.event_record` and never
updated. Live sessions and recordings are referenced by id, not by foreign
key: the log must outlive what it describes and `analytics` must not depend
on the apps that feed it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventMode(models.TextChoices):
    LIVE = "live", _("Live")
    PLAYBACK = "playback", _("Playback")
    REVIEW = "review", _("Review")


class EventSource(models.TextChoices):
    SERVER = "server", _("Server")
    CLIENT = "client", _("Client")


class AppendOnlyError(RuntimeError):
    pass


class LearningEvent(models.Model):
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="learning_events",
        help_text=_("Empty for events of the system itself."),
    )
    verb = models.CharField(_("verb"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=128, blank=True)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    live_session_id = models.BigIntegerField(_("live session id"), null=True, blank=True)
    recording_id = models.BigIntegerField(_("recording id"), null=True, blank=True)
    mode = models.CharField(
        _("mode"), max_length=16, choices=EventMode.choices, default=EventMode.LIVE
    )
    media_time_ms = models.BigIntegerField(_("media time (ms)"), null=True, blank=True)
    success = models.BooleanField(_("success"), null=True, blank=True)
    score = models.FloatField(_("score"), null=True, blank=True)
    response = models.TextField(_("response"), blank=True)
    duration_ms = models.BigIntegerField(_("duration (ms)"), null=True, blank=True)
    extensions = models.JSONField(_("extensions"), default=dict, blank=True)
    source = models.CharField(
        _("source"), max_length=8, choices=EventSource.choices, default=EventSource.SERVER
    )

    class Meta:
        verbose_name = _("learning event")
        verbose_name_plural = _("learning events")
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["course", "occurred_at"], name="event_course_time_idx"),
            models.Index(fields=["live_session_id", "occurred_at"], name="event_session_time_idx"),
            models.Index(fields=["recording_id", "occurred_at"], name="event_recording_time_idx"),
            models.Index(fields=["actor", "occurred_at"], name="event_actor_time_idx"),
            models.Index(fields=["course", "verb", "occurred_at"], name="event_course_verb_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(media_time_ms__isnull=True) | models.Q(media_time_ms__gte=0),
                name="event_media_time_nonnegative",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_ms__isnull=True) | models.Q(duration_ms__gte=0),
                name="event_duration_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id or 'system'} {self.verb} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        # A guard, not a side effect: the log is append-only.
        if not self._state.adding:
            raise AppendOnlyError("learning events are append-only")
        super().save(*args, **kwargs)
