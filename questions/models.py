"""The course question bank: questions written once, launched as live polls
(classroom) and graded anywhere (questions.grading)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel

USER = settings.AUTH_USER_MODEL


class PollKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple answers")
    TRUE_FALSE = "true_false", _("True / false")
    YES_NO_ABSTAIN = "yes_no_abstain", _("Yes / no / abstain")
    RATING = "rating", _("Rating scale")
    SHORT_TEXT = "short_text", _("Short typed answer")
    NUMERIC = "numeric", _("Numeric answer")


class BankQuestion(TimestampedModel):
    """A reusable question of the course's question bank. `definition` holds the
    kind-specific fields (options, correct answers, scale, tolerance), validated
    by questions.grading.definition_clean.

    The table keeps its name from when the bank lived in classroom (moved
    without copying a row: questions/migrations/0001_initial.py)."""

    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="bank_questions"
    )
    kind = models.CharField(max_length=16, choices=PollKind.choices)
    prompt = models.CharField(max_length=500)
    definition = models.JSONField(default=dict)
    points = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        db_table = "classroom_bankquestion"
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.prompt[:60]
