"""The server-owned play state of rooms (playback.services.rooms)."""

from __future__ import annotations

import pytest

from analytics.models import LearningEvent
from core.errors import ConflictError, PermissionDeniedError, ValidationError
from courses.models import Role
from playback.access import access_recording
from playback.events import state_payload
from playback.models import PlaybackRoom, RoomControl, RoomKind, RoomState
from playback.services import rooms
from playback.services.answers import playback_poll_answer
from playback.services.recordings import recording_settings_update
from playback.services.timeline import recording_timeline_build
from tests.factories import EnrollmentFactory
from tests.playback.helpers import add_quiz_poll, frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def table_room(recording, tables):
    room, created = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind=RoomKind.TABLE
    )
    assert created
    for name in ("ann", "bob"):
        rooms.room_join(room_id=room.pk, user=tables[name], channel=f"c-{name}")
    return room


def _state(room) -> PlaybackRoom:
    return PlaybackRoom.objects.get(pk=room.pk)


def test_play_is_scheduled_a_little_in_the_future(
    table_room, tables, django_capture_on_commit_callbacks
):
    before = rooms.now_ms()
    with django_capture_on_commit_callbacks(execute=True):
        result = rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    room = _state(table_room)
    assert room.state == RoomState.PLAYING and room.position_ms == 0
    assert before + rooms.LEAD_MS <= room.reference_ms <= rooms.now_ms() + rooms.LEAD_MS
    [frame] = [f for f in frames(room.pk) if f["type"] == "room.state_changed"]
    assert frame["data"]["state"] == "playing" and frame["data"]["at_ms"] == result["at_ms"]
    assert frame["data"]["by"] == {"id": tables["ann"].pk, "name": tables["ann"].name}
    event = LearningEvent.objects.get(verb="played")
    assert event.mode == "playback" and event.recording_id == room.recording_id
    assert event.extensions["room_id"] == room.pk and event.extensions["room_kind"] == "table"


@pytest.mark.timing
def test_pause_carries_the_exact_position_at_its_moment(table_room, tables):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=table_room.pk).update(reference_ms=rooms.now_ms() - 2000)
    result = rooms.room_pause(room_id=table_room.pk, actor=tables["bob"], may_participate=True)
    room = _state(table_room)
    # Paused LEAD_MS from now, i.e. 2.3 s after playback started at 0.
    assert room.state == RoomState.PAUSED and room.reference_ms == result["at_ms"]
    assert abs(room.position_ms - (2000 + rooms.LEAD_MS)) <= 20
    assert LearningEvent.objects.get(verb="paused").media_time_ms == room.position_ms


def test_a_group_seek_waits_for_members_then_plays(
    table_room, tables, django_capture_on_commit_callbacks
):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    with django_capture_on_commit_callbacks(execute=True):
        rooms.room_seek(
            room_id=table_room.pk,
            actor=tables["ann"],
            may_participate=True,
            is_staff=False,
            position_ms=3000,
        )
    room = _state(table_room)
    assert (
        room.state == RoomState.WAITING
        and room.waiting_reason == "seek"
        and room.position_ms == 3000
    )
    assert rooms.room_ready(room_id=room.pk, user=tables["ann"], state_seq=room.state_seq - 1) == {
        "stale": True
    }
    rooms.room_ready(room_id=room.pk, user=tables["ann"], state_seq=room.state_seq)
    assert _state(room).state == RoomState.WAITING
    with django_capture_on_commit_callbacks(execute=True):
        rooms.room_ready(room_id=room.pk, user=tables["bob"], state_seq=room.state_seq)
    room = _state(room)
    assert room.state == RoomState.PLAYING and room.position_ms == 3000
    assert [f["data"]["cause"] for f in frames(room.pk) if f["type"] == "room.state_changed"][
        -1
    ] == "ready"
    event = LearningEvent.objects.get(verb="seeked")
    assert event.extensions["to_ms"] == 3000


