"""Per-learner completion of a recording, for the LMS gradebook (lti/ags.py).

completion = watched media time / the recording's duration, capped at 1; a
recording the player marked completed counts 1. Watched time is the union of
watched segments (WatchProgress.watched_ms, checked against wall-clock time by
the player's heartbeats), so skipping ahead does not count. One query."""

from __future__ import annotations

from playback.models import Recording, RecordingStatus, WatchProgress


def recording_scores_ready(*, recording: Recording) -> bool:
    return recording.status == RecordingStatus.READY and bool(recording.duration_ms)


def recording_completion_scores(*, recording: Recording) -> dict[int, float]:
    """user id → completion in [0, 1] for everyone who watched something."""
    if not recording_scores_ready(recording=recording):
        return {}
    duration = recording.duration_ms
    scores = {}
    rows = WatchProgress.objects.filter(recording=recording).values_list(
        "user_id", "watched_ms", "completed_at"
    )
    for user_id, watched, completed in rows:
        scores[user_id] = 1.0 if completed else min(1.0, round(watched / duration, 4))
    return scores


def recording_list_for_gradebook(*, course) -> list[Recording]:
    """The course's ready recordings, oldest first (one query)."""
    return list(
        Recording.objects.filter(course=course, status=RecordingStatus.READY).order_by(
            "created_at", "id"
        )
    )
