"""classroom/services/chat.py: chat and Q&A, every denial, the frames each
action emits, and the query budget of posting (a hot path: every message of
every class goes through it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import LearningEvent
from classroom.access import access_live_session
from classroom.models import ChatMessage, Question, Seat
from classroom.selectors import session_snapshot_get
from classroom.services import chat, sessions
from core.errors import ConflictError, PermissionDeniedError, RateLimitedError, ValidationError
from tests.classroom.services.helpers import frames, head
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


# --- Chat and Q&A ------------------------------------------------------------------------


def test_table_chat_goes_to_the_table_stream(live, seated, django_capture_on_commit_callbacks):
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="table",
            body=" hi A ",
            is_staff=False,
        )
    (frame,) = frames(live, start)
    assert frame["type"] == "chat.posted" and frame["stream"] == f"table.{seated['a'].pk}"
    assert frame["data"]["body"] == "hi A" and frame["data"]["table_id"] == seated["a"].pk
    assert LearningEvent.objects.get(verb="chatted").response == "hi A"


def test_learner_cannot_read_or_write_another_tables_chat(live, seated, instructor):
    with pytest.raises(PermissionDeniedError):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="table",
            body="x",
            is_staff=False,
            table_id=seated["b"].pk,
        )
    chat.chat_send(
        session_id=live.pk, user=seated["other"], channel="table", body="B secret", is_staff=False
    )
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["learner"], session_id=live.pk)
    )
    assert "B secret" not in [m["body"] for m in snapshot["chat"]["messages"]]
    staff_view = session_snapshot_get(
        access=access_live_session(user=instructor, session_id=live.pk)
    )
    assert "B secret" in [m["body"] for m in staff_view["chat"]["messages"]]


def test_staff_channel_is_staff_only(live, seated, ta):
    with pytest.raises(PermissionDeniedError):
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="staff", body="x", is_staff=False
        )
    chat.chat_send(
        session_id=live.pk, user=ta, channel="staff", body="tables 3 and 4 are quiet", is_staff=True
    )
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["learner"], session_id=live.pk)
    )
    assert all(m["channel"] != "staff" for m in snapshot["chat"]["messages"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "message_empty"),
        ("   ", "message_empty"),
        ("\u200b\u200b", "message_empty"),  # only invisible characters
        ("x" * 2001, "message_too_long"),
        (None, "message_empty"),
    ],
)
def test_bad_chat_bodies(live, seated, body, code):
    with pytest.raises(ValidationError) as error:
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="class", body=body, is_staff=False
        )
    assert error.value.code == code
    assert not ChatMessage.objects.exists()


def test_rate_limit_five_per_five_seconds_nothing_stored(live, seated):
    for index in range(5):
        chat.chat_send(
            session_id=live.pk,
            user=seated["learner"],
            channel="class",
            body=f"{index}",
            is_staff=False,
        )
    with pytest.raises(RateLimitedError):
        chat.chat_send(
            session_id=live.pk, user=seated["learner"], channel="class", body="6th", is_staff=False
        )
    assert ChatMessage.objects.count() == 5
    ChatMessage.objects.update(created_at=timezone.now() - timedelta(seconds=6))
    chat.chat_send(
        session_id=live.pk, user=seated["learner"], channel="class", body="later", is_staff=False
    )


def test_staff_delete_reaches_the_messages_stream(
    live, seated, instructor, django_capture_on_commit_callbacks
):
    message = chat.chat_send(
        session_id=live.pk, user=seated["learner"], channel="table", body="oops", is_staff=False
    )
    start = head(live)
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_delete(session_id=live.pk, actor=instructor, message_id=message.pk)
    (frame,) = frames(live, start)
    assert frame == {
        **frame,
        "type": "chat.deleted",
        "stream": f"table.{seated['a'].pk}",
        "data": {"id": message.pk, "channel": "table"},
    }
    snapshot = session_snapshot_get(
        access=access_live_session(user=seated["mate"], session_id=live.pk)
    )
    (shown,) = snapshot["chat"]["messages"]
    assert shown["deleted"] and shown["body"] == "" and shown["author"] is None


def test_questions_upvotes_answers_and_anonymity(
    live, seated, instructor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        question = chat.question_ask(
            session_id=live.pk, user=seated["learner"], body="Why ATP?", anonymous=True
        )
    assert frames(live)[-1]["data"]["author"] is None
    assert LearningEvent.objects.get(verb="asked").actor is None
    chat.question_upvote(session_id=live.pk, user=seated["mate"], question_id=question.pk)
    with pytest.raises(ConflictError):
        chat.question_upvote(session_id=live.pk, user=seated["mate"], question_id=question.pk)
    chat.question_answer(session_id=live.pk, actor=instructor, question_id=question.pk)
    question.refresh_from_db()
    assert question.upvote_count == 1 and question.answered_at is not None
    sessions.live_session_settings_update(
        session_id=live.pk, actor=instructor, anonymous_questions_allowed=False
    )
    with pytest.raises(PermissionDeniedError) as error:
        chat.question_ask(session_id=live.pk, user=seated["learner"], body="again", anonymous=True)
    assert error.value.code == "anonymous_disabled"
    assert Question.objects.count() == 1
