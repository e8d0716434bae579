from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import StoredClientAction, TimestampedModel

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
    timeline_built_at = models.DateTimeField(null=True, blank=True)
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


# --- Timeline ------------------------------------------------------------------------


class TimelineKind(models.TextChoices):
    POLL_OPENED = "poll_opened", _("Poll opened")
    POLL_CLOSED = "poll_closed", _("Poll closed")
    CHAT = "chat", _("Chat message")
    QUESTION = "question", _("Question")
    REACTIONS = "reactions", _("Reactions")
    MODE_CHANGED = "mode_changed", _("Mode change")
    PODIUM_CHANGED = "podium_changed", _("Podium change")
    ANNOUNCEMENT = "announcement", _("Announcement")
    RECORDING_PAUSED = "recording_paused", _("Recording paused")


class TimelineAudience(models.TextChoices):
    ALL = "all", _("Everyone in the course")
    TABLE = "table", _("One table and staff")
    STAFF = "staff", _("Staff only")


class TimelineEntry(models.Model):
    """One moment of a recording, built from the live session's stored rows.

    `key` names the source row (`chat:<id>`, `poll_opened:<id>`, `reactions:<bucket>`…)
    so a rebuild replaces entries instead of adding copies, and staff-given
    chapter names (Recording.settings["chapters"]) survive rebuilds."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="timeline")
    key = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    offset_ms = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    audience = models.CharField(
        max_length=8, choices=TimelineAudience.choices, default=TimelineAudience.ALL
    )
    table = models.ForeignKey(
        "classroom.Table", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_chapter = models.BooleanField(default=False)
    title = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "timeline entries"
        ordering = ["offset_ms", "id"]
        indexes = [models.Index(fields=["recording", "offset_ms"], name="timeline_rec_offset_idx")]
        constraints = [
            models.UniqueConstraint(fields=["recording", "key"], name="timeline_entry_key_unique"),
            models.CheckConstraint(
                condition=Q(offset_ms__gte=0), name="timeline_offset_nonnegative"
            ),
            models.CheckConstraint(
                condition=~Q(audience="table") | Q(table__isnull=False),
                name="timeline_table_audience_has_table",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recording_id}@{self.offset_ms} {self.kind}"


# --- Playback rooms --------------------------------------------------------------------


class RoomKind(models.TextChoices):
    SOLO = "solo", _("Alone")
    TABLE = "table", _("With my table")
    ADHOC = "adhoc", _("Invited group")


class RoomControl(models.TextChoices):
    ANYONE = "anyone", _("Anyone in the room")
    HOST = "host", _("The host only")


class RoomState(models.TextChoices):
    PLAYING = "playing", _("Playing")
    PAUSED = "paused", _("Paused")
    WAITING = "waiting", _("Waiting")


class WaitReason(models.TextChoices):
    SEEK = "seek", _("Members are loading the new position")
    POLL = "poll", _("Members are answering a poll")


class PlaybackRoom(TimestampedModel):
    """Watching one recording: alone, with a table, or with invited people.

    The server owns the play state: at server time `reference_ms` (epoch ms)
    the media is at `position_ms` and, when playing, advances at `rate`.
    `until_ms` is where a playing room stops by itself (a poll that pauses).
    `seq`/`stream_heads` number the room's frames exactly as a live session's
    (docs/realtime.md); both change only under the room row lock."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="rooms")
    kind = models.CharField(max_length=8, choices=RoomKind.choices)
    table = models.ForeignKey(
        "classroom.Table", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    host = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    control = models.CharField(
        max_length=8, choices=RoomControl.choices, default=RoomControl.ANYONE
    )
    state = models.CharField(max_length=8, choices=RoomState.choices, default=RoomState.PAUSED)
    position_ms = models.BigIntegerField(default=0)
    rate = models.FloatField(default=1.0)
    reference_ms = models.BigIntegerField(default=0)
    until_ms = models.BigIntegerField(null=True, blank=True)
    resume_playing = models.BooleanField(default=False)
    waiting_reason = models.CharField(max_length=8, choices=WaitReason.choices, blank=True)
    waiting_poll = models.ForeignKey(
        "classroom.Poll", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waiting_deadline_ms = models.BigIntegerField(null=True, blank=True)
    waiting_ready = models.JSONField(default=list, blank=True)
    state_seq = models.BigIntegerField(default=0)
    seq = models.BigIntegerField(default=0)
    stream_heads = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recording", "table"],
                condition=Q(kind="table"),
                name="one_table_room_per_recording",
            ),
            models.UniqueConstraint(
                fields=["recording", "host"],
                condition=Q(kind="solo"),
                name="one_solo_room_per_user",
            ),
            models.CheckConstraint(
                condition=(Q(kind="table") & Q(table__isnull=False))
                | (~Q(kind="table") & Q(table__isnull=True)),
                name="table_room_has_table",
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0.25) & Q(rate__lte=2.0), name="room_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(position_ms__gte=0), name="room_position_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} room {self.pk} of {self.recording_id}"

    @property
    def group_name(self) -> str:
        return f"playback.{self.pk}"


