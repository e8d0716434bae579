"""Watch progress from heartbeats (playback.services.progress)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import LearningEvent
from playback.models import WatchProgress
from playback.services.progress import (
    contiguous_end,
    progress_heartbeat,
    segments_merge,
    xapi_played_segments,
)

pytestmark = pytest.mark.django_db


def _rewind_clock(recording, user, seconds: float) -> None:
    WatchProgress.objects.filter(recording=recording, user=user).update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_the_first_heartbeat_only_starts_the_clock(recording, learner):
    result = progress_heartbeat(recording=recording, user=learner, from_ms=0, to_ms=3000)
    assert result["accepted_ms"] == 0 and result["clipped"] is True and result["watched_ms"] == 0


def test_a_claim_is_accepted_up_to_what_the_elapsed_time_allows(recording, learner):
    progress_heartbeat(recording=recording, user=learner, from_ms=0, to_ms=0)
    _rewind_clock(recording, learner, 2.0)
    result = progress_heartbeat(recording=recording, user=learner, from_ms=0, to_ms=2000)
    assert result["clipped"] is False and result["watched_ms"] == 2000
    # 1 s later a claim of 5 s is impossible even at double speed: clipped to ~2 s.
    _rewind_clock(recording, learner, 1.0)
    result = progress_heartbeat(recording=recording, user=learner, from_ms=2000, to_ms=7000)
    assert result["clipped"] is True and 1900 <= result["accepted_ms"] <= 2100
    stored = WatchProgress.objects.get(recording=recording, user=learner)
    assert stored.segments[0][0] == 0 and 3900 <= stored.segments[0][1] <= 4100


def test_completion_at_the_threshold_is_recorded_once(recording, learner):
    progress_heartbeat(recording=recording, user=learner, from_ms=0, to_ms=0)
    _rewind_clock(recording, learner, 5.5)
    result = progress_heartbeat(recording=recording, user=learner, from_ms=0, to_ms=5500)
    assert result["completed"] is True and result["percent"] == pytest.approx(91.7, abs=0.1)
    _rewind_clock(recording, learner, 1)
    progress_heartbeat(recording=recording, user=learner, from_ms=5500, to_ms=6000)
    [event] = LearningEvent.objects.filter(verb="completed")
    assert event.mode == "playback" and event.recording_id == recording.pk
    assert event.extensions["played_segments"].startswith("0.000[.]")


def test_segments_merge_and_tell_how_far_playback_got():
    merged = segments_merge([[0, 1000], [3000, 4000]], (900, 2000))
    assert merged == [[0, 2000], [3000, 4000]]
    assert contiguous_end(merged, 0) == 4000  # a one-second gap is tolerated
    assert contiguous_end([[0, 1000], [5000, 6000]], 0) == 1000
    assert xapi_played_segments(merged) == "0.000[.]2.000[,]3.000[.]4.000"


def test_bad_segments_are_refused(recording, learner):
    for start, end in ((-5, 10), (500, 100), ("a", 1)):
        with pytest.raises(Exception) as error:
            progress_heartbeat(recording=recording, user=learner, from_ms=start, to_ms=end)
        assert error.value.code in ("invalid_segment", "invalid")
