"""Recording the stage: start, pause, resume, stop (staff).

Janus records, per publisher, the people heard by all (`policy.heard_by_all`)
while a span is open; each media connection switches its own publisher's
recording on `media_mode_applied`. Stopping queues the processing, which
turns the .mjr files into one WebM.

The rules (one recording at a time, pause only while recording, announce
every change, log every change) live here; the rows live in the app that
plays recordings back. `livemedia` must not import `playback` (import-linter
contract), so playback registers a `RecordingStore` in its
`AppConfig.ready()` (`playback/capture.py`) and this module calls it. Media
time zero is the first span's start; pauses cut the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from analytics.services import event_record
from classroom.services.common import require_live, session_lock
from core.errors import ConflictError
from livemedia import events, services


@dataclass(frozen=True)
class Capture:
    """The running (or paused) recording of a live session."""

    recording_id: int
    state: str  # "recording" | "paused"


class RecordingStore(Protocol):
    """Where recordings are kept. Every call but `ingest_queue` runs inside
    the caller's transaction, with the live session's row locked."""

    def active(self, session_id: int, *, lock: bool = True) -> Capture | None:
        """The session's running or paused recording (its row locked unless
        `lock` is false), else None."""

    def open_span(self, session_id: int) -> tuple[int, int] | None:
        """(recording id, open span id) while recording, else None."""

    def create(self, *, session, actor, now) -> int:
        """A new recording (state "recording") with its first span open at `now`."""

    def pause(self, recording_id: int, now) -> None:
        """Close the open span; state "paused"."""

    def resume(self, recording_id: int, now) -> None:
        """Open a span at `now`, continuing the media time; state "recording"."""

    def stop(self, recording_id: int, now) -> None:
        """Close the open span; state "stopped" (no longer active)."""

    def ingest_queue(self, recording_id: int) -> None:
        """Queue the processing of a stopped recording (called after commit)."""


_store: RecordingStore | None = None


def recording_store_register(store: RecordingStore) -> None:
    """Called once by the app that keeps recordings (playback's `ready()`)."""
    global _store
    _store = store


def recording_store() -> RecordingStore:
    if _store is None:
        raise ImproperlyConfigured(
            "No recording store is registered: livemedia records only with the "
            "playback app installed (playback/apps.py registers it)."
        )
    return _store


def recording_capture_get(session_id: int) -> tuple[int, int] | None:
    """(recording id, open span id) while recording, else None."""
    return recording_store().open_span(session_id)


def recording_state_get(session_id: int) -> dict:
    capture = recording_store().active(session_id, lock=False)
    if capture is None:
        return {"state": "off", "recording_id": None}
    return {"state": capture.state, "recording_id": capture.recording_id}


def _announce(session, recording_id: int | None, state: str) -> None:
    services.media_mode_applied(session.pk)
    events.recording_changed(session.pk, state=state, recording_id=recording_id)


def _record(session, actor, verb: str, recording_id: int) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type="recording",
        object_id=recording_id,
        course_id=session.course_id,
        live_session_id=session.pk,
        recording_id=recording_id,
    )


def recording_start(*, session_id: int, actor) -> dict:
    store = recording_store()
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        if store.active(session_id) is not None:
            raise ConflictError("A recording is already running.", code="already_recording")
        recording_id = store.create(session=session, actor=actor, now=timezone.now())
        _announce(session, recording_id, "recording")
        _record(session, actor, "started_recording", recording_id)
    return {"recording_id": recording_id, "state": "recording"}


def recording_pause(*, session_id: int, actor) -> dict:
    store = recording_store()
    with transaction.atomic():
        session = session_lock(session_id)
        capture = store.active(session_id)
        if capture is None or capture.state != "recording":
            raise ConflictError("Nothing is being recorded.", code="not_recording")
        store.pause(capture.recording_id, timezone.now())
        _announce(session, capture.recording_id, "paused")
        _record(session, actor, "paused_recording", capture.recording_id)
    return {"recording_id": capture.recording_id, "state": "paused"}


def recording_resume(*, session_id: int, actor) -> dict:
    store = recording_store()
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        capture = store.active(session_id)
        if capture is None or capture.state != "paused":
            raise ConflictError("The recording is not paused.", code="not_paused")
        store.resume(capture.recording_id, timezone.now())
        _announce(session, capture.recording_id, "recording")
        _record(session, actor, "resumed_recording", capture.recording_id)
    return {"recording_id": capture.recording_id, "state": "recording"}


def recording_stop(*, session_id: int, actor) -> dict:
    """Stop for good and queue the processing (after commit)."""
    store = recording_store()
    with transaction.atomic():
        session = session_lock(session_id)
        capture = store.active(session_id)
        if capture is None:
            raise ConflictError("Nothing is being recorded.", code="not_recording")
        recording_id = capture.recording_id
        store.stop(recording_id, timezone.now())
        _announce(session, None, "off")
        _record(session, actor, "stopped_recording", recording_id)
        transaction.on_commit(lambda: recording_ingest_queue(recording_id))
    return {"recording_id": recording_id, "state": "off"}


def recording_ingest_queue(recording_id: int) -> None:
    """Queue the processing (the store's task; never on the caller's thread,
    which would hold up the media connections that must first close Janus's
    files)."""
    recording_store().ingest_queue(recording_id)


def media_session_ended(*, session_id: int, actor) -> None:
    """Call inside `live_session_end`'s transaction: stop a running recording
    (its processing is queued after commit) and, after commit, unsubscribe
    everyone (a session that is not live delivers nothing)."""
    if recording_store().active(session_id) is not None:
        recording_stop(session_id=session_id, actor=actor)
    else:
        services.media_mode_applied(session_id)