def test_a_member_who_never_reports_ready_holds_the_room_only_until_the_deadline(
    table_room, tables
):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    rooms.room_seek(
        room_id=table_room.pk,
        actor=tables["ann"],
        may_participate=True,
        is_staff=False,
        position_ms=2000,
    )
    room = _state(table_room)
    rooms.room_ready(room_id=room.pk, user=tables["ann"], state_seq=room.state_seq)
    assert rooms.room_tick(room_id=room.pk) is None  # not due yet
    PlaybackRoom.objects.filter(pk=room.pk).update(waiting_deadline_ms=rooms.now_ms() - 1)
    assert rooms.room_tick(room_id=room.pk) == "timeout"
    assert rooms.room_tick(room_id=room.pk) is None  # a second tick changes nothing
    assert _state(room).state == RoomState.PLAYING


def test_when_the_slow_member_leaves_the_wait_ends(table_room, tables):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    rooms.room_seek(
        room_id=table_room.pk,
        actor=tables["ann"],
        may_participate=True,
        is_staff=False,
        position_ms=2000,
    )
    room = _state(table_room)
    rooms.room_ready(room_id=room.pk, user=tables["ann"], state_seq=room.state_seq)
    rooms.room_leave(room_id=room.pk, user=tables["bob"], channel="c-bob")
    assert _state(room).state == RoomState.PLAYING


def test_a_paused_room_seeks_at_once(table_room, tables):
    rooms.room_seek(
        room_id=table_room.pk,
        actor=tables["bob"],
        may_participate=True,
        is_staff=False,
        position_ms=4500,
    )
    room = _state(table_room)
    assert (room.state, room.position_ms) == (RoomState.PAUSED, 4500)


def test_host_only_control_refuses_others_and_changes_nothing(
    table_room, tables, django_capture_on_commit_callbacks
):
    rooms.room_control_set(room_id=table_room.pk, actor=tables["ann"], control=RoomControl.HOST)
    before = _state(table_room)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(PermissionDeniedError) as error:
            rooms.room_play(room_id=table_room.pk, actor=tables["bob"], may_participate=True)
    assert error.value.code == "host_only" and callbacks == []
    after = _state(table_room)
    assert (after.state, after.seq) == (before.state, before.seq)
    assert not LearningEvent.objects.filter(verb="played").exists()
    with pytest.raises(PermissionDeniedError):
        rooms.room_control_set(
            room_id=table_room.pk, actor=tables["bob"], control=RoomControl.ANYONE
        )


def test_observers_never_steer(table_room, tables):
    with pytest.raises(PermissionDeniedError) as error:
        rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=False)
    assert error.value.code == "forbidden"


@pytest.mark.timing
def test_rate_changes_rebase_the_position(table_room, tables):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=table_room.pk).update(reference_ms=rooms.now_ms() - 1000)
    rooms.room_rate_set(room_id=table_room.pk, actor=tables["ann"], may_participate=True, rate=1.5)
    room = _state(table_room)
    assert room.rate == 1.5 and abs(room.position_ms - (1000 + rooms.LEAD_MS)) <= 20
    with pytest.raises(Exception) as error:
        rooms.room_rate_set(
            room_id=table_room.pk, actor=tables["ann"], may_participate=True, rate=3
        )
    assert error.value.code == "invalid_rate"


def test_forward_skipping_can_wait_for_completion_but_backward_always_works(
    table_room, tables, recording, instructor
):
    recording_settings_update(
        recording_id=recording.pk, actor=instructor, changes={"forward_skip": False}
    )
    with pytest.raises(PermissionDeniedError) as error:
        rooms.room_seek(
            room_id=table_room.pk,
            actor=tables["ann"],
            may_participate=True,
            is_staff=False,
            position_ms=5000,
        )
    assert error.value.code == "skip_forbidden"
    rooms.room_seek(
        room_id=table_room.pk,
        actor=tables["ann"],
        may_participate=True,
        is_staff=False,
        position_ms=1500,
    )
    rooms.room_seek(
        room_id=table_room.pk,
        actor=tables["ann"],
        may_participate=True,
        is_staff=False,
        position_ms=0,
    )
    rooms.room_seek(
        room_id=table_room.pk,
        actor=instructor,
        may_participate=True,
        is_staff=True,
        position_ms=5000,
    )
    assert _state(table_room).position_ms == 5000


