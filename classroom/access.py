"""Fetch-and-check for live sessions: the only way views, APIs and consumers
obtain a session."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from classroom.models import LiveSession, Seat
from core.errors import NotAuthenticatedError, NotFoundError
from courses.access import (
    CourseAccess,
    CourseAction,
    MemberAccess,
    course_access_check,
    course_role_subquery,
)


@dataclass(frozen=True)
class LiveAccess(MemberAccess):
    session: LiveSession
    course_access: CourseAccess
    table_id: int | None  # the user's persistent table in the course, if seated


def access_live_session(
    *, user, session_id: int, action: CourseAction | str = CourseAction.VIEW
) -> LiveAccess:
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    # Without the stream heads: a socket keeps its access for its lifetime,
    # and the heads (one entry per table and private stream) were a third of
    # an idle connection's memory. Whoever needs them reads the row again.
    # One query: the session, its course, the user's role and table (a class
    # joining at once runs this 150 times).
    session = (
        LiveSession.objects.select_related("course")
        .defer("stream_heads")
        .annotate(
            viewer_role=course_role_subquery(user),
            viewer_table=Subquery(
                Seat.objects.filter(course_id=OuterRef("course_id"), user=user)
                .order_by("pk")
                .values("table_id")[:1]
            ),
        )
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise NotFoundError(_("Session not found."), code="session_not_found")
    try:
        course_access = course_access_check(
            user=user, course=session.course, role=session.viewer_role
        )
    except NotFoundError as error:
        raise NotFoundError(_("Session not found."), code="session_not_found") from error
    table_id = session.viewer_table
    access = LiveAccess(session=session, course_access=course_access, table_id=table_id)
    access.require(action)
    return access
