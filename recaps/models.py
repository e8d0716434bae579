"""A live session's recap (docs/recaps.md): what was covered, the polls with
the class's results, the questions and their answers, announcements, the
moments with the most chat, and key points from the transcript.

The computed sections are stored as a snapshot (`content`), rebuilt by the
`recaps.recap_build` task whenever their sources change; `points` are the key
points, which staff may edit. Learners see a recap only once it is
published."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel

USER = settings.AUTH_USER_MODEL


class RecapStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class Recap(TimestampedModel):
    session = models.OneToOneField(
        "classroom.LiveSession", on_delete=models.CASCADE, related_name="recap"
    )
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    recording = models.ForeignKey(
        "playback.Recording", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=RecapStatus.choices, default=RecapStatus.DRAFT)
    # chapters, polls, questions, announcements, chat_peaks (recaps/services.py)
    content = models.JSONField(default=dict, blank=True)
    # [{"id", "text", "start_ms", "origin": "summary" | "staff"}], in time order
    points = models.JSONField(default=list, blank=True)
    # Staff changed the key points: a rebuild keeps them as they are.
    points_edited = models.BooleanField(default=False)
    transcript_status = models.CharField(max_length=12, blank=True)  # "" = no transcript
    summariser = models.CharField(max_length=200, blank=True)
    note = models.TextField(_("note from staff"), blank=True)
    version = models.PositiveIntegerField(default=0)  # bumped by every build
    built_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="published_recap_has_date",
            )
        ]

    def __str__(self) -> str:
        return f"recap of session {self.session_id} ({self.status})"

    @property
    def is_published(self) -> bool:
        return self.status == RecapStatus.PUBLISHED