def test_rooms_are_one_per_table_and_one_per_learner_alone(recording, tables):
    ann = access_recording(user=tables["ann"], recording_id=recording.pk)
    bob = access_recording(user=tables["bob"], recording_id=recording.pk)
    cat = access_recording(user=tables["cat"], recording_id=recording.pk)
    assert (
        rooms.room_open(access=ann, kind="table")[0] == rooms.room_open(access=bob, kind="table")[0]
    )
    assert (
        rooms.room_open(access=cat, kind="table")[0] != rooms.room_open(access=ann, kind="table")[0]
    )
    assert (
        rooms.room_open(access=ann, kind="solo")[0] != rooms.room_open(access=bob, kind="solo")[0]
    )
    assert rooms.room_open(access=ann, kind="solo")[1] is False


def test_an_unseated_learner_has_no_table_room(recording, course):
    loner = EnrollmentFactory(course=course, role=Role.LEARNER).user
    with pytest.raises(ConflictError) as error:
        rooms.room_open(
            access=access_recording(user=loner, recording_id=recording.pk), kind="table"
        )
    assert error.value.code == "not_seated"


def test_adhoc_rooms_invite_only_people_of_the_course(recording, tables, outsider):
    ann = access_recording(user=tables["ann"], recording_id=recording.pk)
    with pytest.raises(Exception) as error:
        rooms.room_open(access=ann, kind="adhoc", invite_user_ids=[outsider.pk])
    assert error.value.code == "user_not_found"
    room, _ = rooms.room_open(access=ann, kind="adhoc", invite_user_ids=[tables["cat"].pk])
    assert set(room.members.values_list("user_id", flat=True)) == {
        tables["ann"].pk,
        tables["cat"].pk,
    }
    assert rooms.room_invite(room_id=room.pk, actor=tables["cat"], user_ids=[tables["bob"].pk]) == [
        tables["bob"].pk
    ]


# --- Polls -----------------------------------------------------------------------------------


@pytest.fixture
def poll_room(recording, ended_session, table_room):
    poll = add_quiz_poll(recording, ended_session, at_seconds=2)
    recording_timeline_build(recording_id=recording.pk)
    return table_room, poll


def test_a_playing_room_stops_at_a_poll_until_everyone_present_answered(
    poll_room, tables, django_capture_on_commit_callbacks
):
    room, poll = poll_room
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    room = _state(room)
    assert room.until_ms == 2000
    PlaybackRoom.objects.filter(pk=room.pk).update(reference_ms=rooms.now_ms() - 2500)
    assert rooms.room_tick(room_id=room.pk) == "poll"
    room = _state(room)
    assert (room.state, room.waiting_reason, room.waiting_poll_id, room.position_ms) == (
        "waiting",
        "poll",
        poll.pk,
        2000,
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = playback_poll_answer(
            room_id=room.pk,
            user=tables["ann"],
            may_participate=True,
            table_id=tables["a"].pk,
            poll_id=poll.pk,
            answer={"option": "a"},
        )
    assert reply["is_correct"] is False and reply["correct"] == {"options": ["b"]}
    assert reply["rewatch_from_ms"] == 0
    assert _state(room).state == RoomState.WAITING
    progress = [f for f in frames(room.pk) if f["type"] == "poll.progress_changed"][-1]
    assert progress["data"] == {
        "poll_id": poll.pk,
        "answered": [tables["ann"].pk],
        "pending": [tables["bob"].pk],
        "answered_count": 1,
        "pending_count": 1,
    }
    answered = [f for f in frames(room.pk) if f["type"] == "poll.answered"]
    assert [f["stream"] for f in answered] == [f"user.{tables['ann'].pk}"]
    with django_capture_on_commit_callbacks(execute=True):
        playback_poll_answer(
            room_id=room.pk,
            user=tables["bob"],
            may_participate=True,
            table_id=tables["a"].pk,
            poll_id=poll.pk,
            answer={"option": "b"},
        )
    # Everyone answered: the table reads the results for POLL_REVIEW_MS, then plays on.
    room = _state(room)
    assert room.state == RoomState.WAITING and room.waiting_poll_id == poll.pk
    assert rooms.now_ms() < room.waiting_deadline_ms <= rooms.now_ms() + rooms.POLL_REVIEW_MS
    review = [f for f in frames(room.pk) if f["type"] == "room.state_changed"][-1]["data"]
    assert review["cause"] == "review" and review["waiting"]["review"] is True
    assert review["waiting"]["ready"] == sorted([tables["ann"].pk, tables["bob"].pk])
    assert rooms.room_tick(room_id=room.pk) is None  # not before the countdown ends
    PlaybackRoom.objects.filter(pk=room.pk).update(waiting_deadline_ms=rooms.now_ms() - 1)
    assert rooms.room_tick(room_id=room.pk) == "answered"
    room = _state(room)
    assert room.state == RoomState.PLAYING and room.position_ms == 2000 and room.until_ms is None
    assert LearningEvent.objects.filter(verb="answered", mode="playback").count() == 2


def _ann_stops_at_the_poll_and_answers_a(room, poll, tables, capture) -> None:
    """Ann plays the room to the poll at 2 s, where it stops; she answers "a"."""
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=room.pk).update(reference_ms=rooms.now_ms() - 2500)
    assert rooms.room_tick(room_id=room.pk) == "poll"
    with capture(execute=True):
        playback_poll_answer(
            room_id=room.pk,
            user=tables["ann"],
            may_participate=True,
            table_id=tables["a"].pk,
            poll_id=poll.pk,
            answer={"option": "a"},
        )


