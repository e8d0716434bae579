"""Who may read which analytics (docs/analytics.md#access).

- A learner reads only their own rows (`access_insights_learner` with their
  own id, `access_insights_self`).
- Instructors and TAs read the courses they teach.
- Program admins read every course of their programs; superusers read all.
Outsiders get `not_found` (we do not confirm that a course exists); a member
whose role is too weak gets `permission_denied`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from classroom.models import LiveSession
from core.errors import NotAuthenticatedError, NotFoundError, PermissionDeniedError
from courses.access import access_program, course_role_get, program_course_ids
from courses.models import STAFF_ROLES, Course, Program, Role, User


@dataclass(frozen=True)
class InsightsAccess:
    course: Course
    user: User
    role: str | None
    via_program: bool

    @property
    def is_staff(self) -> bool:
        return self.user.is_superuser or self.via_program or self.role in STAFF_ROLES


def _authenticated(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()


def _standing(user: User, course_id: int) -> InsightsAccess:
    _authenticated(user)
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        raise NotFoundError(_("Course not found."), code="course_not_found")
    role = course_role_get(user=user, course=course)
    via_program = not user.is_superuser and course.pk in program_course_ids(user=user)
    if role is None and not user.is_superuser and not via_program:
        raise NotFoundError(_("Course not found."), code="course_not_found")
    return InsightsAccess(course=course, user=user, role=role, via_program=via_program)


def access_insights_course(*, user: User, course_id: int) -> InsightsAccess:
    """A course's analytics of everyone: its staff, its program admins."""
    access = _standing(user, course_id)
    if not access.is_staff:
        raise PermissionDeniedError(
            _("Only the course's staff can see its analytics."), code="role_forbidden"
        )
    return access


def access_insights_learner(*, user: User, course_id: int, user_id: int) -> InsightsAccess:
    """One learner's analytics in a course: the learner, or the course's staff."""
    access = _standing(user, course_id)
    if access.is_staff:
        return access
    if user.pk == user_id and access.role == Role.LEARNER:
        return access
    raise PermissionDeniedError(_("You can only see your own progress."), code="role_forbidden")


def access_insights_self(*, user: User, course_id: int) -> InsightsAccess:
    """A learner's own progress page (anyone enrolled as a learner)."""
    access = _standing(user, course_id)
    if access.role != Role.LEARNER:
        raise PermissionDeniedError(
            _("The progress page is for the course's learners."), code="role_forbidden"
        )
    return access


def access_insights_session(*, user: User, session_id: int) -> tuple[InsightsAccess, LiveSession]:
    """A live session's report, live engagement or export: the course's staff."""
    _authenticated(user)
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None:
        raise NotFoundError(_("Session not found."), code="session_not_found")
    try:
        access = access_insights_course(user=user, course_id=session.course_id)
    except NotFoundError as error:
        raise NotFoundError(_("Session not found."), code="session_not_found") from error
    return access, session


def access_insights_program(*, user: User, program_id: int) -> Program:
    return access_program(user=user, program_id=program_id)


def access_insights_all(*, user: User) -> None:
    """Platform-wide analytics (the xAPI feed's status, every course): superusers."""
    _authenticated(user)
    if not user.is_superuser:
        raise PermissionDeniedError(_("Only platform admins can see this."), code="role_forbidden")
