"""classroom/services/polls.py: the query budget of a vote (`poll_vote_cast`,
the hot path of a poll storm). Poll behaviour is tested in
tests/classroom/test_polls.py, which joins this file once its question-bank
tests have moved to the questions app."""

from __future__ import annotations

import pytest

from classroom.models import PollResponse
from classroom.services import polls, sessions
from tests.factories import SeatFactory, TableFactory

pytestmark = pytest.mark.django_db

CHOICES = {"options": [{"text": "A"}, {"text": "B"}], "correct": ["b"]}
# Today's numbers (docs/performance.md, "Query budgets").
FIRST_VOTE_QUERIES = 10
CHANGED_VOTE_QUERIES = 9
SAME_VOTE_QUERIES = 6


@pytest.fixture
def poll(live_session, instructor, learner, course):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    SeatFactory(table=TableFactory(course=course), user=learner)
    sessions.attendance_join(session_id=live_session.pk, user=learner, connection="c0")
    return polls.poll_open(
        session_id=live_session.pk, actor=instructor, kind="single", prompt="p", definition=CHOICES
    )


def _vote(poll, user, option):
    return polls.poll_vote_cast(
        session_id=poll.session_id, user=user, poll_id=poll.pk, answer={"option": option}
    )


def test_a_first_vote_stays_within_its_query_budget(poll, learner, django_assert_max_num_queries):
    with django_assert_max_num_queries(FIRST_VOTE_QUERIES):
        _response, changed = _vote(poll, learner, "a")
    assert changed is True
    assert PollResponse.objects.get(poll=poll).answer == {"option": "a"}


def test_a_changed_vote_costs_less_than_a_first_one(poll, learner, django_assert_max_num_queries):
    _vote(poll, learner, "a")
    with django_assert_max_num_queries(CHANGED_VOTE_QUERIES):
        _response, changed = _vote(poll, learner, "b")
    assert changed is True
    assert PollResponse.objects.get(poll=poll).answer == {"option": "b"}


def test_the_same_vote_again_writes_nothing(poll, learner, django_assert_max_num_queries):
    _vote(poll, learner, "b")
    with django_assert_max_num_queries(SAME_VOTE_QUERIES):
        _response, changed = _vote(poll, learner, "b")
    assert changed is False
    assert PollResponse.objects.get(poll=poll).change_count == 0
