"""Who may see or act on a course, and in which role.

Every view, API and consumer obtains a course through `access_course`; it
fetches and checks in one step, or raises. A user outside the course gets
`not_found` (we do not confirm that a course exists to outsiders); a member
whose role is too weak gets `permission_denied`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from core.errors import NotAuthenticatedError, NotFoundError, PermissionDeniedError
from courses.models import STAFF_ROLES, Course, Enrollment, Program, Role, User


class CourseAction(StrEnum):
    VIEW = "view"  # read the course: every role, observers included
    PARTICIPATE = "participate"  # chat, vote, raise a hand: not observers
    TEACH = "teach"  # run sessions, see staff data: instructors and TAs
    MANAGE = "manage"  # roster, settings, deletion: instructors


_ALLOWED_ROLES: dict[CourseAction, frozenset[str]] = {
    CourseAction.VIEW: frozenset(Role.values),
    CourseAction.PARTICIPATE: frozenset({Role.INSTRUCTOR, Role.TA, Role.LEARNER}),
    CourseAction.TEACH: STAFF_ROLES,
    CourseAction.MANAGE: frozenset({Role.INSTRUCTOR}),
}


@dataclass(frozen=True)
class CourseAccess:
    """A course together with the viewer's standing in it."""

    course: Course
    user: User
    role: str | None  # None only for platform admins who are not enrolled

    @property
    def is_admin(self) -> bool:
        return bool(self.user.is_superuser)

    @property
    def is_staff(self) -> bool:
        return self.is_admin or self.role in STAFF_ROLES

    @property
    def is_learner(self) -> bool:
        return self.role == Role.LEARNER

    @property
    def is_observer(self) -> bool:
        return self.role == Role.OBSERVER and not self.is_admin

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""

    def may(self, action: CourseAction | str) -> bool:
        if self.is_admin:
            return True
        return self.role in _ALLOWED_ROLES[CourseAction(action)]

    def require_in_room(self, action: CourseAction | str) -> None:
        """`forbidden` unless the user may take `action` in a live session or
        playback room, with a message that says who may."""
        if self.may(action):
            return
        if self.is_observer:
            message = _("Observers can watch but not take part.")
        elif self.is_staff:  # a TA asking for an instructor's action
            message = _("Only the course's instructors can do this.")
        else:
            message = _("Only staff can do this.")
        raise PermissionDeniedError(message, code="forbidden")


def course_role_get(*, user: User, course: Course | int) -> str | None:
    """The user's active role in the course, or None."""
    if not user.is_authenticated:
        return None
    course_id = course.pk if isinstance(course, Course) else course
    return (
        Enrollment.objects.filter(user=user, course_id=course_id, is_active=True)
        .values_list("role", flat=True)
        .first()
    )


def course_role_subquery(user: User, course_ref: str = "course_id") -> Subquery:
    """`course_role_get` as an expression: annotate a row that points at a
    course (through `course_ref`) with the user's active role in it, so that
    a room's access reads the room, its course and the role in one query."""
    return Subquery(
        Enrollment.objects.filter(user=user, course_id=OuterRef(course_ref), is_active=True)
        .order_by("pk")
        .values("role")[:1]
    )


def access_course(
    *, user: User, course_id: int, action: CourseAction | str = CourseAction.VIEW
) -> CourseAccess:
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        raise NotFoundError(_("Course not found."), code="course_not_found")
    role = course_role_get(user=user, course=course)
    return course_access_check(user=user, course=course, role=role, action=action)


def course_access_check(
    *, user: User, course: Course, role: str | None, action: CourseAction | str = CourseAction.VIEW
) -> CourseAccess:
    """The checks of `access_course` on a course and role its caller has
    already read (`course_role_subquery`)."""
    if role is None and not user.is_superuser:
        raise NotFoundError(_("Course not found."), code="course_not_found")
    access = CourseAccess(course=course, user=user, role=role)
    if not access.may(action):
        raise PermissionDeniedError(
            _("Your role in this course does not allow this."), code="role_forbidden"
        )
    return access


class MemberAccess:
    """What a connected member of any realtime room is. Mixin of the rooms'
    access dataclasses (classroom.access.LiveAccess, playback.access.RecordingAccess); they hold `course_access`
    (the user's access to the course) and `table_id` (their table, if seated)."""

    course_access: CourseAccess
    table_id: int | None

    @property
    def user(self):
        return self.course_access.user

    @property
    def is_staff(self) -> bool:
        return self.course_access.is_staff

    @property
    def may_participate(self) -> bool:
        return self.course_access.may(CourseAction.PARTICIPATE)

    def require(self, action: CourseAction | str) -> None:
        self.course_access.require_in_room(action)


def access_program(*, user: User, program_id: int) -> Program:
    """A program its admins (and platform admins) may read; `not_found` to
    everyone else (we do not confirm that a program exists)."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    programs = Program.objects.filter(pk=program_id)
    if not user.is_superuser:
        programs = programs.filter(admins=user)
    program = programs.first()
    if program is None:
        raise NotFoundError(_("Program not found."), code="program_not_found")
    return program


def program_course_ids(*, user: User) -> set[int]:
    """The ids of the courses the user administers through a program."""
    if user is None or not user.is_authenticated:
        return set()
    return set(
        Program.courses.through.objects.filter(program__admins=user).values_list(
            "course_id", flat=True
        )
    )
