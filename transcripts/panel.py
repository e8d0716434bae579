"""The transcript beside the player: the playback room page's "Transcript"
tab (playback's `player_panels` hook; registered from recaps/hooks.py).

The cues go into the page as JSON (one query): the script (static/playback/
transcript.js) follows playback, seeks on a click or Enter, and searches the
recording without a round trip. Without a ready transcript the tab says why
(off, in progress, failed) and, for staff, how to turn captions on."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from transcripts.selectors import transcript_cues, transcript_for

CUES_MAX = 20_000  # a 10-hour recording at one cue every 2 s


def cue_payload(cue) -> dict:
    return {
        "id": cue.pk,
        "start_ms": cue.start_ms,
        "end_ms": cue.end_ms,
        "text": cue.text,
        "speaker": cue.speaker,
    }


def transcript_panel_state(recording, *, is_staff: bool) -> dict:
    """What the tab shows: `status` none | pending | running | ready | failed,
    the cues when ready, and for staff where to turn captions on."""
    transcript = transcript_for(recording.pk)
    status = transcript.status if transcript is not None else "none"
    cues = (
        [cue_payload(cue) for cue in transcript_cues(recording.pk)[:CUES_MAX]]
        if status == "ready"
        else []
    )
    state = {
        "status": status,
        "progress": round(transcript.progress * 100) if transcript is not None else 0,
        "error": transcript.error if transcript is not None and is_staff else "",
        "cues": cues,
        "speakers": sorted({cue["speaker"] for cue in cues if cue["speaker"]}),
    }
    if is_staff:
        state["settings_url"] = reverse("recording-settings", args=[recording.pk])
    return state


def transcript_panel(*, access) -> dict:
    recording = access.recording
    state = transcript_panel_state(recording, is_staff=access.is_staff)
    return {
        "id": "transcript",
        "label": _("Transcript"),
        "template": "transcripts/_player_panel.html",
        "context": {
            "state": state,
            "is_staff": access.is_staff,
            "search_url": reverse("course-transcript-search", args=[recording.course_id]),
        },
        "count": len(state["cues"]) or "",
    }
