"""Sockets that connect while the fan-out hub re-establishes its Redis
pub/sub connection (a Redis blip): each must get its `snapshot` first, and
then every frame once, in order (core/fanout.py, docs/realtime.md)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from classroom.models import LiveSession, SessionState
from config.asgi import application
from core import fanout, kv
from courses.models import Role
from tests.conftest import require_redis
from tests.factories import EnrollmentFactory
from tests.utils import Client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.timeout(120),
]

SOCKETS = 30
ROUNDS = 2


@pytest.fixture
def crowd(course, instructor, live_session):
    require_redis()
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    learners = [EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(SOCKETS)]
    return live_session, instructor, learners


async def _kill_hub_connection() -> None:
    """Cut this process's hub off Redis, as a blip would; nobody else's
    connection (other tests share this Redis) is touched."""
    name = fanout.hub().client_name
    client = kv.async_client()
    killed = 0
    for entry in await client.client_list(_type="pubsub"):
        if entry.get("name") == name:
            killed += await client.client_kill_filter(_id=entry["id"])
    assert killed == 1


def _seqs_after_first(frames: list[dict]) -> list[int]:
    return [f["seq"] for f in frames[1:] if f.get("seq") and f["type"] != "snapshot"]


async def test_sockets_connecting_during_a_resubscribe_get_their_snapshot_first(crowd):
    session, instructor, learners = crowd
    path = f"/ws/live/{session.pk}/"
    teacher = await Client.connect(application, path, instructor, name="teacher")
    assert (await teacher.receive())["type"] == "snapshot"
    out_of_order: list[tuple[int, list[str]]] = []  # the snapshot was not first
    doubled: list[tuple] = []  # then a frame twice, out of order, or missing
    for round_ in range(ROUNDS):
        # Frames in the resync buffer: a resync from 0 would replay them.
        for index in range(3):
            reply = await teacher.request("announcement.send", {"body": f"r{round_} a{index}"})
            assert reply["type"] == "ack"
        await _kill_hub_connection()
        clients = await asyncio.gather(
            *(
                Client.connect(application, path, user, name=f"l{i}")
                for i, user in enumerate(learners)
            )
        )
        # Everyone is connected and resubscribed: a frame now reaches all.
        await asyncio.sleep(fanout.RECONNECT_DELAY + 0.5)
        reply = await teacher.request("announcement.send", {"body": f"r{round_} after"})
        head = await database_sync_to_async(lambda: LiveSession.objects.get(pk=session.pk).seq)()
        for index, client in enumerate(clients):
            assert client.connected
            frames = await client.drain(0.3)
            while not any((f.get("seq") or 0) >= head for f in frames):
                frames.append(await client.receive(timeout=5))
            types = [f["type"] for f in frames]
            if types[0] != "snapshot":
                out_of_order.append((index, types[:6]))
                continue
            # After the snapshot: every later frame (all are on the `all`
            # stream here) once, in order, none it covers; no second snapshot.
            seqs = _seqs_after_first(frames)
            if seqs != list(range(frames[0]["seq"] + 1, head + 1)) or "snapshot" in types[1:]:
                doubled.append((index, frames[0]["seq"], seqs, types[:8]))
        for client in clients:
            await client.close()
    print(
        f"snapshot not first: {len(out_of_order)} of {SOCKETS * ROUNDS}; "
        f"a frame doubled, missing or out of order after it: {len(doubled)}"
    )
    assert out_of_order == [] and doubled == [], (out_of_order[:3], doubled[:3])
    await teacher.close()
