"""Redis killed (SIGKILL) and restarted in the middle of a live session, with a
real Daphne and real clients (docs/realtime.md, "How frames travel").

The test runs its own `redis-server` on a free port (the shared one is never
touched) and a Daphne whose REDIS_URL points at it. Clients follow the
documented protocol: heads per stream from the snapshot, `prev` to detect a
gap, reconnect with `?seq=`, and retry an unanswered or failed action with the
same id. Checked: every socket is resynced after the restart with its
snapshot first, no frame is lost or doubled, and every chat message and vote
sent during the outage ends up acked and stored exactly once."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from classroom.models import ChatMessage, LiveSession, PollResponse, SessionState
from courses.models import Role
from tests.conftest import daphne_process, free_port, require
from tests.factories import EnrollmentFactory
from tests.slowclient import cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

LEARNERS = 4
RETRIABLE = {"server_error", "rate_limited"}


# The browser holds a frame whose predecessor is missing this long, then
# sends `resync` (static/core/room_connection.js, GAP_HOLD_MS).
GAP_HOLD_SECONDS = 1.5


class PrivateRedis:
    """A throwaway redis-server on its own port: no persistence, so a restart
    loses everything, as a crashed cache node would."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--save", "", "--appendonly", "no"]
            + ["--daemonize", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Peer:
    """A browser's socket: applies frames as docs/realtime.md says a client
    must, and records every way the server could break the protocol."""

    def __init__(self, name: str, port: int, path: str, cookie: str) -> None:
        self.name, self.port, self.path, self.cookie = name, port, path, cookie
        self.heads: dict[str, int] = {}
        self.pending: list[dict] = []  # frames whose predecessor has not arrived
        self.waiting: dict[str, asyncio.Future] = {}
        self.violations: list[str] = []
        self.chat_ids: set[int] = set()
        self.resynced_at: list[tuple[float, str]] = []  # (time, snapshot | resync.done)
        self.close_codes: list[int | None] = []
        self.connections = 0
        self.stopping = False
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.first_of_connection = True
        self.seq = 0  # the highest seq applied: what ?seq= and resyncs start from
        self.replies: list[tuple[float, str]] = []  # (time, "ack" or the error code)
        self.gap_timer: asyncio.TimerHandle | None = None
        self.gap_resyncs = 0  # resyncs asked for a gap, as static/core/room_connection.js does

    async def open(self) -> None:
        import websockets

        query = f"?seq={self.seq}" if self.connections else ""
        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.port}{self.path}{query}",
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": self.cookie},
            max_size=2**24,
            ping_interval=None,
        )
        self.connections += 1
        self.first_of_connection = True
        self.reader = asyncio.ensure_future(self._read(self.ws))

    async def _read(self, ws) -> None:
        import websockets

        try:
            async for raw in ws:
                self._on_frame(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)
        while not self.stopping:  # reconnect, as the client does
            await asyncio.sleep(0.3)
            try:
                await self.open()
                return
            except Exception as error:  # the server refused for now (4503): try again
                self.close_codes.append(getattr(error, "code", None))

    def _on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        if self.first_of_connection:
            self.first_of_connection = False
            # A new socket starts with its snapshot; a reconnect with ?seq=
            # may start with the missed frames instead.
            if kind != "snapshot" and not (
                self.connections > 1 and (frame.get("seq") or kind == "resync.done")
            ):
                self.violations.append(f"connection {self.connections} began with {kind}")
        if kind == "snapshot":
            data = frame["data"]
            if frame["seq"] < self.seq:
                self.violations.append(f"snapshot at {frame['seq']} after applying {self.seq}")
            self.seq = frame["seq"]
            self.heads = dict(data["heads"])
            self.pending = [f for f in self.pending if f["seq"] > self.heads.get(f["stream"], 0)]
            self.chat_ids |= {m["id"] for m in data["chat"]["messages"]}
            self.resynced_at.append((time.monotonic(), "snapshot"))
            self._apply_pending()
        elif frame.get("seq"):
            if frame["seq"] <= self.heads.get(frame["stream"], 0):
                self.violations.append(f"frame {frame['seq']} ({kind}) doubled")
                return
            self.pending.append(frame)
            self._apply_pending()
            if self.pending and self.gap_timer is None:
                self.gap_timer = asyncio.get_running_loop().call_later(
                    GAP_HOLD_SECONDS, self._gap_resync
                )
        elif kind == "resync.done":
            self.resynced_at.append((time.monotonic(), "resync.done"))
        elif kind in ("ack", "error"):
            self.replies.append(
                (time.monotonic(), "ack" if kind == "ack" else frame["data"]["code"])
            )
            waiting = self.waiting.pop(frame.get("id"), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(frame)

    def _gap_resync(self) -> None:
        """A frame's predecessor has not come within the hold time: ask for
        what was missed, as the browser does (`resync` from the last seq; the
        server answers the frames, or a snapshot if its buffer has a hole:
        a process killed between its commit and its publish)."""
        self.gap_timer = None
        if self.pending and self.ws is not None and not self.stopping:
            self.gap_resyncs += 1
            asyncio.ensure_future(self._send_quietly({"type": "resync", "data": {"seq": self.seq}}))

    async def _send_quietly(self, frame: dict) -> None:
        import websockets

        try:
            await self.ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            pass  # the reconnect resumes from self.seq anyway

    def _apply_pending(self) -> None:
        self._apply_ready()
        if not self.pending and self.gap_timer is not None:
            self.gap_timer.cancel()  # the gap closed by itself
            self.gap_timer = None

    def _apply_ready(self) -> None:
        progress = True
        while progress:
            progress = False
            for frame in sorted(self.pending, key=lambda f: f["seq"]):
                head = self.heads.get(frame["stream"], 0)
                if frame["seq"] <= head:
                    self.pending.remove(frame)
                elif frame["prev"] <= head:
                    self.pending.remove(frame)
                    self.heads[frame["stream"]] = frame["seq"]
                    self.seq = max(self.seq, frame["seq"])
                    if frame["type"] == "chat.posted":
                        self.chat_ids.add(frame["data"]["id"])
                    progress = True

    async def request(self, kind: str, data: dict, frame_id: str, timeout: float = 60) -> dict:
        """Send until acked: an unanswered frame, a closed socket or a
        retriable error means the same frame (same id) again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = asyncio.get_running_loop().create_future()
            self.waiting[frame_id] = answer
            try:
                await self.ws.send(json.dumps({"type": kind, "id": frame_id, "data": data}))
                reply = await asyncio.wait_for(answer, 5)
            except Exception:  # closed, or no answer: the client retries
                await asyncio.sleep(0.3)
                continue
            if reply["type"] == "ack":
                return reply
            if reply["data"]["code"] not in RETRIABLE:
                return reply
            await asyncio.sleep(0.3)
        raise AssertionError(f"{self.name}: {kind} {frame_id} never acknowledged")

    async def close(self) -> None:
        self.stopping = True
        await self.ws.close()
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 5)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(10)


def test_redis_restarted_mid_session_resyncs_every_socket_and_loses_nothing(
    course, instructor, live_session, private_redis
):
    from classroom.services import sessions

    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    assert LiveSession.objects.get(pk=live_session.pk).state == SessionState.LIVE
    learners = [EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(LEARNERS)]
    cookies = {user.pk: cookie_for(user) for user in [instructor, *learners]}
    path = f"/ws/live/{live_session.pk}/"
    env = {"REDIS_URL": private_redis.url}
    with tempfile.TemporaryFile(mode="w+") as log, daphne_process(env, log=log) as url:
        port = int(url.rsplit(":", 1)[1])
        result = asyncio.run(_session(port, path, cookies, instructor, learners, private_redis))
        log.seek(0)
        daphne_log = log.read()
    expected_bodies = [
        f"{phase} {u.pk}" for u in learners for phase in ("before", "outage", "after")
    ]
    stored = list(ChatMessage.objects.filter(session=live_session).values_list("body", flat=True))
    assert sorted(stored) == sorted(expected_bodies)  # each once: retries applied once
    voters = set(
        PollResponse.objects.filter(poll_id=result["poll_id"]).values_list("user_id", flat=True)
    )
    assert voters == {u.pk for u in learners}
    head = LiveSession.objects.get(pk=live_session.pk).seq
    all_ids = set(ChatMessage.objects.filter(session=live_session).values_list("id", flat=True))
    for peer in result["peers"]:
        assert peer.violations == [], (peer.name, peer.violations)
        assert peer.pending == [], (peer.name, [f["seq"] for f in peer.pending])  # no gap left
        assert peer.seq == head, (peer.name, peer.seq, head)
        assert all_ids <= peer.chat_ids, (peer.name, all_ids - peer.chat_ids)
        after = [kind for at, kind in peer.resynced_at if at >= result["restarted_at"]]
        assert after, f"{peer.name} was not resynced after the restart"
    assert "Redis pub/sub connection lost" in daphne_log  # the outage was seen
    # No consumer died of it (a crash closes the socket with 1011).
    assert "Exception inside application" not in daphne_log
    for peer in result["peers"]:
        assert 1011 not in peer.close_codes, (peer.name, peer.close_codes)
    print(
        f"outage {result['outage_s']:.1f} s; answers during it: {result['outage_answers']}; "
        f"resyncs after: {[(p.name, [k for a, k in p.resynced_at if a >= result['restarted_at']]) for p in result['peers']]}"
    )


async def _session(port, path, cookies, instructor, learners, redis_server) -> dict:
    teacher = Peer("teacher", port, path, cookies[instructor.pk])
    peers = [Peer(f"learner{u.pk}", port, path, cookies[u.pk]) for u in learners]
    everyone = [teacher, *peers]
    for peer in everyone:
        await peer.open()
    opened = await teacher.request(
        "poll.open",
        {
            "kind": "single",
            "prompt": "Which organelle makes ATP?",
            "definition": {"options": [{"text": "Nucleus"}, {"text": "Mitochondrion"}]},
            "settings": {"allow_change": True},
        },
        "open-1",
    )
    assert opened["type"] == "ack", opened
    poll_id = opened["data"]["poll_id"]
    for user, peer in zip(learners, peers, strict=True):
        reply = await peer.request(
            "chat.send", {"channel": "class", "body": f"before {user.pk}"}, f"b{user.pk}"
        )
        assert reply["type"] == "ack", reply
    await asyncio.sleep(0.5)

    redis_server.kill()
    killed_at = time.monotonic()

    # During the outage every learner chats and votes; the client keeps
    # retrying (same id) until the server acknowledges.
    async def act(user, peer) -> None:
        chat = asyncio.ensure_future(
            peer.request(
                "chat.send", {"channel": "class", "body": f"outage {user.pk}"}, f"o{user.pk}"
            )
        )
        vote = asyncio.ensure_future(
            peer.request(
                "poll.vote", {"poll_id": poll_id, "answer": {"option": "b"}}, f"v{user.pk}"
            )
        )
        for reply in await asyncio.gather(chat, vote):
            assert reply["type"] == "ack", reply

    actions = asyncio.ensure_future(
        asyncio.gather(*(act(u, p) for u, p in zip(learners, peers, strict=True)))
    )
    await asyncio.sleep(2.5)
    redis_server.start()
    restarted_at = time.monotonic()
    await asyncio.wait_for(actions, 90)

    # Every socket is resynced by the server, without asking.
    deadline = time.monotonic() + 20
    while any(not [a for a, _ in p.resynced_at if a >= restarted_at] for p in everyone):
        assert time.monotonic() < deadline, [(p.name, p.resynced_at) for p in everyone]
        await asyncio.sleep(0.2)
    for user, peer in zip(learners, peers, strict=True):
        reply = await peer.request(
            "chat.send", {"channel": "class", "body": f"after {user.pk}"}, f"a{user.pk}"
        )
        assert reply["type"] == "ack", reply
    await asyncio.sleep(1.5)  # the last frames reach everyone
    for peer in everyone:
        await peer.close()
    return {
        "peers": everyone,
        "poll_id": poll_id,
        "restarted_at": restarted_at,
        "outage_s": restarted_at - killed_at,
        # What the server answered while Redis was down: acks (stored in
        # PostgreSQL) or retriable errors.
        "outage_answers": sorted(
            {
                reply
                for peer in peers
                for at, reply in peer.replies
                if killed_at <= at < restarted_at
            }
        ),
    }
