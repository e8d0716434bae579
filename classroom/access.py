"""Fetch-and-check for live sessions: the only way views, APIs and consumers
obtain a session."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from classroom.models import LiveSession, Seat
from core.errors import ApplicationError, NotAuthenticatedError, NotFoundError
from courses.access import (
    CourseAccess,
    CourseAction,
    MemberAccess,
    course_access_check,
    course_role_subquery,
)
from courses.models import Enrollment


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
    return _live_access(user, session, session.viewer_role, session.viewer_table, action)


def _live_access(user, session, role, table_id, action) -> LiveAccess:
    """The checks on a session, its course, the user's role and table as read."""
    try:
        course_access = course_access_check(user=user, course=session.course, role=role)
    except NotFoundError as error:
        raise NotFoundError(_("Session not found."), code="session_not_found") from error
    access = LiveAccess(session=session, course_access=course_access, table_id=table_id)
    access.require(action)
    return access


def access_live_session_many(*, users: list, session_id: int) -> list:
    """`access_live_session` (view) for several users of one session at once
    (a class connecting at 9:00): one outcome per user, in order, a
    `LiveAccess` or the error that user's access raised. Three queries
    whatever the number of users: the session with its course, the users'
    roles, their tables. One user takes the single-query path."""
    if len(users) == 1:
        try:
            return [access_live_session(user=users[0], session_id=session_id)]
        except ApplicationError as error:
            return [error]
    outcomes: list = [None] * len(users)
    known = []
    for index, user in enumerate(users):
        if user is None or not user.is_authenticated:
            outcomes[index] = NotAuthenticatedError()
        else:
            known.append(index)
    if not known:
        return outcomes
    session = (
        LiveSession.objects.select_related("course")
        .defer("stream_heads")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        missing = NotFoundError(_("Session not found."), code="session_not_found")
        return [outcome or missing for outcome in outcomes]
    ids = {users[index].pk for index in known}
    roles: dict[int, str] = {}
    # The first active enrolment and the first seat, as course_role_subquery
    # and access_live_session's seat subquery take them.
    for user_id, role in (
        Enrollment.objects.filter(course_id=session.course_id, user_id__in=ids, is_active=True)
        .order_by("pk")
        .values_list("user_id", "role")
    ):
        roles.setdefault(user_id, role)
    tables: dict[int, int] = {}
    for user_id, table_id in (
        Seat.objects.filter(course_id=session.course_id, user_id__in=ids)
        .order_by("pk")
        .values_list("user_id", "table_id")
    ):
        tables.setdefault(user_id, table_id)
    for index in known:
        user = users[index]
        try:
            outcomes[index] = _live_access(
                user, session, roles.get(user.pk), tables.get(user.pk), CourseAction.VIEW
            )
        except ApplicationError as error:
            outcomes[index] = error
    return outcomes
