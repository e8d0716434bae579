"""playback/ingest.py: the talk turns the picture follows, read from the
event log through analytics selectors. (The ffmpeg assembly and the Janus
recordings are tested in tests/livemedia/test_ingest.py.)"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from analytics.services import event_record
from playback.ingest import _talks

pytestmark = pytest.mark.django_db


def _spoke(session, actor, at) -> None:
    event_record(
        actor=actor,
        verb="spoke",
        object_type="live_session",
        object_id=session.pk,
        course_id=session.course_id,
        live_session_id=session.pk,
        duration_ms=1_000,
        occurred_at=at,
    )


def test_talks_are_the_recorded_spans_turns_with_a_speaker(
    recording, ended_session, learner, instructor
):
    start = ended_session.started_at
    spans = [
        SimpleNamespace(started_at=start, ended_at=start + timedelta(minutes=10)),
        SimpleNamespace(
            started_at=start + timedelta(minutes=20), ended_at=start + timedelta(minutes=30)
        ),
    ]
    _spoke(ended_session, learner, start - timedelta(seconds=1))  # before the recording
    _spoke(ended_session, learner, start)
    _spoke(ended_session, None, start + timedelta(minutes=1))  # nobody known
    _spoke(ended_session, instructor, start + timedelta(minutes=25))
    _spoke(ended_session, instructor, start + timedelta(minutes=30))  # the end is excluded
    assert _talks(recording, spans) == [
        (start, learner.pk),
        (start + timedelta(minutes=25), instructor.pk),
    ]


def test_no_session_or_no_span_means_no_talks(recording, ended_session, learner):
    _spoke(ended_session, learner, ended_session.started_at)
    assert _talks(recording, []) == []
    recording.live_session_id = None
    span = SimpleNamespace(started_at=ended_session.started_at, ended_at=ended_session.ended_at)
    assert _talks(recording, [span]) == []
