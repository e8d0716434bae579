from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel

USER = settings.AUTH_USER_MODEL


class RecordingStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class RecordingSource(models.TextChoices):
    LIVE = "live", _("Recorded live session")
    UPLOAD = "upload", _("Uploaded by staff")


def recording_upload_to(instance: Recording, filename: str) -> str:
    return f"recordings/course-{instance.course_id}/{filename}"


class Recording(TimestampedModel):
    """A media file of a course, usually the recording of a live session.

    Media time zero is the moment recording started (`recorded_from`); the
    spans in RecordingSpan map wall-clock time to media time across pauses.
    A recording is `ready` only once its file is complete and verified."""

    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="recordings"
    )
    live_session = models.ForeignKey(
        "classroom.LiveSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recordings",
    )
    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(
        max_length=8, choices=RecordingSource.choices, default=RecordingSource.LIVE
    )
    status = models.CharField(
        max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.PROCESSING
    )
    failure_reason = models.TextField(blank=True)
    file = models.FileField(upload_to=recording_upload_to, blank=True, max_length=300)
    mime_type = models.CharField(max_length=64, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    recorded_from = models.DateTimeField(_("recording started at"), null=True, blank=True)
    trim_start_ms = models.BigIntegerField(default=0)
    trim_end_ms = models.BigIntegerField(null=True, blank=True)
    # Per-recording playback choices: which polls replay, pause at polls, skipping.
    settings = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["course", "status"], name="recording_course_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="ready") | (Q(duration_ms__isnull=False) & ~Q(file="")),
                name="ready_recording_has_file_and_duration",
            ),
            models.CheckConstraint(
                condition=Q(trim_start_ms__gte=0), name="trim_start_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class RecordingSpan(models.Model):
    """One uninterrupted stretch of recording: wall-clock [started_at, ended_at)
    maps to media time starting at `media_offset_ms`. A pause ends a span."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="spans")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    media_offset_ms = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.recording_id}@{self.media_offset_ms}"
