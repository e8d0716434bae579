"""The player's transcript tab: what its state says for each transcript
status, and the cues in time order with their speakers."""

from __future__ import annotations

import pytest

from tests.recaps.helpers import LECTURE, recording_row, transcript_of
from transcripts.models import Transcript
from transcripts.panel import transcript_panel_state

pytestmark = pytest.mark.django_db


def test_no_transcript_and_its_progress_and_failure(course):
    recording = recording_row(course)
    state = transcript_panel_state(recording, is_staff=False)
    assert state["status"] == "none" and state["cues"] == [] and "settings_url" not in state
    staff = transcript_panel_state(recording, is_staff=True)
    assert staff["settings_url"] == f"/recordings/{recording.pk}/settings/"
    transcript = Transcript.objects.create(recording=recording, status="running", progress=0.42)
    assert transcript_panel_state(recording, is_staff=False)["progress"] == 42
    Transcript.objects.filter(pk=transcript.pk).update(status="failed", error="No audio track.")
    assert transcript_panel_state(recording, is_staff=False)["error"] == ""  # staff only
    assert transcript_panel_state(recording, is_staff=True)["error"] == "No audio track."


def test_ready_cues_in_time_order_with_speakers(course):
    recording = recording_row(course)
    transcript_of(recording, list(reversed(LECTURE)))  # stored out of order
    state = transcript_panel_state(recording, is_staff=False)
    assert state["status"] == "ready"
    assert [cue["start_ms"] for cue in state["cues"]] == sorted(int(s * 1000) for s, *_ in LECTURE)
    assert state["speakers"] == ["Dr Rivera", "Sam"]
    assert state["cues"][0]["text"] == LECTURE[0][1]
