from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from analytics.models import AppendOnlyError, LearningEvent
from analytics.selectors import event_list
from analytics.services import event_record
from core.errors import ValidationError

pytestmark = pytest.mark.django_db


def test_same_event_id_is_stored_once(course, learner):
    event_id = uuid.uuid4()
    first, created = event_record(
        event_id=event_id,
        actor=learner,
        course=course,
        verb="reacted",
        object_type="live_session",
        extensions={"reaction": "clap"},
        source="client",
    )
    again, created_again = event_record(
        event_id=str(event_id),
        actor=learner,
        course=course,
        verb="reacted",
        object_type="live_session",
        extensions={"reaction": "laugh"},
        source="client",
    )
    assert created is True and created_again is False
    assert first.pk == again.pk
    assert LearningEvent.objects.count() == 1
    assert LearningEvent.objects.get().extensions == {"reaction": "clap"}


def test_duplicate_inside_outer_transaction_keeps_outer_work(course, learner):
    from django.db import transaction

    event_id = uuid.uuid4()
    with transaction.atomic():
        event_record(
            event_id=event_id,
            actor=learner,
            course=course,
            verb="joined",
            object_type="live_session",
        )
        event_record(
            event_id=event_id,
            actor=learner,
            course=course,
            verb="joined",
            object_type="live_session",
        )
        event_record(actor=learner, course=course, verb="left", object_type="live_session")
    assert LearningEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("verb", {"verb": ""}),
        ("mode", {"mode": "dream"}),
        ("source", {"source": "robot"}),
        ("media_time_ms", {"media_time_ms": -1}),
        ("duration_ms", {"duration_ms": -5}),
        ("score", {"score": float("nan")}),
        ("occurred_at", {"occurred_at": datetime(2026, 1, 1)}),  # noqa: DTZ001 - the naive time is the point
        ("extensions", {"extensions": ["not", "an", "object"]}),
        ("event_id", {"event_id": "not-a-uuid"}),
    ],
)
def test_invalid_events_are_refused_and_nothing_stored(course, field, kwargs):
    arguments = {"verb": "joined", "object_type": "live_session", "course": course, **kwargs}
    with pytest.raises(ValidationError) as error:
        event_record(**arguments)
    assert field in error.value.details
    assert not LearningEvent.objects.exists()


def test_log_is_append_only(course):
    event, _ = event_record(verb="joined", object_type="live_session", course=course)
    event.verb = "left"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert LearningEvent.objects.get().verb == "joined"


def test_playback_and_review_modes_are_kept(course, learner):
    event_record(
        actor=learner,
        course=course,
        verb="played",
        object_type="recording",
        recording_id=3,
        mode="playback",
        media_time_ms=12_000,
        duration_ms=4_000,
    )
    event_record(
        actor=learner,
        course=course,
        verb="answered",
        object_type="poll",
        mode="review",
        success=True,
        score=1.0,
        response="B",
    )
    assert list(event_list(course_id=course.pk).values_list("mode", flat=True)) == [
        "playback",
        "review",
    ]
