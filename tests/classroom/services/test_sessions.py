"""Service tests of the live classroom: every action, every denial, and the
exact frames each one emits (read back from the resync buffer)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import LearningEvent
from classroom.access import access_live_session
from classroom.models import (
    Attendance,
    ChatMessage,
    HandRaise,
    LiveSession,
    PodiumSpeaker,
    Question,
    SessionState,
)
from classroom.selectors import attendance_seconds, session_snapshot_get
from classroom.services import chat, reactions, room, sessions
from core import realtime
from core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from courses.models import Role
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tables(course):
    return TableFactory(course=course, name="A"), TableFactory(course=course, name="B")


@pytest.fixture
def seated(course, tables, learner):
    """learner at A, mate at A, other at B."""
    a, b = tables
    mate = EnrollmentFactory(course=course, role=Role.LEARNER).user
    other = EnrollmentFactory(course=course, role=Role.LEARNER).user
    for user, table in ((learner, a), (mate, a), (other, b)):
        SeatFactory(table=table, user=user)
    return {"learner": learner, "mate": mate, "other": other, "a": a, "b": b}


@pytest.fixture
def live(live_session, instructor):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    return LiveSession.objects.get(pk=live_session.pk)


def frames(session, after: int = 0) -> list[dict]:
    return [
        json.loads(text)
        for _seq, _stream, text in realtime.frame_buffer().since(f"live.{session.pk}", after)
    ]


def head(session) -> int:
    return LiveSession.objects.get(pk=session.pk).seq


# --- Lifecycle ---------------------------------------------------------------------------


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
        LearningEvent.objects.filter(live_session_id=live_session.pk).values_list("verb", flat=True)
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


# --- Modes ------------------------------------------------------------------------------


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


# --- Chat and Q&A -----------------------------------------------------------------------


def test_table_chat_goes_to_the_table_stream(live, seated, django_capture_on_commit_callbacks):
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="table",
            body=" hi A ",
            is_staff=False,
        )
    (frame,) = frames(live, start)
    assert frame["type"] == "chat.posted" and frame["stream"] == f"table.{seated['a'].pk}"
    assert frame["data"]["body"] == "hi A" and frame["data"]["table_id"] == seated["a"].pk
    assert LearningEvent.objects.get(verb="chatted").response == "hi A"


def test_learner_cannot_read_or_write_another_tables_chat(live, seated, instructor):
    with pytest.raises(PermissionDeniedError):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="table",
            body="x",
            is_staff=False,
            table_id=seated["b"].pk,
        )
    chat.chat_send(
        session_id=live.pk, user=seated["other"], channel="table", body="B secret", is_staff=False
    )
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["learner"], session_id=live.pk)
    )
    assert "B secret" not in [m["body"] for m in snapshot["chat"]["messages"]]
    staff_view = session_snapshot_get(
        access=access_live_session(user=instructor, session_id=live.pk)
    )
    assert "B secret" in [m["body"] for m in staff_view["chat"]["messages"]]


def test_staff_channel_is_staff_only(live, seated, ta):
    with pytest.raises(PermissionDeniedError):
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="staff", body="x", is_staff=False
        )
    chat.chat_send(
        session_id=live.pk, user=ta, channel="staff", body="tables 3 and 4 are quiet", is_staff=True
    )
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["learner"], session_id=live.pk)
    )
    assert all(m["channel"] != "staff" for m in snapshot["chat"]["messages"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "message_empty"),
        ("   ", "message_empty"),
        ("\u200b\u200b", "message_empty"),  # only invisible characters
        ("x" * 2001, "message_too_long"),
        (None, "message_empty"),
    ],
)
def test_bad_chat_bodies(live, seated, body, code):
    with pytest.raises(ValidationError) as error:
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="class", body=body, is_staff=False
        )
    assert error.value.code == code
    assert not ChatMessage.objects.exists()


def test_rate_limit_five_per_five_seconds_nothing_stored(live, seated):
    for index in range(5):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="class",
            body=f"{index}",
            is_staff=False,
        )
    with pytest.raises(RateLimitedError):
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="class", body="6th", is_staff=False
        )
    assert ChatMessage.objects.count() == 5
    ChatMessage.objects.update(created_at=timezone.now() - timedelta(seconds=6))
    chat.chat_send(
        session_id=live.pk, user=seated["learner"], channel="class", body="later", is_staff=False
    )


def test_staff_delete_reaches_the_messages_stream(
    live, seated, instructor, django_capture_on_commit_callbacks
):
    message = chat.chat_send(
        session_id=live.pk, user=seated["learner"], channel="table", body="oops", is_staff=False
    )
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_delete(session_id=live.pk, actor=instructor, message_id=message.pk)
    (frame,) = frames(live, start)
    assert frame == {
        **frame,
        "type": "chat.deleted",
        "stream": f"table.{seated['a'].pk}",
        "data": {"id": message.pk, "channel": "table"},
    }
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["mate"], session_id=live.pk)
    )
    (shown,) = snapshot["chat"]["messages"]
    assert shown["deleted"] and shown["body"] == "" and shown["author"] is None


def test_questions_upvotes_answers_and_anonymity(
    live, seated, instructor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        question = chat.question_ask(
            session_id=live.pk, user=seated["learner"], body="Why ATP?", anonymous=True
        )
    assert frames(live)[-1]["data"]["author"] is None
    assert LearningEvent.objects.get(verb="asked").actor is None
    chat.question_upvote(session_id=live.pk, user=seated["mate"], question_id=question.pk)
    with pytest.raises(ConflictError):
        chat.question_upvote(session_id=live.pk, user=seated["mate"], question_id=question.pk)
    chat.question_answer(session_id=live.pk, actor=instructor, question_id=question.pk)
    question.refresh_from_db()
    assert question.upvote_count == 1 and question.answered_at is not None
    sessions.live_session_settings_update(
        session_id=live.pk, actor=instructor, anonymous_questions_allowed=False
    )
    with pytest.raises(PermissionDeniedError) as error:
        chat.question_ask(session_id=live.pk, user=seated["learner"], body="again", anonymous=True)
    assert error.value.code == "anonymous_disabled"
    assert Question.objects.count() == 1


# --- Hands and podium -------------------------------------------------------------------


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


# --- Reactions, away, timers, announcements, help -----------------------------------


def test_reactions_are_counted_per_learner_and_burst(live, seated):
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")
    reactions.reaction_send(session_id=live.pk, user=seated["mate"], kind="slower")
    with pytest.raises(ValidationError):
        reactions.reaction_send(session_id=live.pk, user=seated["mate"], kind="rocket")
    assert reactions.reaction_burst_take(live.pk) == {"clap": 2, "slower": 1}
    assert reactions.reaction_burst_take(live.pk) == {}
    # Accepted without a database write; the flush writes events and counts.
    assert not LearningEvent.objects.filter(verb="reacted").exists()
    assert reactions.reactions_persist(live.pk) == 3
    assert reactions.reactions_persist(live.pk) == 0
    from classroom.selectors import engagement_list

    learners = engagement_list(session_id=live.pk)["learners"]
    assert learners[str(seated["learner"].pk)]["reactions"] == {"clap": 2}
    assert learners[str(seated["mate"].pk)]["reactions"] == {"slower": 1}
    assert learners[str(seated["learner"].pk)]["active"]["reacted"] is True
    stored = LearningEvent.objects.filter(verb="reacted", live_session_id=live.pk)
    assert sorted(e.extensions["reaction"] for e in stored) == ["clap", "clap", "slower"]
    assert {e.actor_id for e in stored} == {seated["learner"].pk, seated["mate"].pk}


def test_a_repeated_reaction_frame_counts_once(live, seated):
    learner = seated["learner"]
    assert reactions.reaction_send(session_id=live.pk, user=learner, kind="clap", client_id="r1")
    assert not reactions.reaction_send(
        session_id=live.pk, user=learner, kind="clap", client_id="r1"
    )
    assert reactions.reactions_persist(live.pk) == 1


def test_a_failed_reaction_write_keeps_the_batch(live, seated, monkeypatch):
    reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")

    def broken(session_id, items):
        raise RuntimeError("database down")

    monkeypatch.setattr(reactions, "_persist", broken)
    with pytest.raises(RuntimeError):
        reactions.reactions_persist(live.pk)
    monkeypatch.undo()
    assert reactions.reactions_persist(live.pk) == 1
    assert LearningEvent.objects.filter(verb="reacted").count() == 1


def test_no_reaction_once_the_session_ended(live, seated, instructor):
    sessions.live_session_end(session_id=live.pk, actor=instructor)
    with pytest.raises(ConflictError):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="clap")


def test_reaction_rate_limit(live, seated):
    for _ in range(10):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")
    with pytest.raises(RateLimitedError):
        reactions.reaction_send(session_id=live.pk, user=seated["learner"], kind="laugh")
    # A refused reaction is not stored.
    assert reactions.reactions_persist(live.pk) == 10


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


# --- Attendance ---------------------------------------------------------------------------


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
