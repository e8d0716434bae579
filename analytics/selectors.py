"""Reads of the learning-event log: every app outside `analytics` reads it
through these functions, never through `LearningEvent.objects`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet, Sum

from analytics.models import LearningEvent
from analytics.verbs import VERBS


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


def session_events_list(
    session_id: int,
    *,
    verbs: Iterable[str],
    mode: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    with_actor: bool = False,
) -> QuerySet[LearningEvent]:
    """A live session's events of the given verbs, in the order they happened.
    `since` is inclusive and `until` exclusive; `with_actor` drops the events
    of the system itself (no actor). No related rows are loaded: readers need
    the ids (`actor_id`, `object_id`) and resolve names in one query of their own."""
    events = LearningEvent.objects.filter(live_session_id=session_id, verb__in=_known(verbs))
    if mode is not None:
        events = events.filter(mode=mode)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if with_actor:
        events = events.filter(actor_id__isnull=False)
    return events.order_by("occurred_at", "id")


def session_talk_totals(session_id: int) -> dict[int | None, int]:
    """Milliseconds of talk (`spoke`) per actor id in a live session, one query."""
    return dict(
        LearningEvent.objects.filter(live_session_id=session_id, verb="spoke")
        .values("actor_id")
        .annotate(total=Sum("duration_ms"))
        .values_list("actor_id", "total")
    )


def _known(verbs: Iterable[str]) -> list[str]:
    """Readers name registered verbs only: a typo would read nothing, silently."""
    verbs = list(verbs)
    unknown = sorted(set(verbs) - set(VERBS))
    if unknown:
        raise ValueError(f"unregistered verbs {unknown} (analytics/verbs.py)")
    return verbs


def object_events_count(*, verb: str, object_type: str, object_id: str | int) -> int:
    """How many `verb` events one object has (e.g. the answers a poll got)."""
    return LearningEvent.objects.filter(
        verb__in=_known([verb]), object_type=object_type, object_id=str(object_id)
    ).count()
