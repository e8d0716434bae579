from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import StoredClientAction, TimestampedModel
from questions.models import BankQuestion, PollKind  # noqa: F401 (BankQuestion: re-exported)

USER = settings.AUTH_USER_MODEL


class SessionState(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class RoomMode(models.TextChoices):
    LECTURE = "lecture", _("Lecture")
    TABLE_TALK = "table_talk", _("Table talk")
    VISITING = "visiting", _("Instructor visiting a table")
    STAGE = "stage", _("Table on stage")
    PODIUM = "podium", _("Podium")


MODES_WITH_TABLE = frozenset({RoomMode.VISITING, RoomMode.STAGE})
PODIUM_SPEAKERS_MAX = 6


class LiveSession(TimestampedModel):
    """One live meeting of a course. scheduled → live → ended; a scheduled
    session may be cancelled; an ended one never restarts.

    `seq` numbers every realtime frame of the session (gap-free); `stream_heads`
    holds the last seq of each audience stream so that clients can tell a lost
    frame from one they were never meant to see (docs/realtime.md). Both are
    written only under the session row lock.
    """

    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="live_sessions"
    )
    title = models.CharField(_("title"), max_length=200)
    scheduled_start = models.DateTimeField(_("scheduled start"))
    scheduled_end = models.DateTimeField(_("scheduled end"))
    state = models.CharField(
        _("state"), max_length=16, choices=SessionState.choices, default=SessionState.SCHEDULED
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    started_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mode = models.CharField(
        _("mode"), max_length=16, choices=RoomMode.choices, default=RoomMode.LECTURE
    )
    mode_table = models.ForeignKey(
        "classroom.Table", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mode_changed_at = models.DateTimeField(_("mode changed at"), null=True, blank=True)
    podium_addresses_all = models.BooleanField(
        _("podium heard by all tables during table talk"), default=False
    )
    anonymous_questions_allowed = models.BooleanField(
        _("anonymous questions allowed"), default=True
    )
    seq = models.BigIntegerField(_("last frame number"), default=0)
    stream_heads = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("live session")
        verbose_name_plural = _("live sessions")
        ordering = ["scheduled_start", "id"]
        indexes = [
            models.Index(fields=["course", "scheduled_start"], name="session_course_start_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_end__gt=models.F("scheduled_start")),
                name="session_end_after_start",
                violation_error_message=_("The session must end after it starts."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_state_display()})"

    @property
    def group_name(self) -> str:
        return f"live.{self.pk}"

    @property
    def is_live(self) -> bool:
        return self.state == SessionState.LIVE


class Table(TimestampedModel):
    """A persistent table of a course: seats carry over from session to session."""

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(_("name"), max_length=60)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=6, validators=[MinValueValidator(2), MaxValueValidator(10)]
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("table")
        verbose_name_plural = _("tables")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="table_course_name_unique"),
            models.CheckConstraint(
                condition=Q(capacity__gte=2) & Q(capacity__lte=10), name="table_capacity_2_10"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Seat(TimestampedModel):
    """Where a learner sits in a course: at most one table per course."""

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="seats")
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="seats")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="seats")

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="seat_course_user_unique")
        ]
        indexes = [models.Index(fields=["table"], name="seat_table_idx")]

    def __str__(self) -> str:
        return f"{self.user} at {self.table}"


class SeatingChange(models.Model):
    """Audit trail of seating: who moved whom, from where to where, how, when."""

    class Method(models.TextChoices):
        AUTO_BALANCED = "auto_balanced", _("Automatic, balanced")
        AUTO_RANDOM = "auto_random", _("Automatic, random")
        AUTO_FILL = "auto_fill", _("Automatic, fill in new learners")
        CSV = "csv", _("CSV seating plan")
        MANUAL = "manual", _("By hand")

    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    from_table = models.ForeignKey(
        Table, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_table = models.ForeignKey(
        Table, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    actor = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    live_session = models.ForeignKey(
        LiveSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_table_id} → {self.to_table_id} ({self.method})"


class Attendance(models.Model):
    """One connection interval of a user in a session (a join and its leave).
    Time present is the union of a user's intervals, so reconnects and several
    tabs count once."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    connection = models.CharField(max_length=200)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the client's pings; a crashed server leaves intervals open,
    # and the sweeper closes them at their last sign of life.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["session", "user"], name="attendance_session_user_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "connection"], name="attendance_connection_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.session_id} from {self.joined_at:%H:%M:%S}"


class Participant(models.Model):
    """Per-session state of one user: away flag, engagement markers, reactions."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    is_away = models.BooleanField(default=False)
    last_chatted_at = models.DateTimeField(null=True, blank=True)
    last_reacted_at = models.DateTimeField(null=True, blank=True)
    last_answered_at = models.DateTimeField(null=True, blank=True)
    last_spoke_at = models.DateTimeField(null=True, blank=True)
    reaction_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], name="participant_session_user_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.session_id}"


class ChatChannel(models.TextChoices):
    CLASS = "class", _("Class")
    TABLE = "table", _("Table")
    STAFF = "staff", _("Staff")


class ChatMessage(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=8, choices=ChatChannel.choices)
    table = models.ForeignKey(
        Table, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["session", "channel", "created_at"], name="chat_session_channel_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(channel="table") & Q(table__isnull=False)) | ~Q(channel="table"),
                name="chat_table_channel_has_table",
            )
        ]

    def __str__(self) -> str:
        return f"[{self.channel}] {self.body[:40]}"


