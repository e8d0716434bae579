"""150 learners answer one poll within a second over real WebSocket connections
to Daphne: every answer is stored exactly once and the final tally the
instructor sees equals the stored responses."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from classroom.models import LiveSession, PollResponse, SessionState
from courses.models import Enrollment, Role, User
from tests.factories import CourseFactory, LiveSessionFactory
from tests.utils import page_origin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]
LEARNERS = int(os.environ.get("POLL_CONCURRENCY_LEARNERS", "150"))


def _cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


@pytest.fixture
def classroom():
    course = CourseFactory()
    instructor = User.objects.create(username="teacher")
    Enrollment.objects.create(course=course, user=instructor, role=Role.INSTRUCTOR)
    learners = User.objects.bulk_create([User(username=f"voter{n:03d}") for n in range(LEARNERS)])
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, user=u, role=Role.LEARNER) for u in learners]
    )
    session = LiveSessionFactory(course=course)
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE)
    return session, _cookie(instructor), [_cookie(u) for u in learners]


async def _connect(url: str, cookie: str):
    import websockets

    socket = await websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": page_origin(url)}, max_size=None
    )
    snapshot = json.loads(await socket.recv())
    assert snapshot["type"] == "snapshot"
    return socket


async def _until(socket, predicate, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if predicate(frame):
            return frame


def test_150_learners_answer_within_a_second(asgi_server, classroom):
    session, teacher_cookie, learner_cookies = classroom
    ws_url = asgi_server.replace("http://", "ws://") + f"/ws/live/{session.pk}/"

    async def scenario() -> tuple[dict, list[dict], float]:
        teacher = await _connect(ws_url, teacher_cookie)
        learners = []
        for start in range(0, len(learner_cookies), 25):  # connect in waves, as a class arrives
            learners += await asyncio.gather(
                *[_connect(ws_url, c) for c in learner_cookies[start : start + 25]]
            )
        await asyncio.sleep(1.5)  # attendance of everyone committed
        await teacher.send(
            json.dumps(
                {
                    "type": "poll.open",
                    "id": "open-1",
                    "data": {
                        "kind": "single",
                        "prompt": "Pick one",
                        "definition": {"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}]},
                    },
                }
            )
        )
        ack = await _until(teacher, lambda f: f.get("id") == "open-1")
        assert ack["type"] == "ack", ack
        poll_id = ack["data"]["poll_id"]

        async def vote(index: int, socket) -> dict:
            await asyncio.sleep((index % 50) / 50)  # spread over one second
            frame_id = f"vote-{index}"
            message = json.dumps(
                {
                    "type": "poll.vote",
                    "id": frame_id,
                    "data": {"poll_id": poll_id, "answer": {"option": "abc"[index % 3]}},
                }
            )
            await socket.send(message)
            await socket.send(message)  # a retried frame: must not be applied twice
            first = await _until(socket, lambda f: f.get("id") == frame_id)
            second = await _until(socket, lambda f: f.get("id") == frame_id)
            return {"first": first, "second": second}

        started = time.monotonic()
        replies = await asyncio.gather(*[vote(i, s) for i, s in enumerate(learners)])
        voting_seconds = time.monotonic() - started
        expected = len(learners)
        tally = await _until(
            teacher,
            lambda f: f["type"] == "poll.tally_changed" and f["data"]["responses"] == expected,
            timeout=10,
        )
        for socket in [teacher, *learners]:
            await socket.close()
        return tally, replies, voting_seconds

    tally, replies, voting_seconds = asyncio.run(scenario())
    assert all(r["first"]["type"] == "ack" for r in replies), [
        r for r in replies if r["first"]["type"] != "ack"
    ][:3]
    assert all(r["second"].get("duplicate") is True for r in replies)
    stored = PollResponse.objects.filter(poll__session=session)
    assert stored.count() == LEARNERS
    counts = {option: stored.filter(answer__option=option).count() for option in "abc"}
    assert tally["data"]["distribution"]["counts"] == counts
    assert sum(counts.values()) == LEARNERS
    assert voting_seconds < 10
