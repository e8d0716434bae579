"""Watch progress from client heartbeats, checked on the server.

A heartbeat claims "I played media [from_ms, to_ms)". The server accepts at
most what the wall-clock time since the user's previous heartbeat allows at
the fastest speed (MAX_RATE): a claim beyond that is clipped, never taken on
trust. The first heartbeat after a silence only starts the clock. Watched
time is the union of accepted segments inside the trimmed recording;
completion is reached at the recording's threshold (default 90 %)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import EventMode
from analytics.services import event_record
from core.errors import ValidationError
from playback import events
from playback.models import PlaybackRoom, Recording, WatchProgress
from playback.services.recordings import recording_bounds, recording_settings_get

MAX_RATE = 2.0
HEARTBEAT_GAP_MAX_SECONDS = 120  # a longer silence: this beat only restarts the clock
CONTIGUOUS_TOLERANCE_MS = 1500


def segments_merge(segments: list[list[int]], new: tuple[int, int]) -> list[list[int]]:
    """Union of [start, end) segments (touching ones join), sorted."""
    items = sorted(
        [list(s) for s in segments if s[1] > s[0]] + ([list(new)] if new[1] > new[0] else [])
    )
    merged: list[list[int]] = []
    for start, end in items:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def segments_length(segments: list[list[int]], start: int, end: int) -> int:
    return sum(max(0, min(e, end) - max(s, start)) for s, e in segments)


def contiguous_end(segments: list[list[int]], start: int) -> int:
    """How far playback got from `start` without gaps (small gaps tolerated)."""
    reached = start
    for segment_start, segment_end in sorted(segments):
        if segment_start <= reached + CONTIGUOUS_TOLERANCE_MS:
            reached = max(reached, segment_end)
    return reached


def xapi_played_segments(segments: list[list[int]]) -> str:
    """The xAPI video profile's `played-segments` form: `0.000[.]12.000[,]…`."""
    return "[,]".join(f"{s / 1000:.3f}[.]{e / 1000:.3f}" for s, e in segments)


def progress_payload(progress: WatchProgress | None, recording: Recording) -> dict[str, Any]:
    start, end = recording_bounds(recording)
    length = max(1, end - start)
    segments = progress.segments if progress else []
    watched = segments_length(segments, start, end)
    return {
        "segments": segments,
        "watched_ms": watched,
        "percent": round(100 * watched / length, 1),
        "position_ms": progress.position_ms if progress else start,
        "completed": bool(progress and progress.completed_at),
        "completed_at": progress.completed_at if progress else None,
        "frontier_ms": contiguous_end(segments, start),
        "threshold": recording_settings_get(recording)["completion_threshold"],
    }


def _int(data_value: Any, field: str) -> int:
    if isinstance(data_value, bool) or not isinstance(data_value, int | float):
        raise ValidationError(
            _("%(field)s must be a number of milliseconds.") % {"field": field},
            code="invalid",
            details={field: "integer"},
        )
    if not -(2**63) <= data_value < 2**63:  # also a float's inf
        raise ValidationError(
            _("%(field)s is out of range.") % {"field": field},
            code="invalid",
            details={field: "out_of_range"},
        )
    return int(data_value)


def progress_heartbeat(
    *, recording: Recording, user, from_ms: Any, to_ms: Any, room: PlaybackRoom | None = None
) -> dict[str, Any]:
    """Record a played segment. Returns the progress payload plus `accepted_ms`
    and `clipped` (the claim was longer than the time that passed)."""
    start_ms, end_ms = _int(from_ms, "from_ms"), _int(to_ms, "to_ms")
    if start_ms < 0 or end_ms < start_ms:
        raise ValidationError(
            _("A segment runs forward from a non-negative time."), code="invalid_segment"
        )
    start, end = recording_bounds(recording)
    start_ms, end_ms = max(start, min(start_ms, end)), max(start, min(end_ms, end))
    with transaction.atomic():
        progress = (
            WatchProgress.objects.select_for_update().filter(recording=recording, user=user).first()
        )
        if progress is None:
            try:
                with transaction.atomic():
                    progress = WatchProgress.objects.create(
                        recording=recording, user=user, position_ms=start
                    )
            except IntegrityError:
                pass
            progress = WatchProgress.objects.select_for_update().get(recording=recording, user=user)
        now = timezone.now()
        elapsed_ms = 0
        if progress.last_heartbeat_at is not None:
            gap = (now - progress.last_heartbeat_at).total_seconds()
            if 0 <= gap <= HEARTBEAT_GAP_MAX_SECONDS:
                elapsed_ms = int(gap * 1000)
        allowed = int(elapsed_ms * MAX_RATE)
        accepted_end = min(end_ms, start_ms + allowed)
        clipped = accepted_end < end_ms
        progress.segments = segments_merge(progress.segments or [], (start_ms, accepted_end))
        progress.watched_ms = segments_length(progress.segments, start, end)
        progress.position_ms = accepted_end if clipped else end_ms
        progress.last_heartbeat_at = now
        fields = ["segments", "watched_ms", "position_ms", "last_heartbeat_at", "updated_at"]
        threshold = recording_settings_get(recording)["completion_threshold"]
        completed_now = progress.completed_at is None and progress.watched_ms >= threshold * max(
            1, end - start
        )
        if completed_now:
            progress.completed_at = now
            fields.append("completed_at")
        progress.save(update_fields=fields)
        payload = progress_payload(progress, recording)
        if completed_now:
            extensions = {"played_segments": xapi_played_segments(progress.segments)}
            if room is not None:
                extensions.update({"room_id": room.pk, "room_kind": room.kind})
            event_record(
                actor=user,
                verb="completed",
                object_type="recording",
                object_id=recording.pk,
                course_id=recording.course_id,
                live_session_id=recording.live_session_id,
                recording_id=recording.pk,
                mode=EventMode.PLAYBACK,
                media_time_ms=progress.position_ms,
                duration_ms=progress.watched_ms,
                success=True,
                extensions=extensions,
            )
            if room is not None:
                locked = PlaybackRoom.objects.select_for_update().get(pk=room.pk)
                events.progress_completed(locked, user.pk, payload)
    return {**payload, "accepted_ms": accepted_end - start_ms, "clipped": clipped}
