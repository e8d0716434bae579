"""What a connected member of any room is: their course access and table."""

from __future__ import annotations

from courses.access import CourseAccess, CourseAction


class MemberAccess:
    """Mixin of the rooms' access dataclasses; they hold `course_access`
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
