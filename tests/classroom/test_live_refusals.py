"""What the live socket refuses (issue 11): a poll once the session is over,
and an upvote of one's own question (anonymous included)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from classroom.models import LiveSession, Poll, Question, QuestionUpvote, SessionState
from classroom.services import sessions
from config.asgi import application
from courses.models import Role
from tests.factories import EnrollmentFactory
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]

NEW_POLL = {
    "kind": "single",
    "prompt": "Ready for the quiz?",
    "definition": {"options": [{"id": "y", "text": "Yes"}, {"id": "n", "text": "No"}]},
}


@pytest.fixture
def live(course, instructor, live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(
        state=SessionState.LIVE, anonymous_questions_allowed=True
    )
    people = {
        name: EnrollmentFactory(course=course, role=Role.LEARNER, user__username=name).user
        for name in ("ann", "bob")
    }
    return {"session": live_session, "instructor": instructor, **people}


async def join(live, who: str) -> tuple[Client, dict]:
    client = await Client.connect(application, f"/ws/live/{live['session'].pk}/", live[who])
    assert client.connected
    return client, await client.receive()


async def test_an_ended_session_refuses_new_polls_with_a_clear_error(live):
    teacher, _ = await join(live, "instructor")
    opened = await teacher.request("poll.open", NEW_POLL)
    assert opened["type"] == "ack"
    await database_sync_to_async(sessions.live_session_end)(
        session_id=live["session"].pk, actor=live["instructor"]
    )
    refused = await teacher.request("poll.open", NEW_POLL)
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "session_not_live"
    assert refused["data"]["message"] == "This session is over: no new polls can be created."
    assert await database_sync_to_async(Poll.objects.filter(session=live["session"]).count)() == 1
    await teacher.close()


async def test_nobody_upvotes_their_own_question_even_an_anonymous_one(live):
    ann, snapshot = await join(live, "ann")
    bob, _ = await join(live, "bob")
    asked = await ann.request("question.ask", {"body": "Is ATP a protein?", "anonymous": True})
    question_id = asked["data"]["question_id"]
    refused = await ann.request("question.upvote", {"question_id": question_id})
    assert refused["type"] == "error" and refused["data"]["code"] == "own_question"
    assert refused["data"]["message"] == "You cannot upvote your own question."
    assert (await bob.request("question.upvote", {"question_id": question_id}))["type"] == "ack"
    question = await database_sync_to_async(Question.objects.get)(pk=question_id)
    assert question.upvote_count == 1
    voters = await database_sync_to_async(
        lambda: list(QuestionUpvote.objects.values_list("user_id", flat=True))
    )()
    assert voters == [live["bob"].pk]
    # Her next snapshot tells only her that it is hers; Bob's does not.
    again, mine = await join(live, "ann")
    [seen] = mine["data"]["questions"]
    assert seen["asked_by_me"] is True and seen["author"] is None
    bob_again, theirs = await join(live, "bob")
    assert theirs["data"]["questions"][0]["asked_by_me"] is False
    for client in (ann, bob, again, bob_again):
        await client.close()
