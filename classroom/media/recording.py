"""Recording the stage: start, pause, resume, stop (staff).

Janus records, per publisher, the people heard by all (`policy.heard_by_all`)
while a span is open; each media connection switches its own publisher's
recording on `media_mode_applied`. Stopping queues `playback.tasks.
recording_ingest`, which turns the .mjr files into one WebM and the
`playback.Recording` row into `ready` (or `failed` with the reason).

This is the one place classroom code touches playback models (imported inside
the functions): recordings are playback's, but they are started from the live
room. Media time zero is the first span's start; pauses cut the timeline.
"""

from __future__ import annotations

import threading

from django.db import transaction
from django.utils import timezone

from analytics.services import event_record
from classroom.media import services
from classroom.services.common import require_live, session_lock
from core import realtime
from core.errors import ConflictError

CAPTURE_KEY = "capture"  # Recording.settings[CAPTURE_KEY]: recording | paused | stopped


def _active(session_id: int):
    from playback.models import Recording

    return (
        Recording.objects.select_for_update()
        .filter(
            live_session_id=session_id, **{f"settings__{CAPTURE_KEY}__in": ["recording", "paused"]}
        )
        .order_by("-id")
        .first()
    )


def recording_capture_get(session_id: int) -> tuple[int, int] | None:
    """(recording id, open span id) while recording, else None."""
    from playback.models import RecordingSpan

    span = (
        RecordingSpan.objects.filter(
            recording__live_session_id=session_id,
            ended_at__isnull=True,
            **{f"recording__settings__{CAPTURE_KEY}": "recording"},
        )
        .order_by("-id")
        .values_list("recording_id", "id")
        .first()
    )
    return tuple(span) if span else None


def recording_state_get(session_id: int) -> dict:
    from playback.models import Recording

    recording = (
        Recording.objects.filter(
            live_session_id=session_id,
            **{f"settings__{CAPTURE_KEY}__in": ["recording", "paused"]},
        )
        .order_by("-id")
        .first()
    )
    if recording is None:
        return {"state": "off", "recording_id": None}
    return {"state": recording.settings[CAPTURE_KEY], "recording_id": recording.pk}


def _announce(session, recording, state: str) -> None:
    services.media_mode_applied(session.pk)
    realtime.broadcast_on_commit(
        services.media_group(session.pk),
        {
            "type": "media.recording",
            "data": {"state": state, "recording_id": recording.pk if recording else None},
        },
    )


def _record(session, actor, verb: str, recording) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type="recording",
        object_id=recording.pk,
        course_id=session.course_id,
        live_session_id=session.pk,
        recording_id=recording.pk,
    )


def recording_start(*, session_id: int, actor) -> dict:
    from playback.models import Recording, RecordingSource, RecordingSpan, RecordingStatus

    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        if _active(session_id) is not None:
            raise ConflictError("A recording is already running.", code="already_recording")
        now = timezone.now()
        recording = Recording.objects.create(
            course_id=session.course_id,
            live_session=session,
            title=session.title,
            source=RecordingSource.LIVE,
            status=RecordingStatus.PROCESSING,
            recorded_from=now,
            created_by=actor,
            settings={CAPTURE_KEY: "recording"},
        )
        RecordingSpan.objects.create(recording=recording, started_at=now, media_offset_ms=0)
        _announce(session, recording, "recording")
        _record(session, actor, "started_recording", recording)
    return {"recording_id": recording.pk, "state": "recording"}


def _close_span(recording, now) -> None:
    recording.spans.filter(ended_at__isnull=True).update(ended_at=now)


def recording_pause(*, session_id: int, actor) -> dict:
    with transaction.atomic():
        session = session_lock(session_id)
        recording = _active(session_id)
        if recording is None or recording.settings.get(CAPTURE_KEY) != "recording":
            raise ConflictError("Nothing is being recorded.", code="not_recording")
        _close_span(recording, timezone.now())
        recording.settings = {**recording.settings, CAPTURE_KEY: "paused"}
        recording.save(update_fields=["settings", "updated_at"])
        _announce(session, recording, "paused")
        _record(session, actor, "paused_recording", recording)
    return {"recording_id": recording.pk, "state": "paused"}


def recording_resume(*, session_id: int, actor) -> dict:
    from playback.models import RecordingSpan

    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        recording = _active(session_id)
        if recording is None or recording.settings.get(CAPTURE_KEY) != "paused":
            raise ConflictError("The recording is not paused.", code="not_paused")
        offset = sum(
            int((span.ended_at - span.started_at).total_seconds() * 1000)
            for span in recording.spans.all()
            if span.ended_at
        )
        RecordingSpan.objects.create(
            recording=recording, started_at=timezone.now(), media_offset_ms=offset
        )
        recording.settings = {**recording.settings, CAPTURE_KEY: "recording"}
        recording.save(update_fields=["settings", "updated_at"])
        _announce(session, recording, "recording")
        _record(session, actor, "resumed_recording", recording)
    return {"recording_id": recording.pk, "state": "recording"}


def recording_stop(*, session_id: int, actor) -> dict:
    """Stop for good and queue the processing (after commit)."""
    with transaction.atomic():
        session = session_lock(session_id)
        recording = _active(session_id)
        if recording is None:
            raise ConflictError("Nothing is being recorded.", code="not_recording")
        now = timezone.now()
        _close_span(recording, now)
        recording.settings = {**recording.settings, CAPTURE_KEY: "stopped"}
        recording.save(update_fields=["settings", "updated_at"])
        _announce(session, None, "off")
        _record(session, actor, "stopped_recording", recording)
        recording_id = recording.pk
        transaction.on_commit(lambda: recording_ingest_queue(recording_id))
    return {"recording_id": recording_id, "state": "off"}


def recording_ingest_queue(recording_id: int) -> None:
    """Queue the processing. Without a broker (the embedded default, Celery
    eager) it runs on a thread of its own: never on the caller's thread, which
    would hold up the media connections that must first close Janus's files."""
    from django.conf import settings

    from playback.tasks import recording_ingest

    if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        recording_ingest.delay(recording_id)
        return

    def run() -> None:
        from django.db import connection

        try:
            recording_ingest.apply(args=[recording_id])
        finally:
            connection.close()

    threading.Thread(target=run, name=f"recording-ingest-{recording_id}", daemon=True).start()


def media_session_ended(*, session_id: int, actor) -> None:
    """Call inside `live_session_end`'s transaction: stop a running recording
    (its processing is queued after commit) and, after commit, unsubscribe
    everyone (a session that is not live delivers nothing)."""
    if _active(session_id) is not None:
        recording_stop(session_id=session_id, actor=actor)
    else:
        services.media_mode_applied(session_id)
