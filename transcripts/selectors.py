"""Reads of transcripts and their cues."""

from __future__ import annotations

from transcripts.models import Cue, Transcript


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
