"""classroom/selectors.py: what the live snapshot costs and shows. The
snapshot is read on every socket connect (and every resync), so its query
count is a bound that must not grow with the session's history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classroom.access import access_live_session
from classroom.models import ChatChannel
from classroom.selectors import session_snapshot_get, snapshot_shared_clear
from classroom.services import polls, sessions
from tests.factories import ChatMessageFactory, QuestionFactory, SeatFactory, TableFactory

pytestmark = pytest.mark.django_db

# Today's numbers (docs/performance.md, "Query budgets"). A learner's snapshot
# that builds the parts every learner shares (the first at a seq); the others
# read only their own part (tests/classroom/test_snapshot_shared.py).
LEARNER_SNAPSHOT_QUERIES = 17
STAFF_SNAPSHOT_QUERIES = 21


@pytest.fixture
def live(live_session, instructor, learner, course):
    """Live, the learner seated and present, a poll open and answered."""
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    SeatFactory(table=TableFactory(course=course), user=learner)
    sessions.attendance_join(session_id=live_session.pk, user=learner, connection="c0")
    poll = polls.poll_open(
        session_id=live_session.pk,
        actor=instructor,
        kind="single",
        prompt="p",
        definition={"options": [{"text": "A"}, {"text": "B"}]},
    )
    polls.poll_vote_cast(
        session_id=live_session.pk, user=learner, poll_id=poll.pk, answer={"option": "a"}
    )
    return live_session


def _queries(access) -> tuple[int, dict]:
    snapshot_shared_clear()
    with CaptureQueriesContext(connection) as queries:
        snapshot = session_snapshot_get(access=access)
    return len(queries), snapshot


@pytest.mark.parametrize(
    ("who", "bound"),
    [("learner", LEARNER_SNAPSHOT_QUERIES), ("instructor", STAFF_SNAPSHOT_QUERIES)],
)
def test_the_snapshot_stays_within_its_budget_whatever_the_history(
    live, request, who, bound, instructor, course
):
    user = request.getfixturevalue(who)
    access = access_live_session(user=user, session_id=live.pk)
    empty, _ = _queries(access)
    assert empty <= bound
    other_table = TableFactory(course=course)
    ChatMessageFactory.create_batch(12, session=live, author=instructor)
    ChatMessageFactory.create_batch(
        4, session=live, author=instructor, channel=ChatChannel.TABLE, table=other_table
    )
    QuestionFactory.create_batch(6, session=live)
    snapshot_shared_clear()  # the factories wrote without moving the session's seq
    busy, _ = _queries(access)
    assert busy == empty, "a query per message or question crept into the snapshot"


def test_a_learner_s_snapshot_leaves_out_other_tables_chat(live, learner, instructor, course):
    ChatMessageFactory(session=live, author=instructor, body="to everyone")
    ChatMessageFactory(
        session=live,
        author=instructor,
        channel=ChatChannel.TABLE,
        table=TableFactory(course=course),
        body="to another table",
    )
    _count, learners = _queries(access_live_session(user=learner, session_id=live.pk))
    _count, staff = _queries(access_live_session(user=instructor, session_id=live.pk))
    assert "to another table" not in str(learners) and "to everyone" in str(learners)
    assert "to another table" in str(staff)
