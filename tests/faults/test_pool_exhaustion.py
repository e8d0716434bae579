"""Every connection of the process's pool in use: a request that cannot get
one within ROUNDTABLE_DB_POOL_TIMEOUT answers 503 `server_busy`, a socket
action a `server_busy` error frame, never a 500; once a connection is free
again the same process serves as before. The pool here holds one connection,
kept busy by a live action waiting for a session row this test has locked."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from tests.conftest import daphne_process, database_url
from tests.faults.conftest import http_get, live_classroom, ws_connect, ws_request, ws_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_exhausted_pool_answers_server_busy_not_500(postgresql):
    session, _teacher, (first, second) = live_classroom(2)
    env = {
        "ROUNDTABLE_DB_POOL_MIN": "1",
        "ROUNDTABLE_DB_POOL_MAX": "1",
        "ROUNDTABLE_DB_POOL_TIMEOUT": "1",
    }
    with daphne_process(env) as base:
        ws_url = base.replace("http://", "ws://") + f"/ws/live/{session.pk}/"

        async def scenario() -> dict:
            seen: dict = {}
            holder = await ws_connect(ws_url, first)
            other = await ws_connect(ws_url, second)
            for socket in (holder, other):
                assert (await ws_until(socket, lambda f: True))["type"] == "snapshot"
            with psycopg.connect(database_url()) as lock:
                # The session row, locked: the next live action waits for it
                # inside its transaction, holding the pool's only connection.
                lock.execute(
                    "SELECT id FROM classroom_livesession WHERE id = %s FOR UPDATE", [session.pk]
                )
                await holder.send(
                    json.dumps(
                        {
                            "type": "chat.send",
                            "id": "held",
                            "data": {"channel": "class", "body": "x"},
                        }
                    )
                )
                await asyncio.sleep(0.5)
                seen["api"] = await asyncio.to_thread(http_get, base + "/api/me/", first)
                seen["action"] = await ws_request(
                    other, "chat.send", "busy", {"channel": "class", "body": "y"}
                )
                lock.rollback()
            seen["held"] = await ws_until(holder, lambda f: f.get("id") == "held")
            seen["after"] = await asyncio.to_thread(http_get, base + "/api/me/", first)
            seen["retried"] = await ws_request(
                other, "chat.send", "busy", {"channel": "class", "body": "y"}
            )
            await holder.close()
            await other.close()
            return seen

        seen = asyncio.run(scenario())

    status, body, headers = seen["api"]
    assert status == 503, seen["api"]
    assert json.loads(body)["error"]["code"] == "server_busy"
    assert headers.get("Retry-After") == "2"
    assert seen["action"]["type"] == "error", seen["action"]
    assert seen["action"]["data"]["code"] == "server_busy"
    assert seen["held"]["type"] == "ack", seen["held"]
    assert seen["after"][0] == 200
    assert seen["retried"]["type"] == "ack" and not seen["retried"].get("duplicate")
