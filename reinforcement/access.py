"""Who may see or act on reinforcement's objects. Views and APIs obtain plans
and course-level reinforcement only through these functions."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from classroom.access import access_live_session
from core.errors import NotFoundError
from courses.access import CourseAccess, CourseAction, access_course
from reinforcement.models import FollowUpPlan
from reinforcement.selectors import plan_for_session


@dataclass(frozen=True)
class PlanAccess:
    plan: FollowUpPlan
    course_access: CourseAccess


def access_followup_plan(*, user, session_id: int, action=CourseAction.TEACH) -> PlanAccess:
    """A session's follow-up plan, for the course's staff (TEACH) only.
    Outsiders get the same 404 as for a session that does not exist."""
    session_access = access_live_session(user=user, session_id=session_id, action=action)
    plan = plan_for_session(session_id=session_access.session.pk)
    if plan is None:
        raise NotFoundError(_("This session has no follow-up plan (yet)."), code="plan_not_found")
    return PlanAccess(plan=plan, course_access=session_access.course_access)


def access_course_reinforcement(*, user, course_id: int, action=CourseAction.VIEW) -> CourseAccess:
    """The course, for reinforcement: learners review (PARTICIPATE), staff
    read statistics (TEACH), instructors change settings (MANAGE)."""
    return access_course(user=user, course_id=course_id, action=action)
