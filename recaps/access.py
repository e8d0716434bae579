"""Who may read or change a session's recap. Outsiders of the course get the
same 404 as for a session that does not exist; learners read a published
recap only (`recap_not_published`, 403, with a readable page); staff (TEACH)
read drafts, edit and publish."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from classroom.access import access_live_session
from classroom.models import LiveSession
from core.errors import NotFoundError, PermissionDeniedError
from courses.access import CourseAccess, CourseAction
from recaps.models import Recap
from recaps.selectors import recap_for_session


class RecapNotPublishedError(PermissionDeniedError):
    default_code = "recap_not_published"


@dataclass(frozen=True)
class RecapAccess:
    session: LiveSession
    recap: Recap | None
    course_access: CourseAccess

    @property
    def is_staff(self) -> bool:
        return self.course_access.is_staff


def access_recap(*, user, session_id: int, action=CourseAction.VIEW) -> RecapAccess:
    """The session's recap for this user. Staff get it even when there is
    none yet (`recap` None); learners only a published one."""
    session_access = access_live_session(user=user, session_id=session_id, action=action)
    recap = recap_for_session(session_id=session_access.session.pk)
    access = RecapAccess(
        session=session_access.session, recap=recap, course_access=session_access.course_access
    )
    if access.is_staff:
        return access
    if recap is None or not recap.is_published:
        raise RecapNotPublishedError(_("The recap of this session is not published yet."))
    return access


def access_recap_edit(*, user, session_id: int) -> RecapAccess:
    access = access_recap(user=user, session_id=session_id, action=CourseAction.TEACH)
    if access.recap is None:
        raise NotFoundError(_("This session has no recap yet."), code="recap_not_found")
    return access
