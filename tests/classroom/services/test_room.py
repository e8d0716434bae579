"""classroom/services/room.py: hands, podium, away, timers, announcements and
help flags; every denial and the frames each action emits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from classroom.models import HandRaise
from classroom.services import room, sessions
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from courses.models import Role
from tests.classroom.services.helpers import frames, head
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_hand_queue_order_and_lowering_rules(live, seated, instructor):
    for user in (seated["other"], seated["learner"], seated["mate"]):
        room.hand_raise(session_id=live.pk, user=user)
    with pytest.raises(ConflictError):
        room.hand_raise(session_id=live.pk, user=seated["learner"])
    assert [h["user"]["id"] for h in room.hand_queue_get(live.pk)] == [
        seated["other"].pk,
        seated["learner"].pk,
        seated["mate"].pk,
    ]
    with pytest.raises(PermissionDeniedError):
        room.hand_lower(
            session_id=live.pk,
            actor=seated["learner"],
            user_id=seated["other"].pk,
            actor_is_staff=False,
        )
    room.hand_lower(
        session_id=live.pk,
        actor=seated["learner"],
        user_id=seated["learner"].pk,
        actor_is_staff=False,
    )
    room.hand_lower(
        session_id=live.pk, actor=instructor, user_id=seated["other"].pk, actor_is_staff=True
    )
    assert [h["user"]["id"] for h in room.hand_queue_get(live.pk)] == [seated["mate"].pk]
    assert room.hands_lower_all(session_id=live.pk, actor=instructor) == 1
    assert room.hand_queue_get(live.pk) == []
    assert HandRaise.objects.count() == 3


def test_podium_holds_six_and_the_rest_stay_queued(live, course, instructor):
    learners = [EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(8)]
    for index, user in enumerate(learners):
        sessions.attendance_join(session_id=live.pk, user=user, connection=f"c{index}")
        room.hand_raise(session_id=live.pk, user=user)
    for user in learners[:6]:
        room.podium_invite(session_id=live.pk, actor=instructor, user_id=user.pk)
    with pytest.raises(ConflictError) as error:
        room.podium_invite(session_id=live.pk, actor=instructor, user_id=learners[6].pk)
    assert error.value.code == "podium_full"
    assert [h["user"]["id"] for h in room.hand_queue_get(live.pk)] == [
        learners[6].pk,
        learners[7].pk,
    ]
    room.podium_remove(
        session_id=live.pk, actor=learners[0], user_id=learners[0].pk, actor_is_staff=False
    )
    with pytest.raises(PermissionDeniedError):
        room.podium_remove(
            session_id=live.pk, actor=learners[1], user_id=learners[2].pk, actor_is_staff=False
        )
    room.podium_invite(session_id=live.pk, actor=instructor, user_id=learners[6].pk)
    assert len(room.podium_get(live.pk)) == 6


def test_podium_refuses_absent_people_and_outsiders(live, seated, instructor, outsider):
    with pytest.raises(ConflictError) as error:
        room.podium_invite(session_id=live.pk, actor=instructor, user_id=seated["learner"].pk)
    assert error.value.code == "user_not_present"
    with pytest.raises(NotFoundError):
        room.podium_invite(session_id=live.pk, actor=instructor, user_id=outsider.pk)


def test_away_reaches_staff_and_the_table(live, seated, django_capture_on_commit_callbacks):
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        room.away_set(
            session_id=live.pk, user=seated["learner"], away=True, table_id=seated["a"].pk
        )
        room.away_set(
            session_id=live.pk, user=seated["learner"], away=True, table_id=seated["a"].pk
        )
    assert [(f["type"], f["stream"]) for f in frames(live, start)] == [
        ("away.changed", "staff"),
        ("away.changed", f"table.{seated['a'].pk}"),
    ]


def test_timers_start_extend_shorten_stop(live, instructor):
    timer = room.timer_start(
        session_id=live.pk, actor=instructor, label="Table talk", seconds=300, warning_seconds=30
    )
    original_end = timer.ends_at
    room.timer_adjust(session_id=live.pk, actor=instructor, timer_id=timer.pk, delta_seconds=60)
    timer.refresh_from_db()
    assert timer.ends_at == original_end + timedelta(seconds=60)
    room.timer_adjust(session_id=live.pk, actor=instructor, timer_id=timer.pk, delta_seconds=-120)
    timer.refresh_from_db()
    assert timer.ends_at == original_end - timedelta(seconds=60)
    room.timer_stop(session_id=live.pk, actor=instructor, timer_id=timer.pk)
    assert room.timers_active(live.pk) == []
    with pytest.raises(NotFoundError):
        room.timer_stop(session_id=live.pk, actor=instructor, timer_id=timer.pk)
    with pytest.raises(ValidationError):
        room.timer_start(session_id=live.pk, actor=instructor, label="", seconds=1)


def test_announcement(live, instructor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        room.announcement_send(session_id=live.pk, actor=instructor, body="Back in 5")
    assert frames(live)[-1]["type"] == "announcement.posted"
    with pytest.raises(ValidationError):
        room.announcement_send(session_id=live.pk, actor=instructor, body="x" * 1001)


def test_help_flags_queue_for_staff(live, seated, instructor, django_capture_on_commit_callbacks):
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        room.help_flag(session_id=live.pk, user=seated["learner"])
    with pytest.raises(ConflictError):
        room.help_flag(session_id=live.pk, user=seated["mate"])
    staff_frame, table_frame = frames(live, start)
    assert staff_frame["stream"] == "staff" and staff_frame["data"]["queue"][0]["table_name"] == "A"
    assert table_frame == {
        **table_frame,
        "stream": f"table.{seated['a'].pk}",
        "data": {"table_id": seated["a"].pk, "open": True},
    }
    room.help_resolve(session_id=live.pk, actor=instructor, table_id=seated["a"].pk)
    assert room.help_queue_get(live.pk) == []
