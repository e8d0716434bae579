from __future__ import annotations

from django.db.models import QuerySet

from analytics.models import LearningEvent


def event_list(
    *,
    course_id: int | None = None,
    live_session_id: int | None = None,
    recording_id: int | None = None,
    actor_id: int | None = None,
    verb: str | None = None,
) -> QuerySet[LearningEvent]:
    """Events in the order they happened; ties keep the order they were recorded."""
    events = LearningEvent.objects.all()
    if course_id is not None:
        events = events.filter(course_id=course_id)
    if live_session_id is not None:
        events = events.filter(live_session_id=live_session_id)
    if recording_id is not None:
        events = events.filter(recording_id=recording_id)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if verb is not None:
        events = events.filter(verb=verb)
    return events.order_by("occurred_at", "id")
