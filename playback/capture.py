"""Where live recordings are kept: playback's `RecordingStore` for livemedia.

livemedia runs the recording rules (livemedia/recording.py) and must not
import playback; playback registers this store in its `AppConfig.ready()`.
A live recording is a `Recording` row (status `processing` until ingest) whose
`settings["capture"]` is recording | paused | stopped, with one
`RecordingSpan` per uninterrupted stretch.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.db import connection

from livemedia.recording import Capture
from playback.models import Recording, RecordingSource, RecordingSpan, RecordingStatus
from playback.tasks import recording_ingest

CAPTURE_KEY = "capture"  # Recording.settings[CAPTURE_KEY]: recording | paused | stopped
ACTIVE = ["recording", "paused"]


class PlaybackRecordingStore:
    def _active_row(self, session_id: int, *, lock: bool) -> Recording | None:
        recordings = Recording.objects.filter(
            live_session_id=session_id, **{f"settings__{CAPTURE_KEY}__in": ACTIVE}
        )
        if lock:
            recordings = recordings.select_for_update()
        return recordings.order_by("-id").first()

    def active(self, session_id: int, *, lock: bool = True) -> Capture | None:
        recording = self._active_row(session_id, lock=lock)
        if recording is None:
            return None
        return Capture(recording_id=recording.pk, state=recording.settings[CAPTURE_KEY])

    def open_span(self, session_id: int) -> tuple[int, int] | None:
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

    def create(self, *, session, actor, now) -> int:
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
        return recording.pk

    def _state_set(self, recording_id: int, state: str) -> None:
        recording = Recording.objects.get(pk=recording_id)
        recording.settings = {**recording.settings, CAPTURE_KEY: state}
        recording.save(update_fields=["settings", "updated_at"])

    def _span_close(self, recording_id: int, now) -> None:
        RecordingSpan.objects.filter(recording_id=recording_id, ended_at__isnull=True).update(
            ended_at=now
        )

    def pause(self, recording_id: int, now) -> None:
        self._span_close(recording_id, now)
        self._state_set(recording_id, "paused")

    def resume(self, recording_id: int, now) -> None:
        offset = sum(
            int((span.ended_at - span.started_at).total_seconds() * 1000)
            for span in RecordingSpan.objects.filter(recording_id=recording_id)
            if span.ended_at
        )
        RecordingSpan.objects.create(
            recording_id=recording_id, started_at=now, media_offset_ms=offset
        )
        self._state_set(recording_id, "recording")

    def stop(self, recording_id: int, now) -> None:
        self._span_close(recording_id, now)
        self._state_set(recording_id, "stopped")

    def ingest_queue(self, recording_id: int) -> None:
        """Queue `playback.recording_ingest`. Without a broker (the embedded
        default, Celery eager) it runs on a thread of its own: never on the
        caller's thread, which would hold up the media connections that must
        first close Janus's files."""
        if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            recording_ingest.delay(recording_id)
            return

        def run() -> None:
            try:
                recording_ingest.apply(args=[recording_id])
            finally:
                connection.close()

        threading.Thread(target=run, name=f"recording-ingest-{recording_id}", daemon=True).start()
