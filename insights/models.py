"""Rollups of the learning-event log, one row per (learner, live session),
(learner, recording) and (learner, course), and the bookmarks of the jobs that
keep them and the LRS feed up to date.

Every number here is defined in docs/analytics.md. Rows are derived data: the
log is the truth, `insights_rebuild` recomputes any course's rows from it, and
the incremental job recomputes the rows of the keys new events touched with
the same functions (insights/rollups.py), so both give the same numbers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class SessionStatus(models.TextChoices):
    PRESENT = "present", _("Present")
    WATCHED_LATER = "watched_later", _("Watched later")
    ABSENT = "absent", _("Absent, not caught up")
    UPCOMING = "upcoming", _("Not held yet")


class SessionRollup(models.Model):
    """One learner in one live session: live and playback acts together,
    counted by mode (docs/analytics.md#per-session)."""

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    live_session_id = models.BigIntegerField(_("live session id"))
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    table_id = models.BigIntegerField(null=True, blank=True)
    session_start = models.DateTimeField(null=True, blank=True)
    # Attendance (live).
    scheduled_ms = models.BigIntegerField(default=0)
    present_ms = models.BigIntegerField(default=0)
    attendance_percent = models.FloatField(default=0.0)
    first_joined_at = models.DateTimeField(null=True, blank=True)
    last_left_at = models.DateTimeField(null=True, blank=True)
    intervals = models.JSONField(default=list, blank=True)  # [[start_ms, end_ms]] from start
    # Participation (live).
    messages = models.IntegerField(default=0)
    questions = models.IntegerField(default=0)
    upvotes = models.IntegerField(default=0)
    reactions = models.IntegerField(default=0)
    hands = models.IntegerField(default=0)
    talk_ms = models.BigIntegerField(default=0)
    talk_turns = models.IntegerField(default=0)
    polls_open = models.IntegerField(default=0)  # named (non-anonymous) polls of the session
    polls_answered = models.IntegerField(default=0)
    polls_graded = models.IntegerField(default=0)
    polls_correct = models.IntegerField(default=0)
    windows_total = models.IntegerField(default=0)
    windows_active = models.IntegerField(default=0)
    is_active = models.BooleanField(default=False)
    playback_windows_active = models.IntegerField(default=0)
    # The same session met again in playback (mode=playback events).
    playback_acts = models.IntegerField(default=0)
    playback_polls_answered = models.IntegerField(default=0)
    playback_polls_graded = models.IntegerField(default=0)
    playback_polls_correct = models.IntegerField(default=0)
    watched_ms = models.BigIntegerField(default=0)
    watch_percent = models.FloatField(default=0.0)
    playback_completed = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.UPCOMING
    )
    engagement_mode = models.CharField(max_length=16, blank=True)  # live|playback|both|""
    engagement_score = models.FloatField(default=0.0)
    last_event_id = models.BigIntegerField(default=0)
    is_final = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["live_session_id", "user"], name="session_rollup_once_per_user"
            )
        ]
        indexes = [
            models.Index(fields=["course", "user"], name="session_rollup_course_user"),
            models.Index(fields=["course", "session_start"], name="session_rollup_course_start"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in session {self.live_session_id}"


class RecordingRollup(models.Model):
    """One learner and one recording (docs/analytics.md#per-recording)."""

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    recording_id = models.BigIntegerField()
    live_session_id = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    length_ms = models.BigIntegerField(default=0)
    watched_ms = models.BigIntegerField(default=0)
    watch_percent = models.FloatField(default=0.0)
    completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    played = models.IntegerField(default=0)
    paused = models.IntegerField(default=0)
    seeked = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    notes = models.IntegerField(default=0)
    reactions = models.IntegerField(default=0)
    polls_answered = models.IntegerField(default=0)
    polls_graded = models.IntegerField(default=0)
    polls_correct = models.IntegerField(default=0)
    first_activity_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recording_id", "user"], name="recording_rollup_once_per_user"
            )
        ]
        indexes = [models.Index(fields=["course", "user"], name="recording_rollup_course_user")]

    def __str__(self) -> str:
        return f"{self.user_id} on recording {self.recording_id}"


class CourseRollup(models.Model):
    """One learner across a course (docs/analytics.md#per-course)."""

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    sessions_held = models.IntegerField(default=0)
    sessions_present = models.IntegerField(default=0)
    sessions_watched_later = models.IntegerField(default=0)
    sessions_absent = models.IntegerField(default=0)
    attendance_percent = models.FloatField(default=0.0)
    active_percent = models.FloatField(default=0.0)
    talk_ms = models.BigIntegerField(default=0)
    messages = models.IntegerField(default=0)
    reactions = models.IntegerField(default=0)
    hands = models.IntegerField(default=0)
    questions = models.IntegerField(default=0)
    polls_open = models.IntegerField(default=0)
    polls_answered = models.IntegerField(default=0)
    polls_graded = models.IntegerField(default=0)
    polls_correct = models.IntegerField(default=0)
    recordings_started = models.IntegerField(default=0)
    recordings_completed = models.IntegerField(default=0)
    watched_ms = models.BigIntegerField(default=0)
    reviews_done = models.IntegerField(default=0)
    reviews_correct = models.IntegerField(default=0)
    review_recall_mean = models.FloatField(null=True, blank=True)
    cards_due = models.IntegerField(null=True, blank=True)
    cards_overdue = models.IntegerField(null=True, blank=True)
    engagement_score = models.FloatField(default=0.0)
    risk_reasons = models.JSONField(default=list, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="course_rollup_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in course {self.course_id}"


class Bookmark(models.Model):
    """How far a job has read the event log (`LearningEvent.id`), and what an
    admin needs to know about it (the LRS feed's status)."""

    name = models.CharField(max_length=32, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.IntegerField(default=0)
    # Ids below `last_event_id` not seen yet (a transaction still open when
    # the job read past it): {"id": first-missed ISO time}, re-read until found or stale.
    gaps = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"
