from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime

from analytics.models import LearningEvent
from analytics.services import event_record


@shared_task(name="analytics.event_record")
def event_record_task(payload: dict) -> str:
    """Record an event off the request path (e.g. batched client heartbeats).

    `payload` holds `event_record` keyword arguments with ids in place of
    objects (`actor_id`, `course_id`) and `occurred_at` as ISO 8601. The event
    id makes redelivery harmless. Returns the stored event id.
    """
    # The log sits below courses: it reaches User and Course through the
    # model relations, not by importing courses.
    User = get_user_model()  # noqa: N806
    Course = LearningEvent._meta.get_field("course").related_model  # noqa: N806
    data = dict(payload)
    actor_id = data.pop("actor_id", None)
    course_id = data.pop("course_id", None)
    if data.get("occurred_at"):
        data["occurred_at"] = parse_datetime(data["occurred_at"])
    event, _created = event_record(
        actor=User.objects.get(pk=actor_id) if actor_id else None,
        course=Course.objects.get(pk=course_id) if course_id else None,
        **data,
    )
    return str(event.event_id)
