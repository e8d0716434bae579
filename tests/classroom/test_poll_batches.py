"""Live votes through the sockets, applied in batches (group commit,
docs/polls.md "How votes are applied"): many sockets vote at once and each
gets its own ack (or its own error); a frame id sent twice at once is applied
once; a close while a batch is in flight waits for it, and every vote is
either stored and acked or refused, never both."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction

from classroom import consumers
from classroom.models import ClientAction, LiveSession, Participant, PollResponse, SessionState
from config.asgi import application
from courses.models import Enrollment, Role, User
from tests.conftest import require
from tests.utils import Client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.timeout(120),
]

VOTERS = 24
OPTIONS = {"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}]}


@pytest.fixture
def crowd(course, instructor, live_session):
    require(connection.vendor == "postgresql", "batches are a PostgreSQL path")
    learners = User.objects.bulk_create(
        [User(username=f"voter{n:02d}", display_name=f"Voter {n:02d}") for n in range(VOTERS)]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, user=user, role=Role.LEARNER) for user in learners]
    )
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return live_session, instructor, learners


async def _connect(session, user, name: str) -> Client:
    client = await Client.connect(application, f"/ws/live/{session.pk}/", user, name=name)
    assert client.connected
    first = await client.receive()
    assert first["type"] == "snapshot", first
    return client


async def _open(teacher: Client) -> int:
    opened = await teacher.request(
        "poll.open", {"kind": "single", "prompt": "Pick one", "definition": OPTIONS}
    )
    assert opened["type"] == "ack", opened
    return opened["data"]["poll_id"]


async def test_many_sockets_vote_at_once_and_each_gets_its_own_ack(crowd):
    session, instructor, learners = crowd
    teacher = await _connect(session, instructor, "teacher")
    clients = [await _connect(session, user, user.username) for user in learners]
    # A second socket of the first learner (another tab, or a reconnect whose
    # old socket is not gone yet) resends the same frame at the same moment.
    twin = await _connect(session, learners[0], "twin")
    poll_id = await _open(teacher)
    consumers.VOTES.batch_sizes.clear()

    answers = ["abc"[n % 3] for n in range(VOTERS)]
    answers[5] = "zzz"  # not an option: only this vote fails
    replies = await asyncio.gather(
        *[
            client.request(
                "poll.vote", {"poll_id": poll_id, "answer": {"option": answer}}, f"vote-{n}"
            )
            for n, (client, answer) in enumerate(zip(clients, answers, strict=True))
        ],
        twin.request("poll.vote", {"poll_id": poll_id, "answer": {"option": "a"}}, "vote-0"),
    )
    assert max(consumers.VOTES.batch_sizes) > 1, list(consumers.VOTES.batch_sizes)
    for n, reply in enumerate(replies[:VOTERS]):
        if n == 5:
            assert reply["type"] == "error" and reply["data"]["code"] == "invalid_answer", reply
            continue
        assert reply["type"] == "ack", reply
        assert reply["data"] == {
            "poll_id": poll_id,
            "answer": {"option": answers[n]},
            "changed": True,
        } or (n == 0 and reply.get("duplicate")), reply
    # The same frame id from two sockets: applied once, the other a duplicate
    # with the same result.
    first, second = replies[0], replies[VOTERS]
    assert first["data"] == second["data"]
    assert [bool(first.get("duplicate")), bool(second.get("duplicate"))].count(True) == 1

    def stored():
        rows = dict(PollResponse.objects.filter(poll_id=poll_id).values_list("user_id", "answer"))
        claims = ClientAction.objects.filter(session=session, client_id__startswith="vote-")
        return rows, claims.count()

    rows, claims = await database_sync_to_async(stored)()
    expected = {
        u.pk: {"option": a}
        for n, (u, a) in enumerate(zip(learners, answers, strict=True))
        if n != 5
    }
    assert rows == expected
    assert claims == VOTERS - 1
    # The instructor's last tally equals the database.
    frame, _ = await teacher.receive_until(
        lambda f: f["type"] == "poll.tally_changed" and f["data"]["responses"] == len(expected),
        timeout=5.0,
    )
    counts = frame["data"]["distribution"]["counts"]
    assert {k: v for k, v in counts.items() if v} == {
        option: sum(1 for a in expected.values() if a["option"] == option) for option in "abc"
    }
    for client in (teacher, twin, *clients):
        await client.close()


async def test_a_close_while_a_batch_is_in_flight_waits_for_it(crowd):
    """A batch is held at its participant rows (locked here by another
    transaction) after it took the poll's share lock; the close waits for it.
    Once released, the batch commits and its votes are acked and counted by
    the close; every later vote is acked and stored, or refused, never both."""
    session, instructor, learners = crowd
    teacher = await _connect(session, instructor, "teacher")
    clients = [await _connect(session, user, user.username) for user in learners[:10]]
    poll_id = await _open(teacher)
    for client in (teacher, *clients):
        await client.drain(0.1)

    locked, release = threading.Event(), threading.Event()

    def hold_participants() -> None:
        try:
            with transaction.atomic():
                list(Participant.objects.select_for_update().filter(session=session))
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_participants)
    holder.start()
    assert await asyncio.to_thread(locked.wait, 10)
    votes = [
        asyncio.ensure_future(
            client.request("poll.vote", {"poll_id": poll_id, "answer": {"option": "a"}})
        )
        for client in clients
    ]
    await asyncio.sleep(0.5)  # the first batch is in flight, blocked; the rest queue
    assert not any(vote.done() for vote in votes)
    close = asyncio.ensure_future(teacher.request("poll.close", {"poll_id": poll_id}))
    await asyncio.sleep(0.5)
    assert not close.done()  # waits for the batch in flight
    release.set()
    await asyncio.to_thread(holder.join, 20)
    replies = await asyncio.gather(*votes)
    closed = await close
    assert closed["type"] == "ack", closed
    assert replies[0]["type"] == "ack", replies[0]  # it was in flight
    codes = [r["type"] if r["type"] == "ack" else r["data"]["code"] for r in replies]
    assert set(codes) <= {"ack", "poll_closed"}, codes
    acked = {learners[n].pk for n, code in enumerate(codes) if code == "ack"}
    stored = await database_sync_to_async(
        lambda: set(PollResponse.objects.filter(poll_id=poll_id).values_list("user_id", flat=True))
    )()
    assert stored == acked
    frame, _ = await teacher.receive_until(lambda f: f["type"] == "poll.closed")
    assert frame["data"]["responses"] == len(stored)
    late = await clients[0].request("poll.vote", {"poll_id": poll_id, "answer": {"option": "b"}})
    assert late["type"] == "error" and late["data"]["code"] == "poll_closed"
    for client in (teacher, *clients):
        await client.close()
