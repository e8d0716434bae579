"""Background work of playback: recording ingest (janus-pp-rec + remux) and
timeline builds. Tasks take ids, call one service, and are idempotent."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

INGEST_MAX_ATTEMPTS = 3


def _ingest_deliveries_exhausted(task, args, kwargs) -> None:
    """Workers died processing this recording again and again: fail it with a reason."""
    from playback.ingest import recording_ingest_failed

    recording_id = args[0] if args else kwargs.get("recording_id")
    recording_ingest_failed(
        recording_id, "the worker processing this recording died every time", final=True
    )


@shared_task(
    bind=True,
    name="playback.recording_ingest",
    max_retries=INGEST_MAX_ATTEMPTS - 1,
    on_deliveries_exhausted=_ingest_deliveries_exhausted,
)
def recording_ingest(self, recording_id: int) -> str:
    """Process a stopped recording into one WebM; retried with the reason kept,
    then marked failed. Idempotent (a ready recording is skipped)."""
    from playback.ingest import IngestError, recording_ingest_failed, recording_ingest_run

    try:
        return recording_ingest_run(recording_id)
    except IngestError as error:
        final = self.request.retries >= self.max_retries or self.request.is_eager
        recording_ingest_failed(recording_id, str(error), final=final)
        logger.warning("recording %s processing failed: %s", recording_id, error)
        if final:
            return "failed"
        raise self.retry(countdown=30 * (self.request.retries + 1)) from error


@shared_task(name="playback.recording_timeline_build")
def recording_timeline_build(recording_id: int) -> int:
    """(Re)build a recording's timeline from its live session; running it
    twice changes nothing (playback.services.timeline)."""
    from playback.services import timeline

    return timeline.recording_timeline_build(recording_id=recording_id)
