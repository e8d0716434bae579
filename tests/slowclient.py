"""The slow-client scenario against a real Daphne, shared by the live and the
playback socket tests: one client stops reading while it keeps asking for
snapshots (a few hundred kB each), another reads normally and asks as often."""

from __future__ import annotations

import json
import re
import tempfile
import time

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from core.fanout import CLOSE_TOO_SLOW, SLOW_CLIENT_MAX_BYTES
from tests.conftest import daphne_process
from tests.rawws import RawSocket

REQUESTS = 40
CLOSED = re.compile(r"closing a slow client \((\d+) bytes waiting\)")


def cookie_for(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def run(path: str, slow_user, normal_user) -> dict:
    """Returns what was observed: the buffered bytes the server reported when
    it closed the slow socket, how that socket ended, the snapshot size and
    how many snapshots the normal client got."""
    from websockets.sync.client import connect

    with tempfile.TemporaryFile(mode="w+") as log, daphne_process(log=log) as url:
        port = int(url.rsplit(":", 1)[1])
        with connect(
            f"ws://127.0.0.1:{port}{path}",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": cookie_for(normal_user)},
            max_size=2**24,
        ) as normal:
            observed = _exchange(normal, port, path, slow_user, log)
    return observed


def _exchange(normal, port: int, path: str, slow_user, log) -> dict:
    snapshot = json.loads(normal.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    snapshot_bytes = len(json.dumps(snapshot).encode())
    slow = RawSocket(port, path, cookie_for(slow_user))
    # The slow client asks for everything at once and never reads.
    for index in range(REQUESTS):
        slow.send_json({"type": "resync", "id": f"s{index}", "data": {}})
    # The normal one asks as often, one answer at a time, reading all.
    snapshots = 0
    for index in range(REQUESTS):
        normal.send(json.dumps({"type": "resync", "id": f"n{index}", "data": {}}))
        while True:
            frame = json.loads(normal.recv(timeout=20))
            if frame["type"] == "snapshot":
                snapshots += 1
                break
    deadline = time.monotonic() + 30
    reported = None
    while reported is None and time.monotonic() < deadline:
        log.seek(0)
        found = CLOSED.findall(log.read())
        reported = [int(n) for n in found] if found else None
        time.sleep(0.2)
    # Now read: the server ended the connection (after the close frame,
    # or by dropping it once the close handshake timed out).
    read, code = slow.read_to_end(timeout=15)
    slow.close()
    normal.send(json.dumps({"type": "ping", "id": "p", "data": {"seq": 0, "t": 0}}))
    while (pong := json.loads(normal.recv(timeout=10)))["type"] != "pong":
        pass
    return {
        "reported": reported,
        "read": read,
        "code": code,
        "snapshot_bytes": snapshot_bytes,
        "snapshots": snapshots,
        "pong": pong,
    }


def check(observed: dict) -> None:
    assert observed["reported"], "the slow client was never closed"
    assert len(observed["reported"]) == 1, observed["reported"]  # one socket, closed once
    # Closed as soon as the bound was passed: at most the bound plus the
    # write that crossed it (one snapshot).
    assert SLOW_CLIENT_MAX_BYTES < observed["reported"][0]
    assert observed["reported"][0] <= SLOW_CLIENT_MAX_BYTES + observed["snapshot_bytes"] + 4096
    # It did not get all it asked for: what it could read is far less.
    assert observed["read"] < REQUESTS * observed["snapshot_bytes"] / 2
    assert observed["code"] in (CLOSE_TOO_SLOW, None)
    # The normal client, as busy, was never closed.
    assert observed["snapshots"] == REQUESTS
    assert observed["pong"]["type"] == "pong"