def test_a_room_waiting_on_an_anonymous_poll_shows_how_many_answered_not_who(
    recording, ended_session, table_room, tables, django_capture_on_commit_callbacks
):
    """Naming who answered would show a table mate when each answered
    (docs/polls.md): the frames and the room's state carry counts only."""
    poll = add_quiz_poll(recording, ended_session, at_seconds=2, is_anonymous=True)
    recording_timeline_build(recording_id=recording.pk)
    room = table_room
    _ann_stops_at_the_poll_and_answers_a(room, poll, tables, django_capture_on_commit_callbacks)
    progress = [f for f in frames(room.pk) if f["type"] == "poll.progress_changed"][-1]
    assert progress["data"] == {
        "poll_id": poll.pk,
        "answered": [],
        "pending": [],
        "answered_count": 1,
        "pending_count": 1,
    }
    state = state_payload(_state(room))
    assert state["waiting"]["ready"] == [] and state["waiting"]["ready_count"] == 1
    assert _state(room).waiting_ready == [
        tables["ann"].pk
    ]  # the server still knows whom it waits for


def test_the_poll_wait_times_out(poll_room, tables):
    room, poll = poll_room
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=room.pk).update(reference_ms=rooms.now_ms() - 2500)
    rooms.room_tick(room_id=room.pk)
    PlaybackRoom.objects.filter(pk=room.pk).update(waiting_deadline_ms=rooms.now_ms() - 1)
    assert rooms.room_tick(room_id=room.pk) == "timeout"
    assert _state(room).state == RoomState.PLAYING


def test_alone_the_answered_poll_stays_until_the_learner_continues(
    recording, ended_session, tables, django_capture_on_commit_callbacks
):
    poll = add_quiz_poll(recording, ended_session, at_seconds=2)
    recording_timeline_build(recording_id=recording.pk)
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind=RoomKind.SOLO
    )
    rooms.room_join(room_id=room.pk, user=tables["ann"], channel="c-ann")
    _ann_stops_at_the_poll_and_answers_a(room, poll, tables, django_capture_on_commit_callbacks)
    room = _state(room)
    # No deadline: the room waits on the result until Ann continues.
    assert room.state == RoomState.WAITING and room.waiting_deadline_ms is None
    state = [f for f in frames(room.pk) if f["type"] == "room.state_changed"][-1]["data"]
    assert state["cause"] == "review" and state["waiting"]["review"] is True
    assert rooms.next_check_ms(state) is None and rooms.room_tick(room_id=room.pk) is None
    rooms.room_resume(room_id=room.pk, actor=tables["ann"], may_participate=True)
    room = _state(room)
    assert room.state == RoomState.PLAYING and room.position_ms == 2000


def test_the_host_can_resume_a_poll_wait(poll_room, tables):
    room, poll = poll_room
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=room.pk).update(reference_ms=rooms.now_ms() - 2500)
    rooms.room_tick(room_id=room.pk)
    rooms.room_resume(room_id=room.pk, actor=tables["ann"], may_participate=True)
    assert _state(room).state == RoomState.PLAYING
    with pytest.raises(ConflictError):
        rooms.room_resume(room_id=room.pk, actor=tables["ann"], may_participate=True)


