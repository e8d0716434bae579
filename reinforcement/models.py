"""Reinforcement between sessions (docs/reinforcement.md): each course's
settings, the follow-up plan of each ended session and its items per learner,
spaced-repetition review cards (FSRS) and every answer given to them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel

USER = settings.AUTH_USER_MODEL

RETENTION_MIN, RETENTION_MAX = 0.80, 0.95
HOLD_MINUTES_MAX = 7 * 24 * 60
WARMUP_SIZE_MAX = 50
TALK_SECONDS_MAX = 3600


class ReinforcementSettings(models.Model):
    """One course's reinforcement settings; a course without a row uses the
    defaults (`reinforcement.selectors.course_settings_get`)."""

    course = models.OneToOneField(
        "courses.Course", on_delete=models.CASCADE, related_name="reinforcement_settings"
    )
    is_enabled = models.BooleanField(_("reinforcement on"), default=True)
    hold_minutes = models.PositiveIntegerField(
        _("hold window (minutes)"), default=60, validators=[MaxValueValidator(HOLD_MINUTES_MAX)]
    )
    desired_retention = models.FloatField(
        _("desired retention"),
        default=0.90,
        validators=[MinValueValidator(RETENTION_MIN), MaxValueValidator(RETENTION_MAX)],
    )
    participation_talk_seconds = models.PositiveIntegerField(
        _("silent below this much talk time (seconds)"),
        default=10,
        validators=[MaxValueValidator(TALK_SECONDS_MAX)],
    )
    warmup_size = models.PositiveSmallIntegerField(
        _("warm-up quiz size"), default=5, validators=[MaxValueValidator(WARMUP_SIZE_MAX)]
    )
    deadline_enabled = models.BooleanField(_("review due before the next session"), default=False)
    course_ends_on = models.DateField(_("course ends on"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = _("reinforcement settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(desired_retention__gte=RETENTION_MIN)
                & Q(desired_retention__lte=RETENTION_MAX),
                name="reinforcement_retention_range",
            ),
            models.CheckConstraint(
                condition=Q(hold_minutes__lte=HOLD_MINUTES_MAX), name="reinforcement_hold_range"
            ),
            models.CheckConstraint(
                condition=Q(warmup_size__lte=WARMUP_SIZE_MAX), name="reinforcement_warmup_range"
            ),
        ]

    def __str__(self) -> str:
        return f"reinforcement of course {self.course_id}"


class PlanStatus(models.TextChoices):
    HELD = "held", _("Held for staff review")
    SENT = "sent", _("Sent")


class FollowUpPlan(TimestampedModel):
    """The follow-up of one ended live session: planned by the post-session
    job, visible to staff during the hold window, then sent (cards released,
    notifications created). One per session; re-planning adds what is
    missing and changes nothing else."""

    session = models.OneToOneField(
        "classroom.LiveSession", on_delete=models.CASCADE, related_name="followup_plan"
    )
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=PlanStatus.choices, default=PlanStatus.HELD)
    # When the plan goes out by itself; empty while staff hold it.
    hold_until = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    dropped_keys = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)  # what triggered planning
    recording_id = models.BigIntegerField(null=True, blank=True)  # whose timeline was used
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    edited_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["status", "hold_until"], name="plan_release_idx")]

    def __str__(self) -> str:
        return f"follow-up of session {self.session_id} ({self.status})"


class ItemKind(models.TextChoices):
    REVIEW = "review", _("Review card")
    REWATCH = "rewatch", _("Rewatch the moment")
    MISSED = "missed", _("Missed segment")
    NUDGE = "nudge", _("Participation nudge")
    WARMUP = "warmup", _("Warm-up quiz")
    DEADLINE = "deadline", _("Review deadline")


class FollowUpItem(models.Model):
    """One thing a learner is asked to do after a session, in plain words."""

    plan = models.ForeignKey(FollowUpPlan, on_delete=models.CASCADE, related_name="items")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    key = models.CharField(max_length=64)
    question_key = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    explanation = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan_id", "user_id", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "user", "kind", "key"], name="followup_item_once"
            )
        ]
        indexes = [models.Index(fields=["user", "course"], name="followup_user_course_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} for {self.user_id}"


class ReviewCard(models.Model):
    """One learner's spaced-repetition card for one question: the FSRS card
    state (fsrs.Card's fields) and when it is due. The same bank question met
    in several sessions is one card (`question_key` "bank:<id>"; a poll not
    from the bank is "poll:<id>"); `poll` is where it was last asked."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    question_key = models.CharField(max_length=40)
    poll = models.ForeignKey("classroom.Poll", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(
        FollowUpPlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="cards"
    )
    state = models.PositiveSmallIntegerField(
        default=1
    )  # fsrs.State: 1 learning, 2 review, 3 relearning
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due = models.DateTimeField()
    last_review = models.DateTimeField(null=True, blank=True)
    reps = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "question_key"], name="review_card_once")
        ]
        indexes = [
            models.Index(fields=["user", "due"], name="card_user_due_idx"),
            models.Index(fields=["course", "due"], name="card_course_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.question_key} of {self.user_id}"


class ReviewSource(models.TextChoices):
    LIVE = "live", _("Answered in the live session")
    SCHEDULED = "scheduled", _("Scheduled review")
    PRACTICE = "practice", _("On-demand practice (not scheduled)")


class ReviewAnswer(models.Model):
    """Every answer that counts toward a card (the live answer, each scheduled
    review) and every practice answer: the review log, with the fsrs
    ReviewLog and the card's due date before and after."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(
        ReviewCard, on_delete=models.CASCADE, null=True, blank=True, related_name="answers"
    )
    poll = models.ForeignKey("classroom.Poll", on_delete=models.CASCADE, related_name="+")
    question_key = models.CharField(max_length=40)
    source = models.CharField(max_length=10, choices=ReviewSource.choices)
    request_id = models.CharField(max_length=64, blank=True)
    answer = models.JSONField(null=True, blank=True)
    is_correct = models.BooleanField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # fsrs.Rating
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField()
    due_before = models.DateTimeField(null=True, blank=True)
    due_after = models.DateTimeField(null=True, blank=True)
    fsrs_log = models.JSONField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)  # what the learner was shown

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "request_id"],
                condition=~Q(request_id=""),
                name="review_request_once",
            ),
            models.UniqueConstraint(
                fields=["card", "poll"],
                condition=Q(source="live"),
                name="review_live_answer_once",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "answered_at"], name="review_user_time_idx"),
            models.Index(fields=["course", "answered_at"], name="review_course_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.question_key} by {self.user_id}"
