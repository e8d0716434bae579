"""Redis high availability: Daphne configured with Sentinel (REDIS_SENTINELS,
REDIS_SENTINEL_MASTER) serves a live session; the primary is SIGKILLed; once
the sentinels promote the replica, the session goes on: the fan-out hub
resubscribes and resyncs every socket, new frames flow, and an action is
acknowledged and stored. The other Redis users follow the same failover: a
Celery worker started before it runs a task queued after it (broker and
results through the sentinels), and the cache and core.kv write to the new
primary."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

import pytest

from analytics.models import LearningEvent
from classroom.models import ChatMessage, LiveSession, SessionState
from tests.conftest import ROOT, daphne_process, database_url, require
from tests.faults.live import LiveClient
from tests.faults.redis_ha import RedisHA, sentinel_available
from tests.faults.workers import Worker, worker_env
from tests.livemedia.participant import session_cookie

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(150),
]


# Run after the failover with the sentinel settings: the cache, core.kv and
# Celery (broker and result backend) of a fresh process.
OTHER_CLIENTS = """
import json, sys
import django
django.setup()
from django.core.cache import cache
from core import kv
from analytics.tasks import event_record_task
cache.set("faults:cache", "ok", 60)
assert cache.get("faults:cache") == "ok"
kv.sync_client().set("roundtable:faults:kv", "ok", ex=60)
print(event_record_task.apply_async(args=[json.loads(sys.argv[1])]).get(timeout=30))
"""


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
    env, _queue = worker_env(database_url(), ha.env()["REDIS_URL"], **ha.env())
    worker = None
    try:
        worker = Worker("sentinel", env, tmp_path)
        worker.wait_ready()
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
                        lambda f: f["type"] in ("resync.done", "snapshot"), 30, since=killed
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
            event_id = str(uuid.uuid4())
            payload = {
                "event_id": event_id,
                "actor_id": learner.pk,
                "course_id": live_session.course_id,
                "verb": "raised_hand",
                "object_type": "live_session",
                "object_id": str(live_session.pk),
                "mode": "live",
                "occurred_at": "2026-11-25T10:00:00+00:00",
                "source": "client",
            }
            other = subprocess.run(
                [sys.executable, "-c", OTHER_CLIENTS, json.dumps(payload)],
                cwd=ROOT,
                env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            new_primary = ha.client(ha.replica_port)
            kv_value = new_primary.get("roundtable:faults:kv")
            cache_keys = list(new_primary.scan_iter("roundtable:*faults:cache"))
    finally:
        if worker is not None:
            worker.stop()
            print(worker.log()[-3000:])
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
    assert other.returncode == 0, other.stderr[-3000:]
    assert other.stdout.strip().splitlines()[-1] == event_id
    assert LearningEvent.objects.filter(event_id=event_id).count() == 1
    # Run by the worker that was connected to the old primary before the failover.
    assert any(
        "analytics.event_record[" in line and "succeeded" in line
        for line in worker.log().splitlines()
    )
    assert kv_value == b"ok" and len(cache_keys) == 1
