"""`event_record`: the one way any app writes to the learning-event log."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from analytics.models import EventMode, EventSource, LearningEvent
from analytics.verbs import event_problems
from core import rows
from core.errors import ValidationError

logger = logging.getLogger(__name__)

MAX_RESPONSE_LENGTH = 10_000


def _validate(
    *,
    verb: str,
    object_type: str,
    mode: str,
    source: str,
    media_time_ms: int | None,
    duration_ms: int | None,
    score: float | None,
    occurred_at: datetime,
    extensions: dict,
    response: str,
) -> None:
    errors: dict[str, str] = {}
    if not verb or len(verb) > 64:
        errors["verb"] = "A verb of 1 to 64 characters is required."
    if not object_type or len(object_type) > 64:
        errors["object_type"] = "An object type of 1 to 64 characters is required."
    if mode not in EventMode.values:
        errors["mode"] = f"Mode must be one of {', '.join(EventMode.values)}."
    if source not in EventSource.values:
        errors["source"] = f"Source must be one of {', '.join(EventSource.values)}."
    if media_time_ms is not None and media_time_ms < 0:
        errors["media_time_ms"] = "Media time cannot be negative."
    if duration_ms is not None and duration_ms < 0:
        errors["duration_ms"] = "Duration cannot be negative."
    if score is not None and not math.isfinite(score):
        errors["score"] = "Score must be a finite number."
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Occurred-at must carry a time zone."
    if not isinstance(extensions, dict):
        errors["extensions"] = "Extensions must be a JSON object."
    if len(response) > MAX_RESPONSE_LENGTH:
        errors["response"] = f"Response is longer than {MAX_RESPONSE_LENGTH} characters."
    if "verb" not in errors:
        problems = event_problems(verb=verb, object_type=object_type, extensions=extensions)
        if problems and settings.ANALYTICS_EVENTS_STRICT:
            for key, message in problems.items():
                errors.setdefault(key, message)
        elif problems:
            # Production stores the event anyway: a missed registration must
            # not lose a learner's data.
            logger.warning("unregistered event shape %s: %s", verb, problems)
    if errors:
        raise ValidationError(details=errors, code="invalid_event")


def event_record(
    *,
    verb: str,
    object_type: str,
    object_id: str | int = "",
    actor=None,
    course=None,
    course_id: int | None = None,
    live_session_id: int | None = None,
    recording_id: int | None = None,
    mode: str = EventMode.LIVE,
    media_time_ms: int | None = None,
    success: bool | None = None,
    score: float | None = None,
    response: str = "",
    duration_ms: int | None = None,
    extensions: dict[str, Any] | None = None,
    source: str = EventSource.SERVER,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | str | None = None,
) -> tuple[LearningEvent, bool]:
    """Append one event. Idempotent on `event_id`: recording the same id again
    stores nothing and returns the stored event with created=False.

    Safe inside a caller's transaction; the insert uses its own savepoint.
    """
    occurred_at = occurred_at or timezone.now()
    extensions = {} if extensions is None else extensions
    response = "" if response is None else str(response)
    _validate(
        verb=verb,
        object_type=object_type,
        mode=mode,
        source=source,
        media_time_ms=media_time_ms,
        duration_ms=duration_ms,
        score=score,
        occurred_at=occurred_at,
        extensions=extensions,
        response=response,
    )
    try:
        event_uuid = uuid.UUID(str(event_id)) if event_id else uuid.uuid4()
    except ValueError as error:
        raise ValidationError(details={"event_id": "Not a UUID."}, code="invalid_event") from error

    if course is not None:
        course_id = course.pk
    event = LearningEvent(
        event_id=event_uuid,
        occurred_at=occurred_at,
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=str(object_id),
        course_id=course_id,
        live_session_id=live_session_id,
        recording_id=recording_id,
        mode=mode,
        media_time_ms=media_time_ms,
        success=success,
        score=score,
        response=response,
        duration_ms=duration_ms,
        extensions=extensions,
        source=source,
    )
    # The unique constraint decides, not a check-then-act: two deliveries of
    # the same client event racing each other store one row. ON CONFLICT DO
    # NOTHING leaves a caller's transaction usable without a savepoint; the
    # statement is built once (core/rows.py: no query compiler on every live
    # action, docs/performance.md).
    if rows.row_insert(event, on_conflict="event_id"):
        return event, True
    stored = LearningEvent.objects.filter(event_id=event_uuid).first()
    if stored is None:  # the conflicting row committed before this statement: never gone
        raise IntegrityError(f"learning event {event_uuid} conflicted but is not stored")
    return stored, False


def events_record_many(rows: list[dict[str, Any]]) -> int:
    """Append a batch of server-made events in one statement (reactions).
    Each row holds LearningEvent fields, with `event_id` set by the caller so
    that writing the same batch again stores nothing new. Returns the count
    of rows given."""
    events = []
    for row in rows:
        fields = {"mode": EventMode.LIVE, "source": EventSource.SERVER, "extensions": {}, **row}
        _validate(
            verb=fields["verb"],
            object_type=fields["object_type"],
            mode=fields["mode"],
            source=fields["source"],
            media_time_ms=fields.get("media_time_ms"),
            duration_ms=fields.get("duration_ms"),
            score=fields.get("score"),
            occurred_at=fields["occurred_at"],
            extensions=fields["extensions"],
            response=fields.get("response", ""),
        )
        fields["event_id"] = uuid.UUID(str(fields["event_id"]))
        events.append(LearningEvent(**fields))
    LearningEvent.objects.bulk_create(events, ignore_conflicts=True)
    return len(events)