class PlaybackRoomMember(models.Model):
    """Who belongs to an ad-hoc room (the host and the people invited)."""

    room = models.ForeignKey(PlaybackRoom, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    invited_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="room_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in room {self.room_id}"


class PlaybackConnection(models.Model):
    """An open WebSocket of a user in a room: who is present now. `seen_at`
    moves with the client's pings, so a row left behind by a dead process
    stops counting after a while."""

    room = models.ForeignKey(PlaybackRoom, on_delete=models.CASCADE, related_name="connections")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=200)
    connected_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "channel"], name="room_connection_unique")
        ]
        indexes = [models.Index(fields=["room", "seen_at"], name="room_connection_seen_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in room {self.room_id}"


class PlaybackClientAction(StoredClientAction):
    """Client frame ids already applied in a playback room."""

    room = models.ForeignKey(PlaybackRoom, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "user", "client_id"], name="playback_client_action_once"
            )
        ]


class RoomMessage(models.Model):
    """A comment written while watching, attached to the media time it was written at."""

    room = models.ForeignKey(PlaybackRoom, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    media_ms = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["room", "created_at"], name="room_message_time_idx")]

    def __str__(self) -> str:
        return self.body[:40]


# --- Notes, answers, progress -------------------------------------------------------------


class NoteVisibility(models.TextChoices):
    PRIVATE = "private", _("Only me")
    TABLE = "table", _("My table")
    COURSE = "course", _("Everyone in the course")


class Note(TimestampedModel):
    """A time-synced note on a recording. Table notes are shared with the
    author's table at the time of writing (`table`)."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    room = models.ForeignKey(
        PlaybackRoom, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    visibility = models.CharField(
        max_length=8, choices=NoteVisibility.choices, default=NoteVisibility.PRIVATE
    )
    table = models.ForeignKey(
        "classroom.Table", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    media_ms = models.BigIntegerField()
    body = models.TextField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["media_ms", "id"]
        indexes = [
            models.Index(fields=["recording", "visibility"], name="note_rec_visibility_idx"),
            models.Index(fields=["recording", "author"], name="note_rec_author_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(media_ms__gte=0), name="note_media_nonnegative"),
            models.CheckConstraint(
                condition=~Q(visibility="table") | Q(table__isnull=False),
                name="table_note_has_table",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:40]


class PlaybackAnswer(models.Model):
    """A learner's answer to one of the live session's polls, given while
    watching the recording. One per poll and learner; graded on the server."""

    poll = models.ForeignKey("classroom.Poll", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="answers")
    room = models.ForeignKey(
        PlaybackRoom, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answer = models.JSONField()
    is_correct = models.BooleanField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    media_ms = models.BigIntegerField(default=0)
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "user"], name="playback_answer_once")
        ]
        indexes = [models.Index(fields=["recording", "user"], name="answer_rec_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} → poll {self.poll_id}"


class WatchProgress(models.Model):
    """What one user watched of a recording: merged media segments [start, end)
    in ms, checked against wall-clock time between heartbeats."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="progress")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    segments = models.JSONField(default=list, blank=True)
    watched_ms = models.BigIntegerField(default=0)
    position_ms = models.BigIntegerField(default=0)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "watch progress"
        constraints = [
            models.UniqueConstraint(fields=["recording", "user"], name="progress_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watched {self.watched_ms} ms of {self.recording_id}"