def test_polls_everyone_answered_live_do_not_stop_the_room(poll_room, tables):
    from classroom.models import PollResponse
    from classroom.services.polls import voter_key

    room, poll = poll_room
    for name in ("ann", "bob"):
        PollResponse.objects.create(
            poll=poll,
            voter_key=voter_key(poll_id=poll.pk, user_id=tables[name].pk),
            user=tables[name],
            answer={"option": "b"},
            first_answer={"option": "b"},
            first_answered_at=poll.opened_at,
            answered_at=poll.opened_at,
            is_correct=True,
            score=1.0,
        )
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    assert _state(room).until_ms is None
    with pytest.raises(ConflictError) as error:
        playback_poll_answer(
            room_id=room.pk,
            user=tables["ann"],
            may_participate=True,
            table_id=tables["a"].pk,
            poll_id=poll.pk,
            answer={"option": "a"},
        )
    assert error.value.code == "already_answered_live"


def test_no_pause_at_polls_when_the_recording_says_so(poll_room, tables, recording, instructor):
    room, _poll = poll_room
    recording_settings_update(
        recording_id=recording.pk, actor=instructor, changes={"pause_at_polls": False}
    )
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    assert _state(room).until_ms is None


def test_a_poll_is_answered_once(poll_room, tables):
    room, poll = poll_room
    kwargs = {
        "room_id": room.pk,
        "user": tables["cat"],
        "may_participate": True,
        "table_id": tables["b"].pk,
        "poll_id": poll.pk,
    }
    playback_poll_answer(**kwargs, answer={"option": "b"})
    with pytest.raises(ConflictError) as error:
        playback_poll_answer(**kwargs, answer={"option": "a"})
    assert error.value.code == "already_answered"
    with pytest.raises(Exception) as invalid:
        playback_poll_answer(**{**kwargs, "user": tables["bob"]}, answer={"option": "zzz"})
    assert invalid.value.code == "invalid_answer"


@pytest.mark.timing
def test_an_empty_room_stops_where_it_is(table_room, tables):
    rooms.room_play(room_id=table_room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=table_room.pk).update(reference_ms=rooms.now_ms() - 3000)
    rooms.room_leave(room_id=table_room.pk, user=tables["bob"], channel="c-bob")
    assert _state(table_room).state == RoomState.PLAYING  # ann is still watching
    rooms.room_leave(room_id=table_room.pk, user=tables["ann"], channel="c-ann")
    room = _state(table_room)
    assert room.state == RoomState.PAUSED and 2900 <= room.position_ms <= 3300


def test_staff_visiting_a_room_never_hold_up_a_poll(poll_room, tables, instructor):
    room, poll = poll_room
    rooms.room_join(room_id=room.pk, user=instructor, channel="c-teacher")
    rooms.room_play(room_id=room.pk, actor=tables["ann"], may_participate=True)
    PlaybackRoom.objects.filter(pk=room.pk).update(reference_ms=rooms.now_ms() - 2500)
    rooms.room_tick(room_id=room.pk)
    for name in ("ann", "bob"):
        playback_poll_answer(
            room_id=room.pk,
            user=tables[name],
            may_participate=True,
            table_id=tables["a"].pk,
            poll_id=poll.pk,
            answer={"option": "b"},
        )
    # The learners answered: only the short review of the results remains.
    assert rooms.poll_review(_state(room))
    PlaybackRoom.objects.filter(pk=room.pk).update(waiting_deadline_ms=rooms.now_ms() - 1)
    assert rooms.room_tick(room_id=room.pk) == "answered"
    assert _state(room).state == RoomState.PLAYING


@pytest.mark.parametrize("user_id", [2**63, 10**30, 0, -5])
def test_invitations_of_ids_no_user_can_have_are_invalid(recording, tables, user_id):
    ann = access_recording(user=tables["ann"], recording_id=recording.pk)
    with pytest.raises(ValidationError) as error:
        rooms.room_open(access=ann, kind="adhoc", invite_user_ids=[user_id])
    assert error.value.code == "invalid"
    assert not PlaybackRoom.objects.exists()
