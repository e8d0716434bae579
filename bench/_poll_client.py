"""Load generator of bench/poll_storm.py: an instructor and learners per live
session, as WebSocket clients (the `websockets` library on asyncio) in the
benchmark process. No Django here: the plan gives ids and cookies.

Every connection counts the frames it receives (by type, and bytes) into its
room (one live session), so that a poll's frames are counted per poll even
when several sessions vote at the same time. Only what is measured is parsed:
acks and errors (to time the vote), the instructor's tallies (to find the
final one and check its counts); a learner's tally is recognised by a
substring test, not decoded.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

OPTIONS = ("a", "b", "c", "d")
WEIGHTS = (0.4, 0.3, 0.2, 0.1)
DEFINITION = {
    "options": [
        {"text": "Mitochondria"},
        {"text": "Ribosome"},
        {"text": "Nucleus"},
        {"text": "Golgi"},
    ]
}


def frame_type(text: str) -> str:
    """The `type` of a server frame without decoding it (it is always the first key)."""
    start = text.find('"type"', 0, 24)
    if start < 0:
        return "?"
    first = text.find('"', start + 6)
    last = text.find('"', first + 1)
    return text[first + 1 : last]


@dataclass
class Endpoint:
    base: str  # ws://host:port
    origin: str  # http://host:port


@dataclass
class Tally:
    at: float
    poll_id: int
    responses: int
    counts: dict[str, int]
    # Present learners who had not answered when the tally was read (the
    # staff tally of a named poll): a vote is in every tally without its voter.
    not_answered: frozenset = frozenset()


LOST = "lost"  # an answer waiter resolved by a dropped connection


@dataclass
class Conn:
    """One WebSocket of one user. Like the real client it reconnects when the
    server drops it (and re-sends an unanswered frame with the same id, which
    the server applies at most once)."""

    room: Room
    user_id: int
    cookie: str
    staff: bool
    endpoint: Endpoint
    ws: Any = None
    reader: asyncio.Task | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # open, snapshot received
    pending: dict[str, asyncio.Future] = field(default_factory=dict)
    failure: str = ""
    close_code: int | None = None
    closing: bool = False  # we close it: no reconnect
    drops: Counter = field(default_factory=Counter)  # server-side closes, by code
    attempts: int = 0  # handshakes tried
    opened: int = 0  # poll.opened frames received
    expect: str = ""  # substring of the final public tally of the running poll
    final_public_at: float | None = None
    staff_tallies: list[Tally] = field(default_factory=list)  # instructor only

    @property
    def is_open(self) -> bool:
        return self.ready.is_set()

    async def read(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        room = self.room
        try:
            async for text in ws:
                now = time.monotonic()
                kind = frame_type(text)
                room.counts[kind] += 1
                room.bytes += len(text)
                room.last_frame_at = now
                if kind == "ack" or kind == "error":
                    frame = json.loads(text)
                    waiter = self.pending.pop(frame.get("id") or "", None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result((now, frame))
                elif kind == "poll.tally_changed":
                    if '"audience":"public"' in text:
                        room.counts["poll.tally_changed/public"] += 1
                        if self.expect and self.final_public_at is None and self.expect in text:
                            self.final_public_at = now
                    else:
                        room.counts["poll.tally_changed/staff"] += 1
                        if self.staff:
                            data = json.loads(text)["data"]
                            counts = (data.get("distribution") or {}).get("counts") or {}
                            self.staff_tallies.append(
                                Tally(
                                    now,
                                    data["poll_id"],
                                    data["responses"],
                                    counts,
                                    frozenset(data.get("not_answered") or ()),
                                )
                            )
                elif kind == "poll.opened":
                    self.opened += 1
                elif kind == "snapshot":
                    self.ready.set()
        except ConnectionClosed:
            pass
        except Exception as error:  # a reader must never take the run down
            self.failure = self.failure or f"reader: {error!r}"[:200]
        finally:
            self.ready.clear()
            self.close_code = ws.close_code
            for waiter in self.pending.values():
                if not waiter.done():
                    waiter.set_result((time.monotonic(), LOST))
            self.pending.clear()
            if not self.closing:
                self.drops[str(ws.close_code)] += 1
                asyncio.get_running_loop().create_task(self.reconnect())

    async def reconnect(self) -> None:
        for attempt in range(5):
            if self.closing:
                return
            await asyncio.sleep(0.2 * (attempt + 1))
            if await self.open(30.0):
                return

    async def open(self, timeout: float, retries: int = 0) -> bool:
        """Connect and wait for the snapshot; on a failed handshake try again
        `retries` times (a class arriving at once can meet Daphne's 5 s
        handshake limit on a loaded machine; a browser retries too)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        url = f"{self.endpoint.base}/ws/live/{self.room.sid}/"
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(0.5 * attempt)
            self.attempts += 1
            try:
                ws = await connect(
                    url,
                    origin=self.endpoint.origin,
                    additional_headers={"Cookie": self.cookie},
                    compression=None,
                    proxy=None,
                    open_timeout=timeout,
                    ping_interval=None,
                    close_timeout=2,
                    max_queue=4096,
                    max_size=16 * 1024 * 1024,
                )
            except InvalidStatus as error:
                self.failure = f"HTTP {error.response.status_code}"
                continue
            except Exception as error:
                self.failure = f"connect: {type(error).__name__}: {error}"[:200]
                continue
            self.ws = ws
            self.close_code = None
            self.reader = asyncio.create_task(self.read(ws))
            try:
                await asyncio.wait_for(self.ready.wait(), timeout)
            except TimeoutError:
                self.failure = f"no snapshot (closed {ws.close_code})"
                continue
            self.failure = ""
            return True
        return False

    async def request(self, kind: str, data: dict, frame_id: str, timeout: float):
        """Send a client frame and wait for its answer; if the connection drops
        first, wait for the reconnection and send the same frame again.
        Returns (first sent, answered or None, answer frame or None, attempts)."""
        deadline = time.monotonic() + timeout
        first_sent = None
        for attempt in range(1, 6):
            try:
                await asyncio.wait_for(self.ready.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            waiter = asyncio.get_running_loop().create_future()
            self.pending[frame_id] = waiter
            sent = time.monotonic()
            first_sent = first_sent or sent
            try:
                await self.ws.send(json.dumps({"type": kind, "id": frame_id, "data": data}))
                answered, frame = await asyncio.wait_for(
                    waiter, max(0.01, deadline - time.monotonic())
                )
            except TimeoutError:
                self.pending.pop(frame_id, None)
                break
            except Exception:  # closed while sending: the reader reconnects
                self.pending.pop(frame_id, None)
                await asyncio.sleep(0.05)
                continue
            if frame is LOST:
                continue
            return first_sent, answered, frame, attempt
        return first_sent or time.monotonic(), None, None, 0


@dataclass
class Room:
    """One live session: its instructor, its learners, its frame counters."""

    sid: int
    counts: Counter = field(default_factory=Counter)
    bytes: int = 0
    last_frame_at: float = 0.0
    instructor: Conn | None = None
    learners: list[Conn] = field(default_factory=list)

    def conns(self) -> list[Conn]:
        return [self.instructor, *self.learners]


class Load:
    """The rooms of one scale point against one target (its Daphne processes).
    The instructor connects to the first process, learners round-robin across
    all of them (as a load balancer would spread a class)."""

    def __init__(self, plan: list[dict], endpoints: list[Endpoint], seed: int) -> None:
        self.rooms: list[Room] = []
        self.random = random.Random(seed)
        for session in plan:
            room = Room(session["id"])
            room.instructor = Conn(
                room,
                session["instructor"]["id"],
                session["instructor"]["cookie"],
                True,
                endpoints[0],
            )
            room.learners = [
                Conn(
                    room,
                    learner["id"],
                    learner["cookie"],
                    False,
                    endpoints[(i + 1) % len(endpoints)],
                )
                for i, learner in enumerate(session["learners"])
            ]
            self.rooms.append(room)

    def conns(self) -> list[Conn]:
        return [conn for room in self.rooms for conn in room.conns()]

    async def connect(self, concurrency: int, timeout: float) -> dict:
        """Every room: the instructor first, then the class at once (at most
        `concurrency` handshakes in flight). Until every snapshot arrived."""
        semaphore = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def one(conn: Conn) -> bool:
            async with semaphore:
                return await conn.open(timeout, retries=3)

        await asyncio.gather(*(one(room.instructor) for room in self.rooms))
        await asyncio.gather(*(one(conn) for room in self.rooms for conn in room.learners))
        conns = self.conns()
        return {
            "attempted": len(conns),
            "connected": sum(1 for c in conns if c.is_open),
            "failures": Counter(c.failure for c in conns if c.failure),
            "handshakes": sum(c.attempts for c in conns),
            "seconds": time.monotonic() - started,
        }

    async def quiet(self, silence: float, limit: float) -> float:
        """Until no room received a frame for `silence` seconds (at most `limit`)."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            last = max((room.last_frame_at for room in self.rooms), default=0.0)
            if time.monotonic() - last >= silence:
                break
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def close(self) -> None:
        async def close(conn: Conn) -> None:
            conn.closing = True
            if conn.ws is not None:
                try:
                    await asyncio.wait_for(conn.ws.close(), 5)
                except Exception as error:  # closing is best effort; the server notices anyway
                    conn.failure = conn.failure or f"close: {error!r}"[:200]
            if conn.reader is not None:
                conn.reader.cancel()

        await asyncio.gather(*(close(conn) for conn in self.conns()))

    def status(self) -> dict:
        conns = self.conns()
        drops: Counter = Counter()
        for conn in conns:
            drops.update(conn.drops)
        return {
            "open": sum(1 for c in conns if c.is_open),
            "dropped": dict(drops),  # closed by the server (then reconnected)
            "failures": Counter(c.failure for c in conns if c.failure),
        }

    def drops(self) -> int:
        return sum(sum(conn.drops.values()) for conn in self.conns())

    # --- One poll in every room at once --------------------------------------------

    async def poll(
        self, *, tag: str, live: bool, spread: float, ack_timeout: float, tally_timeout: float
    ) -> list[dict]:
        """The instructors open a poll; once every learner sees it, all learners
        of all rooms vote within `spread` seconds (evenly spread, random order),
        each waiting for its ack. Then wait for the instructor's tally showing
        every vote, the learners' final public tallies (live results) and
        silence. Returns one result per room."""
        rooms = self.rooms
        drops_before = [sum(sum(c.drops.values()) for c in room.conns()) for room in rooms]
        marks = [(Counter(room.counts), room.bytes) for room in rooms]
        opened_marks = [[c.opened for c in room.learners] for room in rooms]
        for room in rooms:
            room.instructor.staff_tallies = []
            for conn in room.learners:
                conn.expect, conn.final_public_at = "", None
        settings_ = {"show_live_results": live, "allow_change": True}

        async def open_poll(room: Room) -> dict:
            sent, answered, frame, _attempts = await room.instructor.request(
                "poll.open",
                {
                    "kind": "single",
                    "prompt": "Which organelle makes ATP?",
                    "definition": DEFINITION,
                    "settings": settings_,
                },
                f"open-{tag}",
                30.0,
            )
            if frame is None or frame["type"] != "ack":
                raise RuntimeError(f"poll.open in session {room.sid} failed: {frame}")
            return {"poll_id": frame["data"]["poll_id"], "open_ack_ms": (answered - sent) * 1000}

        opens = await asyncio.gather(*(open_poll(room) for room in rooms))

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(
                c.opened > mark or not c.is_open
                for room, marks_ in zip(rooms, opened_marks, strict=True)
                for c, mark in zip(room.learners, marks_, strict=True)
            ):
                break
            await asyncio.sleep(0.02)
        not_opened = {
            room.sid: sum(
                1 for c, mark in zip(room.learners, marks_, strict=True) if c.opened <= mark
            )
            for room, marks_ in zip(rooms, opened_marks, strict=True)
        }

        # Who votes when and for what: decided before the clock starts.
        jobs = []
        voter_counts: dict[int, int] = {}
        for room, opened in zip(rooms, opens, strict=True):
            voters = [c for c in room.learners if c.ws is not None]  # connected at least once
            voter_counts[room.sid] = len(voters)
            self.random.shuffle(voters)
            for rank, conn in enumerate(voters):
                offset = spread * (rank + self.random.random()) / len(voters)
                choice = self.random.choices(OPTIONS, WEIGHTS)[0]
                jobs.append((room, conn, opened["poll_id"], offset, choice))
            if live:
                expect = f'"poll_id":{opened["poll_id"]},"responses":{len(voters)},'
                for conn in voters:
                    conn.expect = expect
        votes: dict[int, list[dict]] = {room.sid: [] for room in rooms}

        async def vote(room: Room, conn: Conn, poll_id: int, offset: float, choice: str) -> None:
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent, answered, frame, attempts = await conn.request(
                "poll.vote",
                {"poll_id": poll_id, "answer": {"option": choice}},
                f"vote-{tag}",
                ack_timeout,
            )
            votes[room.sid].append(
                {
                    "user_id": conn.user_id,
                    "choice": choice,
                    "sent": sent,
                    "answered": answered,
                    "attempts": attempts,
                    "duplicate": bool(frame and frame.get("duplicate")),
                    "type": frame["type"] if frame else "timeout",
                    "code": ((frame or {}).get("data") or {}).get("code") if frame else None,
                }
            )

        start = time.monotonic() + 0.05
        await asyncio.gather(*(vote(*job) for job in jobs))
        voting_done = time.monotonic()

        # The instructor's final tally, every learner's final public tally.
        async def final(room: Room, poll_id: int, expected: int) -> float | None:
            deadline = time.monotonic() + tally_timeout
            while time.monotonic() < deadline:
                for tally in room.instructor.staff_tallies:
                    if tally.poll_id == poll_id and tally.responses == expected:
                        return tally.at
                await asyncio.sleep(0.01)
            return None

        finals = await asyncio.gather(
            *(
                final(room, opened["poll_id"], voter_counts[room.sid])
                for room, opened in zip(rooms, opens, strict=True)
            )
        )
        if live:
            deadline = time.monotonic() + tally_timeout
            while time.monotonic() < deadline:
                if all(
                    c.final_public_at is not None or not c.expect for r in rooms for c in r.learners
                ):
                    break
                await asyncio.sleep(0.02)
        await self.quiet(1.5, 60.0)

        results = []
        for room, opened, (counts_before, bytes_before), final_at, dropped in zip(
            rooms, opens, marks, finals, drops_before, strict=True
        ):
            mine = votes[room.sid]
            acked = [v for v in mine if v["type"] == "ack"]
            last_ack = max((v["answered"] for v in acked), default=None)
            frames = Counter(room.counts)
            frames.subtract(counts_before)
            frames = +frames
            staff_final = None
            for tally in room.instructor.staff_tallies:
                if tally.poll_id == opened["poll_id"] and tally.at == final_at:
                    staff_final = tally
            last_staff = [
                t for t in room.instructor.staff_tallies if t.poll_id == opened["poll_id"]
            ]
            learner_finals = [c.final_public_at for c in room.learners if c.expect]
            results.append(
                {
                    "sid": room.sid,
                    "poll_id": opened["poll_id"],
                    "open_ack_ms": opened["open_ack_ms"],
                    "learners": len(room.learners),
                    "voters": voter_counts[room.sid],
                    "not_opened": not_opened[room.sid],
                    "votes": mine,
                    "acked": len(acked),
                    "answers": Counter(v["code"] or v["type"] for v in mine if v["type"] != "ack"),
                    "first_sent": min((v["sent"] for v in mine), default=None),
                    "last_ack": last_ack,
                    "voting_done": voting_done,
                    "final_staff_at": final_at,
                    "final_counts": staff_final.counts if staff_final else None,
                    "last_staff_tally": (last_staff[-1].responses, last_staff[-1].counts)
                    if last_staff
                    else None,
                    "staff_tallies_to_instructor": len(last_staff),
                    "learners_with_final": sum(1 for t in learner_finals if t is not None),
                    "learners_expected_final": len(learner_finals),
                    "last_learner_final_at": max(learner_finals)
                    if learner_finals and all(t is not None for t in learner_finals)
                    else None,
                    "frames": dict(frames),
                    "bytes": room.bytes - bytes_before,
                    "client_frames": 1 + sum(max(1, v["attempts"]) for v in mine),
                    "resent": sum(1 for v in mine if v["attempts"] > 1),
                    "dropped": sum(sum(c.drops.values()) for c in room.conns()) - dropped,
                }
            )
        return results
