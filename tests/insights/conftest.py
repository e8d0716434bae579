"""A hand-built course history: every number the tests expect is worked out
by hand from these events (see the comments next to each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from analytics.services import event_record
from classroom.models import Poll, SessionState
from courses.models import Role
from playback.models import Recording, RecordingSource, RecordingStatus, WatchProgress
from tests.factories import EnrollmentFactory, LiveSessionFactory, TableFactory

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class History:
    course: object
    session: object
    recording: object
    table: object
    ana: object  # present live
    ben: object  # absent live, caught up in playback
    cid: object  # absent, nothing
    dee: object  # present, talks a lot, same table as ana
    poll: object
    anonymous_poll: object

    def record(self, verb, actor, minutes, **fields):
        defaults = {
            "object_type": "live_session",
            "object_id": self.session.pk,
            "course": self.course,
            "live_session_id": self.session.pk,
        }
        defaults.update(fields)
        return event_record(verb=verb, actor=actor, occurred_at=at(minutes), **defaults)[0]


def _learner(course, name):
    return EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user


@pytest.fixture
def history(course, instructor) -> History:
    """Session 10:00-11:00 scheduled, held 10:00-10:50 (5 windows of 10 min)."""
    session = LiveSessionFactory(
        course=course,
        scheduled_start=at(0),
        scheduled_end=at(60),
        started_at=at(0),
        ended_at=at(50),
        state=SessionState.ENDED,
    )
    table = TableFactory(course=course)
    ana, ben, cid, dee = (_learner(course, n) for n in ("Ana", "Ben", "Cid", "Dee"))
    poll = Poll.objects.create(
        session=session,
        kind="single",
        prompt="2+2?",
        definition={
            "options": [{"id": "a", "text": "3"}, {"id": "b", "text": "4"}],
            "correct": ["b"],
        },
        is_quiz=True,
        opened_at=at(10),
    )
    anonymous_poll = Poll.objects.create(
        session=session,
        kind="single",
        prompt="Mood?",
        definition={"options": [{"id": "a", "text": "Good"}, {"id": "b", "text": "Tired"}]},
        is_anonymous=True,
        opened_at=at(30),
    )
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title="Replay",
        source=RecordingSource.LIVE,
        status=RecordingStatus.READY,
        duration_ms=50 * 60_000,
        file="recordings/replay.webm",  # never opened: only its bounds matter here
    )
    h = History(course, session, recording, table, ana, ben, cid, dee, poll, anonymous_poll)
    h.record("started", instructor, 0)
    for learner in (ana, dee):
        h.record(
            "seated",
            learner,
            -60,
            object_type="table",
            object_id=table.pk,
            live_session_id=None,
            extensions={"method": "manual", "by": instructor.pk, "from_table": None},
        )
    # Ana: 10:02-10:20 and 10:25-end (no `left`: closed at 10:50) = 18 + 25 = 43 min.
    h.record("joined", ana, 2)
    h.record("left", ana, 20)
    h.record("joined", ana, 25)
    h.record(
        "chatted",
        ana,
        5,
        object_type="chat_message",
        object_id=1,
        extensions={"channel": "table", "table_id": table.pk},
    )  # window 0
    poll_fields = {"object_type": "poll", "object_id": poll.pk}
    h.record(
        "opened_poll",
        instructor,
        10,
        **poll_fields,
        extensions={"kind": "single", "scope": "class", "quiz": True},
    )
    h.record("answered", ana, 11, success=False, **poll_fields)  # changed later:
    h.record("answered", ana, 12, success=True, **poll_fields)  # window 1, last answer right
    h.record(
        "opened_poll",
        instructor,
        30,
        object_type="poll",
        object_id=anonymous_poll.pk,
        extensions={"kind": "single", "scope": "class", "quiz": False},
    )
    h.record("spoke", ana, 31, duration_ms=1_500)  # below the 2 s threshold: talk, not an act
    h.record("spoke", ana, 42, duration_ms=4_000)  # window 4
    # Dee: 10:00-10:50 present, talks 12 s in three turns, nothing else.
    h.record("joined", dee, 0)
    for minute in (3, 13, 23):
        h.record("spoke", dee, minute, duration_ms=4_000)  # windows 0, 1, 2
    h.record("left", dee, 50)
    # Ben: not live; in playback answers the poll (right) at 5:00 and notes at 25:00
    # (playback windows 0 and 2), completes; watched 40 of 50 minutes.
    pb = {
        "object_type": "recording",
        "object_id": recording.pk,
        "recording_id": recording.pk,
        "mode": "playback",
    }
    h.record("played", ben, 24 * 60, **pb)
    h.record(
        "answered",
        ben,
        24 * 60 + 5,
        success=True,
        media_time_ms=5 * 60_000,
        **{**pb, "object_type": "poll", "object_id": poll.pk},
    )
    h.record(
        "noted",
        ben,
        24 * 60 + 25,
        media_time_ms=25 * 60_000,
        extensions={"visibility": "private"},
        **{**pb, "object_type": "note", "object_id": 9},
    )
    h.record(
        "completed", ben, 24 * 60 + 45, extensions={"played_segments": "0.000[.]2400.000"}, **pb
    )
    WatchProgress.objects.create(
        recording=recording, user=ben, segments=[[0, 40 * 60_000]], watched_ms=40 * 60_000
    )
    h.record("ended", instructor, 50)
    return h
