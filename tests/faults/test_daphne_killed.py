"""One of two Daphne processes killed (SIGKILL) in the middle of a busy live
session (docs/realtime.md, "How frames travel"; bench/storms.py measures the
same at class size).

Two Daphne processes share PostgreSQL and Redis, as behind a load balancer:
the instructor on the first, learners alternating. While the instructor posts
to the class every 50 ms and learners chat at their tables, the second process
is killed. Its learners reconnect to the first one (what the load balancer
does with a dead upstream) with their last `seq`, as the browser client does.
Checked: each of them catches up from the resync buffer (`resync.done`, not a
fresh snapshot), every sequenced frame of every stream each learner follows
arrived exactly once and in order (`prev` chains, `tests/faults/
test_redis_restart.Peer`), every learner ends at the session's head seq with
every chat message, and each message was stored once."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from classroom.models import ChatMessage, LiveSession, Seat
from classroom.payloads import STREAMS
from classroom.services import sessions
from courses.models import Role
from tests.conftest import daphne_process, require, require_redis
from tests.factories import EnrollmentFactory, SeatFactory, TableFactory
from tests.faults.test_redis_restart import Peer
from tests.slowclient import cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LEARNERS = 12
TABLE_SIZE = 3
# A generous bound for a loaded CI machine; bench/storms.py holds the 3 s target.
CATCH_UP_SECONDS = 15.0


def test_a_killed_process_s_learners_resume_on_the_other_without_a_lost_or_doubled_frame(
    course, instructor, live_session
):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL: needs one")
    require_redis()
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    learners = [EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(LEARNERS)]
    for index in range(0, LEARNERS, TABLE_SIZE):
        table = TableFactory(course=course)
        for user in learners[index : index + TABLE_SIZE]:
            SeatFactory(table=table, user=user)
    cookies = {user.pk: cookie_for(user) for user in [instructor, *learners]}
    path = f"/ws/live/{live_session.pk}/"
    started: list = []
    with daphne_process(started=started) as first, daphne_process(started=started) as second:
        ports = [int(url.rsplit(":", 1)[1]) for url in (first, second)]
        result = asyncio.run(_storm(ports, started[1], path, cookies, instructor, learners))

    heads = LiveSession.objects.get(pk=live_session.pk).stream_heads
    tables = dict(Seat.objects.filter(course=course).values_list("user_id", "table_id"))
    stored = list(ChatMessage.objects.filter(session=live_session).values_list("body", flat=True))
    assert len(stored) == len(set(stored)) == result["sent"]  # each acked message stored once
    class_ids = set(
        ChatMessage.objects.filter(session=live_session, channel="class").values_list(
            "id", flat=True
        )
    )
    for user, peer in zip(learners, result["peers"], strict=True):
        assert peer.violations == [], (peer.name, peer.violations)
        assert peer.pending == [], (peer.name, [f["seq"] for f in peer.pending])  # no gap left
        # At the head of every stream it follows (other tables' frames are not its).
        visible = {
            stream: seq
            for stream, seq in heads.items()
            if STREAMS.visible(stream, user_id=user.pk, table_id=tables[user.pk])
        }
        assert {s: peer.heads.get(s) for s in visible} == visible, peer.name
        assert class_ids <= peer.chat_ids, (peer.name, len(class_ids - peer.chat_ids))
    moved = result["moved"]
    assert len(moved) == LEARNERS // 2
    for peer in moved:
        after = [kind for at, kind in peer.resynced_at if at >= result["killed_at"]]
        # Caught up from the buffer: the frames it missed, not a fresh snapshot.
        assert after[:1] == ["resync.done"], (peer.name, after)
    waits = sorted(result["caught_up"])
    assert waits[-1] < CATCH_UP_SECONDS, waits
    print(f"kill → caught up: {[round(w, 2) for w in waits]} s; {result['sent']} messages")


async def _storm(ports, victim, path, cookies, instructor, learners) -> dict:
    teacher = Peer("instructor", ports[0], path, cookies[instructor.pk])
    peers = [
        Peer(f"learner{n}", ports[n % 2], path, cookies[user.pk]) for n, user in enumerate(learners)
    ]
    await teacher.open()
    await asyncio.gather(*(peer.open() for peer in peers))
    deadline = time.monotonic() + 30
    while not all(p.resynced_at for p in [teacher, *peers]):  # every snapshot in
        assert time.monotonic() < deadline, "not every socket got its snapshot"
        await asyncio.sleep(0.05)

    sent = 0
    stop = asyncio.Event()

    async def lecture() -> None:
        nonlocal sent
        n = 0
        while not stop.is_set():
            n += 1
            reply = await teacher.request(
                "chat.send", {"channel": "class", "body": f"slide {n}"}, f"slide-{n}"
            )
            assert reply["type"] == "ack", reply
            sent += 1
            await asyncio.sleep(0.05)

    async def tables(peer: Peer, offset: int) -> None:
        nonlocal sent
        n = 0
        await asyncio.sleep(offset * 0.03)
        while not stop.is_set():
            n += 1
            reply = await peer.request(
                "chat.send", {"channel": "table", "body": f"{peer.name} idea {n}"}, f"idea-{n}"
            )
            if reply["type"] == "ack":
                sent += 1
            await asyncio.sleep(0.4)

    busy = [asyncio.ensure_future(lecture())] + [
        asyncio.ensure_future(tables(peer, n)) for n, peer in enumerate(peers[:4])
    ]
    await asyncio.sleep(1.5)
    moved = [peer for peer in peers if peer.port == ports[1]]
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    for peer in moved:
        peer.port = ports[0]  # the load balancer's next upstream
    deadline = killed_at + CATCH_UP_SECONDS + 5
    caught_up: dict[str, float] = {}
    while len(caught_up) < len(moved) and time.monotonic() < deadline:
        for peer in moved:
            after = [at for at, _kind in peer.resynced_at if at >= killed_at]
            if after and peer.name not in caught_up:
                caught_up[peer.name] = after[0] - killed_at
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # busy on the surviving process
    stop.set()
    await asyncio.gather(*busy)
    await asyncio.sleep(1.0)  # the last frames arrive
    # A frame committed by the killed process just before the kill was never
    # published: its table mates see a gap and, like the browser, ask for a
    # resync after the hold time (the buffer's hole makes it a snapshot).
    settle = time.monotonic() + 10
    while any(peer.pending for peer in peers) and time.monotonic() < settle:
        await asyncio.sleep(0.1)
    for peer in [teacher, *peers]:
        await peer.close()
    return {
        "peers": peers,
        "moved": moved,
        "killed_at": killed_at,
        "caught_up": list(caught_up.values()) or [float("inf")],
        "sent": sent,
    }
