"""classroom/services/sessions.py: the session lifecycle, modes and
attendance; every denial and the frames each action emits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import LearningEvent
from classroom.access import access_live_session
from classroom.models import Attendance, LiveSession, PodiumSpeaker, SessionState
from classroom.selectors import attendance_seconds
from classroom.services import room, sessions
from core.errors import ConflictError, NotFoundError, ValidationError
from tests.classroom.services.helpers import frames, head
from tests.factories import TableFactory

pytestmark = pytest.mark.django_db


def test_start_then_end_and_no_restart(
    live_session, instructor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    session = LiveSession.objects.get(pk=live_session.pk)
    assert (session.state, session.started_by, session.mode) == (
        SessionState.LIVE,
        instructor,
        "lecture",
    )
    assert [f["type"] for f in frames(session)] == ["session.changed", "mode.changed"]
    assert [f["seq"] for f in frames(session)] == [1, 2]
    with django_capture_on_commit_callbacks(execute=True):
        sessions.live_session_end(session_id=live_session.pk, actor=instructor)
    with pytest.raises(ConflictError) as error:
        sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    assert error.value.code == "session_not_startable"
    assert LiveSession.objects.get(pk=live_session.pk).state == SessionState.ENDED
    verbs = list(
        LearningEvent.objects.filter(
            live_session_id=live_session.pk, object_type="live_session", actor=instructor
        ).values_list("verb", flat=True)
    )
    assert verbs == ["started", "ended"]


def test_cancel_only_scheduled(live_session, instructor):
    sessions.live_session_cancel(session_id=live_session.pk, actor=instructor)
    with pytest.raises(ConflictError):
        sessions.live_session_cancel(session_id=live_session.pk, actor=instructor)
    with pytest.raises(ConflictError):
        sessions.live_session_start(session_id=live_session.pk, actor=instructor)


def test_end_closes_attendance_hands_podium_and_timers(live, instructor, seated):
    learner = seated["learner"]
    sessions.attendance_join(session_id=live.pk, user=learner, connection="c1")
    room.hand_raise(session_id=live.pk, user=learner)
    room.podium_invite(session_id=live.pk, actor=instructor, user_id=learner.pk)
    room.timer_start(session_id=live.pk, actor=instructor, label="Talk", seconds=300)
    sessions.live_session_end(session_id=live.pk, actor=instructor)
    assert not Attendance.objects.filter(session=live, left_at__isnull=True).exists()
    assert not PodiumSpeaker.objects.filter(session=live, removed_at__isnull=True).exists()
    assert room.timers_active(live.pk) == []


def test_every_mode_and_its_frame(live, instructor, seated, django_capture_on_commit_callbacks):
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        sessions.live_session_mode_set(
            session_id=live.pk, actor=instructor, mode="table_talk", podium_addresses_all=True
        )
        sessions.live_session_mode_set(
            session_id=live.pk, actor=instructor, mode="visiting", table_id=seated["b"].pk
        )
        sessions.live_session_mode_set(
            session_id=live.pk, actor=instructor, mode="stage", table_id=seated["a"].pk
        )
        sessions.live_session_mode_set(session_id=live.pk, actor=instructor, mode="podium")
        sessions.live_session_mode_set(session_id=live.pk, actor=instructor, mode="lecture")
    emitted = frames(live, start)
    assert [(f["data"]["mode"], f["data"]["table_id"]) for f in emitted] == [
        ("table_talk", None),
        ("visiting", seated["b"].pk),
        ("stage", seated["a"].pk),
        ("podium", None),
        ("lecture", None),
    ]
    assert emitted[0]["data"]["podium_addresses_all"] is True
    assert [f["seq"] for f in emitted] == list(range(start + 1, start + 6))
    assert all(f["stream"] == "all" for f in emitted)
    assert LearningEvent.objects.filter(verb="mode_changed").count() == 5


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"mode": "disco"}, "invalid_mode"),
        ({"mode": "visiting"}, "table_required"),
        ({"mode": "stage", "table_id": 999999}, "table_not_found"),
    ],
)
def test_bad_modes_are_refused_and_nothing_changes(live, instructor, kwargs, code):
    before = head(live)
    with pytest.raises((ValidationError, NotFoundError)) as error:
        sessions.live_session_mode_set(session_id=live.pk, actor=instructor, **kwargs)
    assert error.value.code == code
    assert head(live) == before and LiveSession.objects.get(pk=live.pk).mode == "lecture"


def test_table_of_another_course_cannot_be_staged(live, instructor, other_course):
    foreign = TableFactory(course=other_course)
    with pytest.raises(NotFoundError):
        sessions.live_session_mode_set(
            session_id=live.pk, actor=instructor, mode="stage", table_id=foreign.pk
        )


def test_mode_needs_a_live_session(live_session, instructor):
    with pytest.raises(ConflictError) as error:
        sessions.live_session_mode_set(
            session_id=live_session.pk, actor=instructor, mode="table_talk"
        )
    assert error.value.code == "session_not_live"


def test_time_present_is_the_union_of_intervals(live, seated):
    learner = seated["learner"]
    start = live.started_at
    Attendance.objects.create(
        session=live,
        user=learner,
        connection="a",
        joined_at=start + timedelta(minutes=1),
        left_at=start + timedelta(minutes=11),
    )
    Attendance.objects.create(
        session=live,
        user=learner,
        connection="b",
        joined_at=start + timedelta(minutes=5),
        left_at=start + timedelta(minutes=15),
    )
    Attendance.objects.create(
        session=live,
        user=learner,
        connection="c",
        joined_at=start + timedelta(minutes=20),
        left_at=start + timedelta(minutes=30),
    )
    LiveSession.objects.filter(pk=live.pk).update(
        ended_at=start + timedelta(minutes=25), state=SessionState.ENDED
    )
    live.refresh_from_db()
    assert attendance_seconds(session=live, user_id=learner.pk) == (14 + 5) * 60


def test_join_and_leave_record_events_once_per_person(live, seated):
    learner = seated["learner"]
    assert sessions.attendance_join(session_id=live.pk, user=learner, connection="tab1") == 1
    assert sessions.attendance_join(session_id=live.pk, user=learner, connection="tab2") == 2
    assert sessions.attendance_leave(session_id=live.pk, user=learner, connection="tab1") == 1
    assert sessions.attendance_leave(session_id=live.pk, user=learner, connection="tab2") == 0
    verbs = list(LearningEvent.objects.filter(actor=learner).values_list("verb", flat=True))
    assert verbs == ["joined", "left"]


def test_outsider_has_no_access(live, outsider):
    with pytest.raises(NotFoundError):
        access_live_session(user=outsider, session_id=live.pk)


def test_stale_attendance_is_closed_at_its_last_sign_of_life(live, seated):
    learner = seated["learner"]
    sessions.attendance_join(session_id=live.pk, user=learner, connection="crashed")
    seen = timezone.now() - timedelta(minutes=5)
    Attendance.objects.filter(connection="crashed").update(last_seen_at=seen)
    sessions.attendance_join(session_id=live.pk, user=seated["mate"], connection="alive")
    assert sessions.attendance_close_stale() == 1
    closed = Attendance.objects.get(connection="crashed")
    assert closed.left_at == seen
    assert Attendance.objects.get(connection="alive").left_at is None
    assert sessions.attendance_close_stale() == 0
    assert LearningEvent.objects.filter(actor=learner, verb="left").count() == 1
