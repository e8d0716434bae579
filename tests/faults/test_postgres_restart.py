"""PostgreSQL restarted under a running Daphne process (a private cluster,
`pg_ctl stop -m immediate`, then start): while it is down every request
answers 503 `server_busy` (API, pages, /healthz), socket actions get a
`server_busy` error frame and a new socket is closed with 4503 after one;
nothing is half-written (chat frames sent while it is killed are acked or
answered `server_busy`, and once retried each is stored once with its
claim); once PostgreSQL is back the same process serves
again within seconds, without a restart, and the retried frames apply once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from tests.conftest import daphne_process
from tests.faults.conftest import (
    ROOT,
    django_env,
    http_get,
    wait_for,
    ws_connect,
    ws_request,
    ws_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SEED = """
import json, django
django.setup()
from tests.faults.conftest import live_classroom
session, teacher, learners = live_classroom(2)
print(json.dumps({"session": session.pk, "learners": learners}))
"""
RECOVERY_SECONDS = 10


def _chat(body: str) -> dict:
    return {"channel": "class", "body": body}


def test_a_postgresql_restart_answers_server_busy_and_the_process_recovers(private_postgresql):
    cluster = private_postgresql
    seed = subprocess.run(
        [sys.executable, "-c", SEED],
        cwd=ROOT, env=django_env(cluster.url), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert seed.returncode == 0, seed.stderr
    data = json.loads(seed.stdout.strip().splitlines()[-1])
    learner, other = data["learners"]
    extra = {"DATABASE_URL": cluster.url, "PGAPPNAME": f"restart-{uuid.uuid4().hex[:8]}"}
    with daphne_process(extra) as base:
        ws_url = base.replace("http://", "ws://") + f"/ws/live/{data['session']}/"
        down_ids = [f"down-{n}" for n in range(3)]
        flight_ids = [f"flight-{n}" for n in range(5)]  # chat allows 5 per 5 s

        async def scenario() -> dict:
            seen: dict = {}
            socket = await ws_connect(ws_url, learner)
            assert (await ws_until(socket, lambda f: True))["type"] == "snapshot"
            before = await ws_request(socket, "chat.send", "before", _chat("before"))
            assert before["type"] == "ack", before
            flying = await ws_connect(ws_url, other)
            assert (await ws_until(flying, lambda f: True))["type"] == "snapshot"

            async def fly() -> dict:
                """Chat frames sent every 30 ms while PostgreSQL is killed:
                some land before, some in the middle of their transaction."""
                for frame_id in flight_ids:
                    await flying.send(
                        json.dumps({"type": "chat.send", "id": frame_id, "data": _chat(frame_id)})
                    )
                    await asyncio.sleep(0.03)
                replies = {}
                while len(replies) < len(flight_ids):
                    frame = await ws_until(flying, lambda f: f.get("id") in flight_ids)
                    replies[frame["id"]] = frame
                return replies

            flight = asyncio.create_task(fly())
            await asyncio.sleep(0.05)  # the first frames are applied before the kill
            await asyncio.to_thread(cluster.stop, "immediate")
            seen["flight"] = await flight
            get = asyncio.to_thread
            seen["api"] = await get(http_get, base + "/api/me/", learner)
            seen["page"] = await get(http_get, base + "/", learner)
            seen["healthz"] = await get(http_get, base + "/healthz")
            seen["burst"] = await asyncio.gather(
                *[get(http_get, base + "/api/me/", learner) for _ in range(10)]
            )
            seen["actions"] = [
                await ws_request(socket, "chat.send", frame_id, _chat(frame_id))
                for frame_id in down_ids
            ]
            fresh = await ws_connect(ws_url, other)
            seen["fresh"] = await ws_until(fresh, lambda f: True)
            await fresh.wait_closed()
            seen["fresh_close"] = fresh.close_code

            await asyncio.to_thread(cluster.start)
            started = time.monotonic()
            seen["recovered_in"] = await asyncio.to_thread(
                wait_for, lambda: http_get(base + "/healthz")[0] == 200, RECOVERY_SECONDS
            )
            seen["after"] = await asyncio.gather(
                *[get(http_get, base + "/api/me/", learner) for _ in range(10)]
            )
            # The frames refused while it was down, sent again: applied now, once.
            seen["retried"] = [
                await ws_request(socket, "chat.send", frame_id, _chat(frame_id))
                for frame_id in down_ids
            ]
            # Every frame of the flight sent again, acked or not: each applies
            # once (an acked one, or one whose commit landed before its
            # connection died, replays its first answer).
            seen["flight_retried"] = {
                frame_id: await ws_request(flying, "chat.send", frame_id, _chat(frame_id))
                for frame_id in flight_ids
            }
            await flying.close()
            again = await ws_connect(ws_url, other)
            seen["again"] = await ws_until(again, lambda f: True)
            seen["back_in"] = time.monotonic() - started
            await again.close()
            await socket.close()
            return seen

        seen = asyncio.run(scenario())
        print(
            f"restart: healthz 200 again {seen['recovered_in']} s after PostgreSQL started; "
            f"all checks done {seen['back_in']:.1f} s after; in flight at the kill: "
            f"{[r['type'] if r['type'] == 'ack' else r['data']['code'] for r in seen['flight'].values()]}"
        )

    def busy_api(answer) -> bool:
        status, body, headers = answer
        return (
            status == 503
            and json.loads(body)["error"]["code"] == "server_busy"
            and headers.get("Retry-After") == "2"
        )

    assert busy_api(seen["api"]), seen["api"]
    assert all(busy_api(answer) for answer in seen["burst"]), seen["burst"]
    status, body, headers = seen["page"]
    assert status == 503 and headers["Content-Type"].startswith("text/html"), seen["page"]
    assert b"Try again" in body
    status, body, _ = seen["healthz"]
    assert status == 503 and "database" in json.loads(body)["failing"], seen["healthz"]
    for reply in seen["actions"]:
        assert reply["type"] == "error" and reply["data"]["code"] == "server_busy", reply
    assert seen["fresh"]["type"] == "error", seen["fresh"]
    assert seen["fresh"]["data"]["code"] == "server_busy"
    assert seen["fresh_close"] == 4503

    assert seen["recovered_in"] is not None, f"/healthz not 200 within {RECOVERY_SECONDS} s"
    assert [answer[0] for answer in seen["after"]] == [200] * 10
    for reply in seen["retried"]:
        assert reply["type"] == "ack" and not reply.get("duplicate"), reply
    # In flight when PostgreSQL died: acked, or a server_busy the client retries.
    for reply in seen["flight"].values():
        assert reply["type"] == "ack" or reply["data"]["code"] == "server_busy", reply
    for frame_id, reply in seen["flight_retried"].items():
        assert reply["type"] == "ack", reply
        if seen["flight"][frame_id]["type"] == "ack":
            assert reply.get("duplicate"), reply  # the first answer, replayed
    assert seen["again"]["type"] == "snapshot", seen["again"]

    with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as conn:
        bodies = [
            row[0]
            for row in conn.execute(
                "SELECT body FROM classroom_chatmessage WHERE session_id = %s ORDER BY id",
                [data["session"]],
            )
        ]
        client_ids = sorted(
            row[0]
            for row in conn.execute(
                "SELECT client_id FROM classroom_clientaction WHERE session_id = %s",
                [data["session"]],
            )
        )
    # Nothing half-written: each message once, each with its claim, nothing else.
    assert sorted(bodies) == sorted(["before", *down_ids, *flight_ids]), bodies
    assert client_ids == sorted(["before", *down_ids, *flight_ids])
