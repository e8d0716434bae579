"""Every write to live sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record
from classroom.models import LiveSession, SessionState
from core.errors import ValidationError
from courses.models import Course, User

MAX_SESSION_LENGTH = timedelta(hours=12)


def live_session_schedule(
    *,
    course: Course,
    title: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    actor: User | None,
) -> LiveSession:
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("A title is required.")
    elif len(title) > 200:
        errors["title"] = _("The title is longer than 200 characters.")
    if timezone.is_naive(scheduled_start) or timezone.is_naive(scheduled_end):
        errors["scheduled_start"] = _("Times must carry a time zone.")
    elif scheduled_end <= scheduled_start:
        errors["scheduled_end"] = _("The session must end after it starts.")
    elif scheduled_end - scheduled_start > MAX_SESSION_LENGTH:
        errors["scheduled_end"] = _("A session lasts at most 12 hours.")
    if errors:
        raise ValidationError(details=errors)
    with transaction.atomic():
        session = LiveSession.objects.create(
            course=course,
            title=title,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            state=SessionState.SCHEDULED,
        )
        event_record(
            actor=actor,
            verb="scheduled",
            object_type="live_session",
            object_id=session.pk,
            course=course,
            live_session_id=session.pk,
        )
    return session
