"""Redis high availability: Daphne configured with Sentinel (REDIS_SENTINELS,
REDIS_SENTINEL_MASTER) serves a live session; the primary is SIGKILLed; once
the sentinels promote the replica, the session goes on: the fan-out hub
resubscribes and resyncs every socket, new frames flow, and an action is
acknowledged and stored."""

from __future__ import annotations

import asyncio
import time

import pytest

from classroom.models import ChatMessage, LiveSession, SessionState
from tests.conftest import daphne_process, require
from tests.faults.live import LiveClient
from tests.faults.redis_ha import RedisHA, sentinel_available
from tests.media.participant import session_cookie

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(150),
]


def _chat(body: str):
    return lambda f: f["type"] == "chat.posted" and f.get("data", {}).get("body") == body


def test_live_session_survives_a_redis_primary_failover(
    tmp_path, live_session, instructor, learner
):
    require(
        sentinel_available(),
        "redis-server / redis-sentinel missing (apt-get install redis-sentinel)",
    )
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    cookies = {"teacher": session_cookie(instructor), "learner": session_cookie(learner)}
    ha = RedisHA(tmp_path).start()
    try:
        with daphne_process(ha.env()) as url:

            async def scenario() -> dict:
                teacher = await LiveClient.connect(url, live_session.pk, cookies["teacher"])
                student = await LiveClient.connect(url, live_session.pk, cookies["learner"])
                try:
                    await teacher.wait_for(lambda f: f["type"] == "snapshot", 10)
                    await student.wait_for(lambda f: f["type"] == "snapshot", 10)
                    before = await student.request(
                        "chat.send", {"channel": "class", "body": "before"}, "c-before"
                    )
                    assert before["type"] == "ack", before
                    await teacher.wait_for(_chat("before"), 10)

                    killed = time.monotonic()
                    ha.kill_primary()
                    while ha.master_port() != ha.replica_port:
                        assert time.monotonic() - killed < 30, "no promotion within 30 s"
                        await asyncio.sleep(0.1)
                    promoted = time.monotonic()
                    # The hub resubscribed to the new primary and resynced the sockets.
                    resynced = await teacher.wait_for(
                        lambda f: (
                            f["type"] in ("resync.done", "snapshot")
                            and f is not teacher.frames[0][1]
                        ),
                        30,
                    )
                    after = await student.request(
                        "chat.send", {"channel": "class", "body": "after"}, "c-after", timeout=15
                    )
                    acked = time.monotonic()
                    seen = await teacher.wait_for(_chat("after"), 15)
                    return {
                        "after": after,
                        "failover_s": promoted - killed,
                        "resync_s": resynced - killed,
                        "ack_s": acked - killed,
                        "frame_s": seen - killed,
                        "student_errors": student.seen("error"),
                    }
                finally:
                    await teacher.close()
                    await student.close()

            result = asyncio.run(scenario())
            role = ha.client(ha.replica_port).info("replication")["role"]
    finally:
        ha.stop()
        print(ha.logs())
    print(
        "failover {failover_s:.1f} s, sockets resynced {resync_s:.1f} s, action acked "
        "{ack_s:.1f} s, its frame delivered {frame_s:.1f} s after the kill".format(**result)
    )
    assert result["after"]["type"] == "ack", result["after"]
    assert result["student_errors"] == []
    stored = ChatMessage.objects.filter(session=live_session).order_by("id")
    assert [m.body for m in stored] == ["before", "after"]
    assert role == "master"  # the replica was promoted, and that is where we wrote
