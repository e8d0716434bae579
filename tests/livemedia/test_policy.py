"""livemedia.policy: who receives whom in every mode (no Janus needed)."""

from __future__ import annotations

import pytest

from classroom.models import LiveSession, PodiumSpeaker, RoomMode, Seat, SessionState, Table
from courses.models import Role
from livemedia.policy import (
    RoomState,
    audible_sources,
    heard_by_all,
    may_publish,
    room_state_get,
)
from tests.factories import EnrollmentFactory

TEACHER, TA, OBSERVER = 1, 2, 3
A1, A2, B1, B2, LONER = 11, 12, 21, 22, 31  # tables 100 (A) and 200 (B); LONER unseated


def state(mode=RoomMode.TABLE_TALK, table=None, podium_all=False, speakers=(), live=True):
    return RoomState(
        session_id=1,
        course_id=1,
        live=live,
        mode=mode,
        mode_table_id=table,
        podium_addresses_all=podium_all,
        table_of={A1: 100, A2: 100, B1: 200, B2: 200},
        instructors=(TEACHER,),
        staff=frozenset({TEACHER, TA}),
        speakers=tuple(speakers),
        observers=frozenset({OBSERVER}),
    )


def hears(room: RoomState, user: int) -> set[int]:
    return set(audible_sources(room, user))


def test_lecture_everyone_receives_the_podium_only():
    room = state(RoomMode.LECTURE)
    for user in (A1, A2, B1, B2, LONER, OBSERVER, TA):
        assert hears(room, user) == {TEACHER}
    assert hears(room, TEACHER) == set()


def test_lecture_with_an_invited_speaker_everyone_hears_both():
    room = state(RoomMode.LECTURE, speakers=[B1])
    assert hears(room, A1) == {TEACHER, B1}
    assert hears(room, B1) == {TEACHER}
    assert hears(room, TEACHER) == {B1}


def test_table_talk_learners_receive_their_table_only():
    room = state(RoomMode.TABLE_TALK)
    assert hears(room, A1) == {A2}
    assert hears(room, B2) == {B1}
    assert hears(room, LONER) == set()
    assert hears(room, OBSERVER) == set()


def test_table_talk_with_podium_addressing_all_adds_the_podium():
    room = state(RoomMode.TABLE_TALK, podium_all=True, speakers=[B1])
    assert hears(room, A1) == {A2, TEACHER, B1}
    assert hears(room, B2) == {B1, TEACHER}
    assert hears(room, OBSERVER) == {TEACHER, B1}


def test_visiting_gives_the_table_the_staff_and_the_staff_the_table():
    room = state(RoomMode.VISITING, table=100)
    assert hears(room, A1) == {A2, TEACHER, TA}
    assert hears(room, TEACHER) == {A1, A2}
    assert hears(room, TA) == {A1, A2, TEACHER}
    # Other tables continue on their own.
    assert hears(room, B1) == {B2}


def test_stage_everyone_receives_the_staged_table_and_the_podium():
    room = state(RoomMode.STAGE, table=200)
    assert hears(room, A1) == {B1, B2, TEACHER}
    assert hears(room, B1) == {B2, TEACHER}
    assert hears(room, OBSERVER) == {B1, B2, TEACHER}
    assert hears(room, TEACHER) == {B1, B2}


def test_nobody_receives_anything_unless_the_session_is_live():
    room = state(RoomMode.LECTURE, live=False)
    assert hears(room, A1) == set()
    assert heard_by_all(room) == ()


def test_a_table_is_never_more_than_its_members():
    room = state(RoomMode.TABLE_TALK)
    assert len(hears(room, A1)) <= 9  # a table seats at most 10


def test_observers_do_not_publish():
    room = state()
    assert not may_publish(room, OBSERVER)
    assert may_publish(room, A1) and may_publish(room, TEACHER)


@pytest.mark.parametrize(
    ("mode", "table", "podium_all", "expected"),
    [
        (RoomMode.LECTURE, None, False, (TEACHER,)),
        (RoomMode.PODIUM, None, False, (TEACHER,)),
        (RoomMode.STAGE, 100, False, (A1, A2, TEACHER)),
        (RoomMode.TABLE_TALK, None, False, ()),
        (RoomMode.TABLE_TALK, None, True, (TEACHER,)),
        (RoomMode.VISITING, 200, False, ()),
    ],
)
def test_the_recording_captures_who_is_heard_by_all(mode, table, podium_all, expected):
    assert heard_by_all(state(mode, table, podium_all)) == expected


def test_room_state_reads_seats_roles_and_the_podium(course, live_session):
    teacher = EnrollmentFactory(course=course, role=Role.INSTRUCTOR).user
    ta = EnrollmentFactory(course=course, role=Role.TA).user
    watcher = EnrollmentFactory(course=course, role=Role.OBSERVER).user
    learners = [EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(3)]
    table = Table.objects.create(course=course, name="T1")
    Seat.objects.create(course=course, table=table, user=learners[0])
    Seat.objects.create(course=course, table=table, user=learners[1])
    PodiumSpeaker.objects.create(session=live_session, user=learners[2], invited_by=teacher)
    LiveSession.objects.filter(pk=live_session.pk).update(
        state=SessionState.LIVE, mode=RoomMode.STAGE, mode_table=table
    )
    room = room_state_get(live_session.pk)
    assert room.live and room.mode == RoomMode.STAGE and room.mode_table_id == table.pk
    assert room.instructors == (teacher.pk,)
    assert room.staff == {teacher.pk, ta.pk}
    assert room.observers == {watcher.pk}
    assert room.speakers == (learners[2].pk,)
    assert room.table_of == {learners[0].pk: table.pk, learners[1].pk: table.pk}
    assert set(audible_sources(room, learners[2].pk)) == {
        learners[0].pk,
        learners[1].pk,
        teacher.pk,
    }
