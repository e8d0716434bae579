from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from classroom.models import LiveSession, SessionState
from courses.models import Course, Role, User
from courses.selectors import course_list_for_user


def _is_past(session: LiveSession, now: datetime) -> bool:
    if session.state in (SessionState.ENDED, SessionState.CANCELLED):
        return True
    return session.state == SessionState.SCHEDULED and session.scheduled_end < now


def live_session_list(*, course: Course) -> QuerySet[LiveSession]:
    return LiveSession.objects.filter(course=course).order_by("scheduled_start", "id")


@dataclass
class CourseSessions:
    course: Course
    role: str | None
    upcoming: list[LiveSession] = field(default_factory=list)
    past: list[LiveSession] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""


def course_sessions_split(
    *, sessions: list[LiveSession], now: datetime | None = None, past_limit: int | None = None
) -> tuple[list[LiveSession], list[LiveSession]]:
    """(upcoming incl. live, soonest first; past, most recent first)."""
    now = now or timezone.now()
    upcoming = [s for s in sessions if not _is_past(s, now)]
    past = sorted(
        (s for s in sessions if _is_past(s, now)), key=lambda s: s.scheduled_start, reverse=True
    )
    return upcoming, past[:past_limit] if past_limit else past


def home_overview_get(
    *, user: User, now: datetime | None = None, past_limit: int = 5
) -> list[CourseSessions]:
    """The user's courses, each with its upcoming and recent past sessions.
    Two queries whatever the number of courses."""
    courses = list(course_list_for_user(user=user))
    sessions_by_course: dict[int, list[LiveSession]] = {course.pk: [] for course in courses}
    for session in LiveSession.objects.filter(course_id__in=sessions_by_course).order_by(
        "scheduled_start", "id"
    ):
        sessions_by_course[session.course_id].append(session)
    overview = []
    for course in courses:
        upcoming, past = course_sessions_split(
            sessions=sessions_by_course[course.pk], now=now, past_limit=past_limit
        )
        overview.append(
            CourseSessions(course=course, role=course.viewer_role, upcoming=upcoming, past=past)
        )
    return overview


def seat_map_get(*, course_id: int) -> list[dict]:
    """Every table of the course in order with its members (two queries)."""
    from classroom.models import Seat, Table

    tables = list(Table.objects.filter(course_id=course_id).order_by("position", "id"))
    members: dict[int, list[dict]] = {table.pk: [] for table in tables}
    seats = Seat.objects.filter(course_id=course_id).select_related("user").order_by("created_at", "id")
    for seat in seats:
        members[seat.table_id].append({"id": seat.user_id, "name": seat.user.name})
    return [
        {"id": table.pk, "name": table.name, "capacity": table.capacity, "members": members[table.pk]}
        for table in tables
    ]


def table_members_get(*, table_id: int) -> list[dict]:
    from classroom.models import Seat

    seats = Seat.objects.filter(table_id=table_id).select_related("user").order_by("created_at", "id")
    return [{"id": seat.user_id, "name": seat.user.name} for seat in seats]
