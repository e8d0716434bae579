"""Background work of transcripts: the transcription job. Takes an id, calls
one service, is idempotent (transcripts/services/jobs.py); a worker killed
mid-run hands the task back (acks_late, config/celery.py) and the next
delivery starts the run over."""

from __future__ import annotations

from celery import shared_task


def _deliveries_exhausted(task, args, kwargs) -> None:
    """Workers died transcribing this recording again and again: fail it with a reason."""
    from django.utils.translation import gettext as _

    from transcripts.models import Transcript
    from transcripts.services.jobs import transcript_fail

    recording_id = args[0] if args else kwargs.get("recording_id")
    transcript = Transcript.objects.filter(recording_id=recording_id).first()
    if transcript is not None:
        transcript_fail(
            transcript.pk,
            None,
            "worker_lost",
            _(
                "The worker transcribing this recording stopped every time (out of memory, "
                "or killed). Try again, or use a smaller model."
            ),
        )


@shared_task(
    name="transcripts.transcribe",
    acks_late=True,
    reject_on_worker_lost=True,
    on_deliveries_exhausted=_deliveries_exhausted,
)
def transcript_transcribe(recording_id: int) -> str:
    from celery.exceptions import SoftTimeLimitExceeded
    from django.utils.translation import gettext as _

    from transcripts.models import Transcript
    from transcripts.services.jobs import transcript_fail, transcript_run

    try:
        return transcript_run(recording_id)
    except SoftTimeLimitExceeded:
        transcript = Transcript.objects.filter(recording_id=recording_id).first()
        if transcript is not None:
            transcript_fail(
                transcript.pk,
                transcript.run_token or None,
                "time_limit",
                _(
                    "Transcription took longer than the job time limit (JOB_TIME_LIMIT). "
                    "Raise the limit (and JOB_VISIBILITY_TIMEOUT above it) or use a smaller model."
                ),
            )
        return "failed"
