"""Reads of transcripts and their cues."""

from __future__ import annotations

from transcripts.models import Cue, CueRevision, Transcript


def transcript_for(recording_id: int) -> Transcript | None:
    """The recording's transcript (any status), or None."""
    return Transcript.objects.filter(recording_id=recording_id).first()


def transcript_cues(recording_id: int) -> list[Cue]:
    """The cues of the recording's transcript in time order; empty when there
    is no ready transcript."""
    return list(
        Cue.objects.filter(
            transcript__recording_id=recording_id, transcript__status="ready"
        ).order_by("start_ms", "index")
    )


def transcript_payload(transcript: Transcript | None, *, is_staff: bool) -> dict:
    """The state of a recording's transcript for pages and the API. Learners
    see whether captions exist; staff also see progress and why a run failed."""
    from transcripts.asr import asr_status

    status = asr_status()
    data = {
        "status": transcript.status if transcript else "none",
        "source": transcript.source if transcript else "",
        "language": transcript.language if transcript else "",
        "cues": transcript.cues.count() if transcript else 0,
        "asr_enabled": status.enabled,
        "asr_off_reason": status.reason,
    }
    if is_staff:
        data.update(
            {
                "progress": round(transcript.progress, 3) if transcript else 0.0,
                "error": transcript.error if transcript else "",
                "error_code": transcript.error_code if transcript else "",
                "model": transcript.model if transcript else "",
                "attempts": transcript.attempts if transcript else 0,
                "file_name": transcript.file_name if transcript else "",
                "started_at": transcript.started_at if transcript else None,
                "finished_at": transcript.finished_at if transcript else None,
                "updated_at": transcript.updated_at if transcript else None,
                "model_dir": status.model_dir,
            }
        )
    return data


def transcript_panel_context(*, access, user) -> dict:
    recording = access.recording
    transcript = transcript_for(recording.pk)
    return {
        "recording": recording,
        "transcript": transcript,
        "state": transcript_payload(transcript, is_staff=access.is_staff),
        "is_staff": access.is_staff,
        "captions_on": bool(getattr(user, "captions_on", False)),
    }


def cue_revisions(recording_id: int, *, limit: int = 200) -> list[CueRevision]:
    """The latest edits of the recording's cues, newest first, with editors."""
    return list(
        CueRevision.objects.filter(cue__transcript__recording_id=recording_id)
        .select_related("editor", "cue")
        .order_by("-created_at", "-id")[:limit]
    )
