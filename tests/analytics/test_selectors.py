"""The log's readers (analytics/selectors.py): `event_list`, and the readers
as the timeline build, the recording ingest and the talk meters call them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.selectors import (
    event_list,
    object_events_count,
    session_events_list,
    session_talk_totals,
)
from analytics.services import event_record

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _at(seconds: int) -> datetime:
    return BASE + timedelta(seconds=seconds)


def _spoke(actor, session_id: int, seconds: int, duration_ms: int, course) -> None:
    event_record(
        actor=actor,
        verb="spoke",
        object_type="live_session",
        object_id=session_id,
        course=course,
        live_session_id=session_id,
        duration_ms=duration_ms,
        occurred_at=_at(seconds),
    )


def test_session_events_list_keeps_one_session_the_verbs_asked_and_time_order(course, learner):
    for seconds, verb, session_id in (
        (20, "raised_hand", 1),
        (10, "set_away", 1),
        (5, "raised_hand", 2),
    ):
        event_record(
            actor=learner,
            verb=verb,
            object_type="live_session",
            object_id=session_id,
            course=course,
            live_session_id=session_id,
            occurred_at=_at(seconds),
        )
    listed = session_events_list(1, verbs=("raised_hand", "set_away"))
    assert [(e.verb, e.occurred_at) for e in listed] == [
        ("set_away", _at(10)),
        ("raised_hand", _at(20)),
    ]
    assert [e.verb for e in session_events_list(1, verbs=["raised_hand"])] == ["raised_hand"]


def test_session_events_list_window_is_half_open_and_can_drop_system_events(course, learner):
    _spoke(learner, 1, 0, 100, course)
    _spoke(learner, 1, 10, 100, course)
    _spoke(None, 1, 12, 100, course)
    _spoke(learner, 1, 20, 100, course)
    window = session_events_list(1, verbs=("spoke",), since=_at(10), until=_at(20))
    assert [e.occurred_at for e in window] == [_at(10), _at(12)]
    with_actor = session_events_list(
        1, verbs=("spoke",), since=_at(10), until=_at(20), with_actor=True
    )
    assert list(with_actor.values_list("occurred_at", "actor_id")) == [(_at(10), learner.pk)]


def test_session_events_list_filters_the_mode(course, learner):
    for mode, object_type in (("live", "live_session"), ("playback", "recording")):
        event_record(
            actor=learner,
            verb="reacted",
            object_type=object_type,
            course=course,
            live_session_id=1,
            mode=mode,
            extensions={"reaction": "clap"},
        )
    assert [e.mode for e in session_events_list(1, verbs=("reacted",), mode="live")] == ["live"]
    assert session_events_list(1, verbs=("reacted",)).count() == 2


def test_readers_refuse_a_verb_the_registry_does_not_know():
    with pytest.raises(ValueError, match="spoken"):
        session_events_list(1, verbs=("spoken",))
    with pytest.raises(ValueError, match="answerd"):
        object_events_count(verb="answerd", object_type="poll", object_id=1)


def test_session_events_list_is_one_query(course, learner, django_assert_num_queries):
    _spoke(learner, 1, 0, 100, course)
    with django_assert_num_queries(1):
        list(session_events_list(1, verbs=("spoke",)))


def test_talk_totals_sum_each_speaker_of_one_session(course, learner, instructor):
    _spoke(learner, 1, 0, 1_500, course)
    _spoke(learner, 1, 5, 500, course)
    _spoke(instructor, 1, 7, 3_000, course)
    _spoke(learner, 2, 0, 9_999, course)
    assert session_talk_totals(1) == {learner.pk: 2_000, instructor.pk: 3_000}
    assert session_talk_totals(3) == {}


def test_object_events_count_counts_one_object_s_events(course, learner, instructor):
    for actor, poll_id in ((learner, 4), (instructor, 4), (learner, 5)):
        event_record(
            actor=actor,
            verb="answered",
            object_type="poll",
            object_id=poll_id,
            course=course,
            extensions={"changed": False, "change_count": 0, "scope": "class", "table_id": None},
        )
    assert object_events_count(verb="answered", object_type="poll", object_id=4) == 2
    assert object_events_count(verb="answered", object_type="poll", object_id="5") == 1
    assert object_events_count(verb="answered", object_type="question", object_id=4) == 0


def test_events_are_listed_in_occurrence_order_with_ties_in_recording_order(course, learner):
    base = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    late = event_record(
        actor=learner,
        course=course,
        verb="ended",
        object_type="live_session",
        occurred_at=base + timedelta(seconds=5),
    )[0]
    tie_first = event_record(
        actor=learner, course=course, verb="started", object_type="live_session", occurred_at=base
    )[0]
    tie_second = event_record(
        actor=learner,
        course=course,
        verb="raised_hand",
        object_type="live_session",
        occurred_at=base,
    )[0]
    assert list(event_list(course_id=course.pk)) == [tie_first, tie_second, late]
    assert [e.recorded_at for e in (late, tie_first, tie_second)] == sorted(
        e.recorded_at for e in (late, tie_first, tie_second)
    )


def test_selector_filters_by_session_actor_and_verb(course, learner, instructor):
    event_record(
        actor=learner, course=course, verb="upvoted", object_type="question", live_session_id=7
    )
    event_record(
        actor=instructor, course=course, verb="upvoted", object_type="question", live_session_id=7
    )
    event_record(
        actor=learner, course=course, verb="upvoted", object_type="question", live_session_id=8
    )
    assert event_list(live_session_id=7).count() == 2
    assert event_list(live_session_id=7, actor_id=learner.pk).count() == 1
    assert event_list(course_id=course.pk, verb="upvoted").count() == 3
