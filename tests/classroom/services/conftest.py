"""Fixtures shared by the live classroom's service tests: a live session and
three learners seated at two tables."""

from __future__ import annotations

import pytest

from classroom.models import LiveSession
from classroom.services import sessions
from courses.models import Role
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory


@pytest.fixture
def tables(course):
    return TableFactory(course=course, name="A"), TableFactory(course=course, name="B")


@pytest.fixture
def seated(course, tables, learner):
    """learner at A, mate at A, other at B."""
    a, b = tables
    mate = EnrollmentFactory(course=course, role=Role.LEARNER).user
    other = EnrollmentFactory(course=course, role=Role.LEARNER).user
    for user, table in ((learner, a), (mate, a), (other, b)):
        SeatFactory(table=table, user=user)
    return {"learner": learner, "mate": mate, "other": other, "a": a, "b": b}


@pytest.fixture
def live(live_session, instructor):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    return LiveSession.objects.get(pk=live_session.pk)
