"""Closing a poll while votes arrive, on PostgreSQL: every acknowledged vote is
stored, a late vote is a clear `poll_closed`, nothing is a `server_error`
(a deadlock), and the close is acknowledged (docs/polls.md, "Correctness
under load")."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from classroom.models import LiveSession, Poll, PollResponse, SessionState
from classroom.services import polls, sessions
from classroom.services.common import action_apply
from config.asgi import application
from core.errors import ApplicationError
from courses.models import Enrollment, Role, User
from tests.conftest import require
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300), pytest.mark.timing]

VOTERS = 40
ROUNDS = int(os.environ.get("POLL_RACE_ROUNDS", "3"))


@pytest.fixture
def crowd(course, instructor, live_session):
    require(connection.vendor == "postgresql", "the lock order is a PostgreSQL matter")
    learners = User.objects.bulk_create(
        [User(username=f"racer{n:02d}", display_name=f"Racer {n:02d}") for n in range(VOTERS)]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, user=user, role=Role.LEARNER) for user in learners]
    )
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return live_session, instructor, learners


def _open(session, instructor) -> Poll:
    return polls.poll_open(
        session_id=session.pk,
        actor=instructor,
        kind="single",
        prompt="Pick one",
        definition={"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}]},
    )


def _vote_result(session_id: int, user, poll_id: int, option: str) -> dict:
    """What the consumer's poll.vote handler returns (classroom/consumers.py)."""
    response, changed = polls.poll_vote_cast(
        session_id=session_id, user=user, poll_id=poll_id, answer={"option": option}
    )
    return {"poll_id": poll_id, "changed": changed}


def _outcome(call) -> tuple[str, object]:
    try:
        return "ack", call()
    except ApplicationError as error:
        return error.code, str(error)
    except Exception as error:  # what the consumer turns into server_error
        return "server_error", repr(error)
    finally:
        connection.close()


def _check_round(poll: Poll, votes: dict[int, tuple[str, object]], close) -> list[str]:
    """What went wrong in one round (nothing, when the promise holds)."""
    problems = []
    if close[0] != "ack":
        problems.append(f"close: {close}")
    problems += [
        f"vote: {outcome}" for outcome in votes.values() if outcome[0] not in ("ack", "poll_closed")
    ]
    acked = {user_id for user_id, (code, _unused) in votes.items() if code == "ack"}
    stored = set(PollResponse.objects.filter(poll=poll).values_list("user_id", flat=True))
    if stored != acked:
        problems.append(f"acked {len(acked)} votes, stored {len(stored)}")
    late = sum(1 for code, _unused in votes.values() if code == "poll_closed")
    print(f"round: {len(acked)} acked, {late} poll_closed, close {close[0]}")  # noqa: T201
    poll.refresh_from_db()
    if poll.state != "closed":
        problems.append("the poll is still open")
    return problems


def _assert_rounds(problems: list[list[str]]) -> None:
    failed = [p for p in problems if p]
    assert not failed, f"{len(failed)} of {len(problems)} rounds failed: {failed[:3]}"


def _race_round(session, instructor, learners, round_: int) -> list[str]:
    poll = _open(session, instructor)
    start = threading.Barrier(len(learners) + 1)
    votes: dict[int, tuple[str, object]] = {}
    closed: list = []

    def vote(index: int, user) -> None:
        start.wait()
        time.sleep(random.uniform(0, 0.1))
        votes[user.pk] = _outcome(
            lambda: action_apply(
                session_id=session.pk,
                user=user,
                client_id=f"r{round_}-v{index}",
                service=lambda: _vote_result(session.pk, user, poll.pk, "abc"[index % 3]),
            )[1]
        )

    def close() -> None:
        start.wait()
        time.sleep(random.uniform(0, 0.06))
        closed.append(
            _outcome(
                lambda: action_apply(
                    session_id=session.pk,
                    user=instructor,
                    client_id=f"r{round_}-close",
                    service=lambda: (
                        polls.poll_close(
                            session_id=session.pk, actor=instructor, poll_id=poll.pk
                        ).pk
                    ),
                )[1]
            )
        )

    threads = [threading.Thread(target=vote, args=(i, u)) for i, u in enumerate(learners)]
    threads.append(threading.Thread(target=close))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(votes) == len(learners) and len(closed) == 1
    return _check_round(poll, votes, closed[0])


def test_close_racing_forty_votes_through_the_service_path(crowd):
    """Forty threads vote through action_apply (as the consumer does) while a
    forty-first closes the poll, in several rounds."""
    session, instructor, learners = crowd
    for user in learners:
        sessions.attendance_join(session_id=session.pk, user=user, connection=f"c{user.pk}")
    _assert_rounds([_race_round(session, instructor, learners, round_) for round_ in range(ROUNDS)])


@pytest.mark.asyncio
async def test_close_racing_forty_votes_on_the_socket(crowd):
    """The path a user takes: forty learner sockets vote while the
    instructor's socket closes the poll."""
    session, instructor, learners = crowd
    path = f"/ws/live/{session.pk}/"
    teacher = await Client.connect(application, path, instructor, name="teacher")
    await teacher.receive()
    clients = []
    for user in learners:
        client = await Client.connect(application, path, user, name=user.username)
        assert client.connected
        await client.receive()
        clients.append(client)
    problems = []
    for round_ in range(ROUNDS):
        opened = await teacher.request(
            "poll.open",
            {
                "kind": "single",
                "prompt": f"Round {round_}",
                "definition": {"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}]},
            },
        )
        assert opened["type"] == "ack", opened
        poll_id = opened["data"]["poll_id"]

        async def vote(index: int, client: Client, poll_id: int = poll_id) -> tuple[str, object]:
            await asyncio.sleep(random.uniform(0, 0.1))
            reply = await client.request(
                "poll.vote", {"poll_id": poll_id, "answer": {"option": "abc"[index % 3]}}
            )
            if reply["type"] == "ack":
                return "ack", reply["data"]
            return reply["data"]["code"], reply["data"]

        async def close(poll_id: int = poll_id) -> tuple[str, object]:
            await asyncio.sleep(random.uniform(0, 0.06))
            reply = await teacher.request("poll.close", {"poll_id": poll_id})
            return ("ack" if reply["type"] == "ack" else reply["data"]["code"]), reply["data"]

        outcomes = await asyncio.gather(
            close(), *[vote(i, client) for i, client in enumerate(clients)]
        )
        votes = {user.pk: outcome for user, outcome in zip(learners, outcomes[1:], strict=True)}
        poll = await database_sync_to_async(Poll.objects.get)(pk=poll_id)
        problems.append(await database_sync_to_async(_check_round)(poll, votes, outcomes[0]))
        for client in (teacher, *clients):
            await client.drain(0.05)
    for client in (teacher, *clients):
        await client.close()
    _assert_rounds(problems)