class Question(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    is_anonymous = models.BooleanField(default=False)
    body = models.TextField()
    upvote_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


class QuestionUpvote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="upvotes")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="upvote_once")]

    def __str__(self) -> str:
        return f"{self.user_id} ↑ {self.question_id}"


class HandRaise(models.Model):
    """A raised hand; the queue is the raised, not-yet-lowered hands in order."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="hands")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    lowered_at = models.DateTimeField(null=True, blank=True)
    lowered_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["raised_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"],
                condition=Q(lowered_at__isnull=True),
                name="one_raised_hand",
            )
        ]

    def __str__(self) -> str:
        return f"hand of {self.user_id} in {self.session_id}"


class PodiumSpeaker(models.Model):
    """A learner or TA invited onto the podium (the instructor is always there)."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="podium")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    invited_at = models.DateTimeField(auto_now_add=True)
    invited_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invited_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"],
                condition=Q(removed_at__isnull=True),
                name="one_podium_place",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on the podium of {self.session_id}"


class Timer(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="timers")
    label = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    warning_seconds = models.PositiveIntegerField(default=30)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["ends_at", "id"]

    def __str__(self) -> str:
        return self.label


class Announcement(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="announcements")
    author = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


class HelpFlag(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="help_flags")
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="+")
    raised_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["raised_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "table"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_help_flag",
            )
        ]

    def __str__(self) -> str:
        return f"help for table {self.table_id} in {self.session_id}"


class ClientAction(StoredClientAction):
    """Client frame ids already applied in a live session."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user", "client_id"], name="client_action_once"
            )
        ]


# --- Polls and quizzes ---------------------------------------------------------------


class PollScope(models.TextChoices):
    CLASS = "class", _("Whole class")
    PER_TABLE = "per_table", _("Each learner, broken down by table")
    ONE_PER_TABLE = "one_per_table", _("One shared answer per table")


class PollState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class SessionPlanItem(models.Model):
    """The ordered questions an instructor prepared for a session."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="plan")
    question = models.ForeignKey(BankQuestion, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "question"], name="plan_question_once")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.question_id}"


class Poll(models.Model):
    """A poll launched in a live session: a frozen copy of its question."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="polls")
    source_question = models.ForeignKey(
        BankQuestion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=PollKind.choices)
    prompt = models.CharField(max_length=500)
    definition = models.JSONField(default=dict)
    points = models.PositiveSmallIntegerField(default=1)
    is_quiz = models.BooleanField(default=False)
    is_anonymous = models.BooleanField(default=False)
    scope = models.CharField(max_length=16, choices=PollScope.choices, default=PollScope.CLASS)
    allow_change = models.BooleanField(default=True)
    show_live_results = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=PollState.choices, default=PollState.OPEN)
    opened_at = models.DateTimeField()
    closes_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["opened_at", "id"]
        indexes = [models.Index(fields=["session", "state"], name="poll_session_state_idx")]

    def __str__(self) -> str:
        return self.prompt[:60]

    @property
    def is_open(self) -> bool:
        return self.state == PollState.OPEN


class PollResponse(models.Model):
    """One answer per voter per poll (a learner, or a table for shared answers).

    Named polls: `voter_key` is an HMAC of the poll and the learner (or
    "table:<id>"), so a changed answer finds its row. Anonymous polls
    (docs/polls.md): `voter_key` is random, `user` and every time are empty,
    and the id is drawn at random (classroom/services/polls.py), so nothing
    leads back to the learner; `PollBallot` keeps one vote per learner."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="responses")
    voter_key = models.CharField(max_length=64)
    user = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    table = models.ForeignKey(
        Table, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answer = models.JSONField()
    first_answer = models.JSONField()
    change_count = models.PositiveIntegerField(default=0)
    first_answered_at = models.DateTimeField(null=True, blank=True)  # empty when anonymous
    answered_at = models.DateTimeField(null=True, blank=True)  # empty when anonymous
    time_to_first_ms = models.PositiveIntegerField(null=True, blank=True, default=0)
    is_correct = models.BooleanField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "voter_key"], name="one_response_per_voter")
        ]
        indexes = [models.Index(fields=["poll", "table"], name="response_poll_table_idx")]

    def __str__(self) -> str:
        return f"{self.poll_id}:{self.voter_key[:8]}"


class PollBallot(models.Model):
    """That a learner has answered an anonymous poll, and nothing else: no
    answer, no time, a random id. The unique constraint is the one-vote rule
    of anonymous polls; the answer lives in a `PollResponse` with no link back
    (docs/polls.md)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="ballots")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "user"], name="one_ballot_per_learner")
        ]

    def __str__(self) -> str:
        return f"{self.poll_id}:ballot"
