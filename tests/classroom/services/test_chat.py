"""classroom/services/chat.py: the query budget of posting (a hot path: every
message of every class goes through it). The behaviour of chat and Q&A is
tested in tests/classroom/test_live_services.py."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classroom.models import ChatMessage, Seat
from classroom.services import chat, sessions
from tests.factories import SeatFactory, TableFactory

pytestmark = pytest.mark.django_db

# Today's numbers (docs/performance.md, "Query budgets"): session lock, rate
# check, insert, the frame's sequence, the event, the participant marker.
CLASS_POST_QUERIES = 8
TABLE_POST_QUERIES = 9  # + the learner's own table


@pytest.fixture
def seated_live(live_session, instructor, learner, course):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    SeatFactory(table=TableFactory(course=course), user=learner)
    return live_session


def _post(session, user, channel="class", body="hi"):
    return chat.chat_send(
        session_id=session.pk, user=user, channel=channel, body=body, is_staff=False
    )


def test_a_class_message_costs_a_fixed_number_of_queries(
    seated_live, learner, django_assert_max_num_queries
):
    with django_assert_max_num_queries(CLASS_POST_QUERIES):
        message = _post(seated_live, learner)
    assert ChatMessage.objects.get().pk == message.pk


def test_a_table_message_costs_one_query_more(seated_live, learner, django_assert_max_num_queries):
    with django_assert_max_num_queries(TABLE_POST_QUERIES):
        message = _post(seated_live, learner, channel="table")
    assert message.table_id == Seat.objects.get(user=learner).table_id


def test_the_cost_does_not_grow_with_the_history(seated_live, learner, instructor):
    ChatMessage.objects.bulk_create(
        ChatMessage(session=seated_live, channel="class", author=instructor, body=f"m{i}")
        for i in range(30)
    )
    with CaptureQueriesContext(connection) as queries:
        _post(seated_live, learner)
    assert len(queries) <= CLASS_POST_QUERIES
