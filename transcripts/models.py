"""Transcripts of recordings: one `Transcript` per recording, its timed
`Cue`s (captions), and the `CueRevision` history of staff edits
(docs/transcripts.md).

A transcript is made by the ASR job (source `asr`) or from a caption file
staff upload (source `upload`). The job writes all cues of a run in one
transaction that replaces the previous cues, so a worker killed half-way
leaves either the old cues or the new ones, never a mix or duplicates;
`run_token` names the run that owns the row while it is running."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel

USER = settings.AUTH_USER_MODEL


class TranscriptStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    RUNNING = "running", _("Transcribing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class TranscriptSource(models.TextChoices):
    ASR = "asr", _("Speech recognition")
    UPLOAD = "upload", _("Uploaded caption file")


class Transcript(TimestampedModel):
    recording = models.OneToOneField(
        "playback.Recording", on_delete=models.CASCADE, related_name="transcript"
    )
    status = models.CharField(
        max_length=8, choices=TranscriptStatus.choices, default=TranscriptStatus.PENDING
    )
    source = models.CharField(
        max_length=8, choices=TranscriptSource.choices, default=TranscriptSource.ASR
    )
    progress = models.FloatField(default=0.0)  # 0..1 of the media transcribed
    error = models.TextField(blank=True)  # why it failed, for people
    error_code = models.CharField(max_length=32, blank=True)  # no_audio, decode_error, ...
    language = models.CharField(max_length=16, blank=True)
    model = models.CharField(max_length=200, blank=True)  # name of the model dir used
    attempts = models.PositiveSmallIntegerField(default=0)
    run_token = models.CharField(max_length=32, blank=True)
    file_name = models.CharField(max_length=255, blank=True)  # the uploaded caption file
    uploaded_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1),
                name="transcript_progress_range",
            ),
        ]

    def __str__(self) -> str:
        return f"transcript of {self.recording_id} ({self.status})"


class Cue(models.Model):
    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="cues")
    index = models.PositiveIntegerField()
    start_ms = models.BigIntegerField()
    end_ms = models.BigIntegerField()
    text = models.TextField()
    speaker = models.CharField(max_length=150, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["transcript", "start_ms", "index"]
        constraints = [
            models.UniqueConstraint(fields=["transcript", "index"], name="cue_index_unique"),
            models.CheckConstraint(condition=Q(start_ms__gte=0), name="cue_start_nonnegative"),
            models.CheckConstraint(
                condition=Q(end_ms__gt=F("start_ms")), name="cue_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["transcript", "start_ms"], name="cue_transcript_start_idx")]

    def __str__(self) -> str:
        return f"{self.start_ms}-{self.end_ms} {self.text[:40]}"


class CueRevision(models.Model):
    """One staff edit of a cue: what it was and what it became."""

    cue = models.ForeignKey(Cue, on_delete=models.CASCADE, related_name="revisions")
    previous_text = models.TextField()
    previous_start_ms = models.BigIntegerField()
    previous_end_ms = models.BigIntegerField()
    new_text = models.TextField()
    new_start_ms = models.BigIntegerField()
    new_end_ms = models.BigIntegerField()
    editor = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"revision of cue {self.cue_id}"
