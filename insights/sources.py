"""What the rollups read from the apps below the event log: sessions,
learners, polls' anonymity, recordings and heartbeat-checked watch progress,
and reinforcement's review cards (due, overdue, predicted recall).
The only module of `insights` that touches their models; everything else
reads through here or through the log's selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from analytics.models import LearningEvent
from classroom.models import LiveSession, Poll, SessionState
from courses.models import Enrollment, Role
from playback.models import Recording, WatchProgress
from playback.services.recordings import recording_bounds, recording_settings_get
from reinforcement.selectors import review_due_changes, review_state_by_learner


@dataclass(frozen=True)
class SessionInfo:
    id: int
    course_id: int
    title: str
    state: str
    scheduled_start: datetime
    scheduled_ms: int
    start: datetime | None  # when it went live; None: not held (yet)
    end: datetime | None  # ended_at, or the last live event of a running session

    @property
    def is_held(self) -> bool:
        return self.start is not None

    @property
    def is_final(self) -> bool:
        return self.state == SessionState.ENDED


def sessions_info(*, course_id: int | None = None, session_ids=None) -> dict[int, SessionInfo]:
    sessions = LiveSession.objects.exclude(state=SessionState.CANCELLED)
    if course_id is not None:
        sessions = sessions.filter(course_id=course_id)
    if session_ids is not None:
        sessions = sessions.filter(pk__in=list(session_ids))
    rows = list(
        sessions.values(
            "id",
            "course_id",
            "title",
            "state",
            "scheduled_start",
            "scheduled_end",
            "started_at",
            "ended_at",
        )
    )
    running = [row["id"] for row in rows if row["started_at"] and not row["ended_at"]]
    last_live = {}
    if running:
        last_live = dict(
            LearningEvent.objects.filter(live_session_id__in=running, mode="live")
            .values("live_session_id")
            .annotate(last=Max("occurred_at"))
            .values_list("live_session_id", "last")
        )
    found = {}
    for row in rows:
        start = row["started_at"]
        end = row["ended_at"]
        if start is not None and end is None:
            end = max(start, last_live.get(row["id"]) or start)
        found[row["id"]] = SessionInfo(
            id=row["id"],
            course_id=row["course_id"],
            title=row["title"],
            state=row["state"],
            scheduled_start=row["scheduled_start"],
            scheduled_ms=max(
                0, int((row["scheduled_end"] - row["scheduled_start"]).total_seconds() * 1000)
            ),
            start=start,
            end=end,
        )
    return found


def learner_ids(course_id: int) -> list[int]:
    """The course's active learners (staff and observers get no rollups)."""
    return sorted(
        Enrollment.objects.filter(
            course_id=course_id, role=Role.LEARNER, is_active=True
        ).values_list("user_id", flat=True)
    )


def learner_courses(user_ids) -> set[tuple[int, int]]:
    return set(
        Enrollment.objects.filter(
            user_id__in=list(user_ids), role=Role.LEARNER, is_active=True
        ).values_list("course_id", "user_id")
    )


def anonymous_poll_ids(session_ids) -> set[str]:
    """Anonymous polls: never counted per person (docs/analytics.md)."""
    return {
        str(pk)
        for pk in Poll.objects.filter(
            session_id__in=list(session_ids), is_anonymous=True
        ).values_list("pk", flat=True)
    }


@dataclass(frozen=True)
class RecordingInfo:
    id: int
    course_id: int
    live_session_id: int | None
    start_ms: int
    end_ms: int
    threshold: float

    @property
    def length_ms(self) -> int:
        return max(1, self.end_ms - self.start_ms)


def recordings_info(
    *, course_id: int | None = None, recording_ids=None
) -> dict[int, RecordingInfo]:
    recordings = Recording.objects.all()
    if course_id is not None:
        recordings = recordings.filter(course_id=course_id)
    if recording_ids is not None:
        recordings = recordings.filter(pk__in=list(recording_ids))
    found = {}
    for recording in recordings.only(
        "id",
        "course_id",
        "live_session_id",
        "duration_ms",
        "trim_start_ms",
        "trim_end_ms",
        "settings",
    ):
        start, end = recording_bounds(recording)
        found[recording.pk] = RecordingInfo(
            id=recording.pk,
            course_id=recording.course_id,
            live_session_id=recording.live_session_id,
            start_ms=start,
            end_ms=end,
            threshold=float(recording_settings_get(recording)["completion_threshold"]),
        )
    return found


def watch_segments(recording_id: int, user_ids=None) -> dict[int, list]:
    """Each learner's heartbeat-checked played segments of a recording."""
    rows = WatchProgress.objects.filter(recording_id=recording_id)
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    return dict(rows.values_list("user_id", "segments"))


def watch_progress_changed(since: datetime) -> list[tuple[int, int]]:
    """(recording id, user id) of the progress rows written since `since`:
    heartbeats change time watched without writing an event."""
    return list(
        WatchProgress.objects.filter(updated_at__gte=since).values_list("recording_id", "user_id")
    )


def watch_progress_users(recording_id: int) -> set[int]:
    return set(
        WatchProgress.objects.filter(recording_id=recording_id).values_list("user_id", flat=True)
    )


def review_state(course_id: int, user_ids, now: datetime) -> dict[int, dict]:
    """Per learner: cards, due, overdue and mean predicted recall now."""
    return review_state_by_learner(course_id=course_id, user_ids=user_ids, now=now)


def review_due_changed(since: datetime, until: datetime) -> set[tuple[int, int]]:
    """(course, learner) pairs whose due or overdue counts changed with time."""
    return review_due_changes(since=since, until=until)
