"""Load generator of bench/live_fanout.py: simulated learners and instructors.

Runs in a child process (multiprocessing, spawn). It owns whole sessions (the
instructor and every learner of a session live in the same process, so a
change's send time and its arrival times are read from the same clock,
`time.monotonic()`, which on Linux is also system-wide). The parent drives it
with commands over a pipe; every command answers with a dict of plain data.

Only the `websockets` client library and the standard library: no Django here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MODES = ("lecture", "table_talk")
REACTIONS = ("thumbs_up", "clap", "laugh", "confused", "slower", "faster", "thumbs_down")
NOT_DELIVERIES = frozenset({"ack", "error", "pong"})  # answers, not fan-out


def frame_type(text: str) -> str:
    """The `type` of a frame without parsing it: every server here writes it first."""
    start = text.find('"type"', 0, 24)
    if start < 0:
        return "?"
    first = text.find('"', start + 6)
    last = text.find('"', first + 1)
    return text[first + 1 : last]


@dataclass
class Conn:
    session_id: int
    user_id: int
    table_id: int | None
    cookie: str
    staff: bool
    ws: Any = None
    reader: asyncio.Task | None = None
    snapshot: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot_at: float = 0.0
    mode_arrivals: list[float] = field(default_factory=list)
    mode_is_table_talk: list[bool] = field(default_factory=list)
    pending: dict[str, asyncio.Future] = field(default_factory=dict)
    close_code: int | None = None
    close_reason: str = ""
    failure: str = ""
    sent: int = 0


class Sessions:
    """The connections of this process, grouped by session."""

    def __init__(self, plan: list[dict]) -> None:
        self.plan = plan
        self.instructors: dict[int, Conn] = {}
        self.learners: dict[int, list[Conn]] = {}
        for session in plan:
            sid = session["id"]
            self.instructors[sid] = Conn(
                sid, session["instructor"]["id"], None, session["instructor"]["cookie"], True
            )
            self.learners[sid] = [
                Conn(sid, learner["id"], learner["table_id"], learner["cookie"], False)
                for learner in session["learners"]
            ]
        self.frames: Counter[str] = Counter()  # frames received, by type
        self.errors: Counter[str] = Counter()  # error frames, by code
        self.delivered = 0  # fan-out frames received (not answers)
        self.prefix = f"{os.getpid()}-{random.randrange(1 << 30):x}"
        self.acks: list[tuple[float, asyncio.Future]] = []  # mode.set sends of this phase
        self.ids = 0

    def all(self) -> list[Conn]:
        conns = []
        for sid in self.instructors:
            conns.append(self.instructors[sid])
            conns.extend(self.learners[sid])
        return conns

    def next_id(self) -> str:
        self.ids += 1
        return f"{self.prefix}-{self.ids}"

    # --- Connections -----------------------------------------------------------

    async def read(self, conn: Conn) -> None:
        from websockets.exceptions import ConnectionClosed

        frames = self.frames
        try:
            async for text in conn.ws:
                now = time.monotonic()
                kind = frame_type(text)
                frames[kind] += 1
                if kind == "mode.changed":
                    conn.mode_arrivals.append(now)
                    conn.mode_is_table_talk.append("table_talk" in text)
                    self.delivered += 1
                elif kind in NOT_DELIVERIES:
                    if kind == "error":
                        frame = json.loads(text)
                        self.errors[(frame.get("data") or {}).get("code", "?")] += 1
                        waiter = conn.pending.pop(frame.get("id") or "", None)
                    elif kind == "ack":
                        waiter = conn.pending.pop(json.loads(text).get("id") or "", None)
                    else:
                        waiter = None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
                else:
                    self.delivered += 1
                    if kind == "snapshot" and not conn.snapshot.is_set():
                        conn.snapshot_at = now
                        conn.snapshot.set()
        except ConnectionClosed:
            pass
        except Exception as error:  # a reader must never take the process down
            conn.failure = conn.failure or f"reader: {error!r}"
        finally:
            conn.close_code = conn.ws.close_code
            conn.close_reason = conn.ws.close_reason or ""

    async def open(self, conn: Conn, base: str, origin: str, bare: bool, timeout: float) -> float:
        """Connect and wait for the snapshot. Returns seconds from start to snapshot."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        bases = base.split(",")  # several server processes: spread by user
        url = f"{bases[conn.user_id % len(bases)]}/ws/live/{conn.session_id}/"
        if bare:  # the bare server has no auth: it is told who is who
            url += f"?u={conn.user_id}&t={conn.table_id or 0}&s={int(conn.staff)}"
        started = time.monotonic()
        try:
            conn.ws = await connect(
                url,
                origin=origin,
                additional_headers={"Cookie": conn.cookie},
                compression=None,
                proxy=None,
                open_timeout=timeout,
                ping_interval=None,
                close_timeout=2,
                max_queue=4096,
                max_size=16 * 1024 * 1024,
            )
        except InvalidStatus as error:
            conn.failure = f"HTTP {error.response.status_code}"
            return -1.0
        except Exception as error:
            conn.failure = f"connect: {type(error).__name__}: {error}"[:200]
            return -1.0
        conn.reader = asyncio.create_task(self.read(conn))
        try:
            await asyncio.wait_for(conn.snapshot.wait(), timeout)
        except TimeoutError:
            conn.failure = (
                f"closed {conn.close_code} {conn.close_reason}"
                if conn.close_code is not None
                else "no snapshot"
            )
            return -1.0
        return conn.snapshot_at - started

    async def connect_all(
        self,
        base: str,
        origin: str,
        bare: bool,
        concurrency: int,
        timeout: float,
        sids: list[int] | None = None,
        retry: bool = False,
    ) -> dict:
        """Connect the sessions `sids` (default: all of this process), session
        after session, instructor first, then the learners with up to
        `concurrency` handshakes in flight. Connections already open are left
        alone; with `retry`, those that failed or were closed connect anew."""
        semaphore = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        cpu = time.process_time()

        def due(conn: Conn) -> bool:
            if conn.ws is None and not conn.failure:
                return True
            return retry and (conn.failure or conn.close_code is not None)

        async def one(conn: Conn) -> float:
            if conn.ws is not None or conn.failure:  # a retry starts from scratch
                if conn.reader is not None:
                    conn.reader.cancel()
                fresh = Conn(conn.session_id, conn.user_id, conn.table_id, conn.cookie, conn.staff)
                fresh.mode_arrivals, fresh.mode_is_table_talk = (
                    conn.mode_arrivals,
                    conn.mode_is_table_talk,
                )
                conn.__dict__.update(fresh.__dict__)
            async with semaphore:
                return await self.open(conn, base, origin, bare, timeout)

        times: list[float] = []
        attempted: list[Conn] = []
        per_session = []
        for sid in self.instructors:
            if sids is not None and sid not in sids:
                continue
            session_started = time.monotonic()
            if due(self.instructors[sid]):
                attempted.append(self.instructors[sid])
                times.append(await one(self.instructors[sid]))
            learners = [conn for conn in self.learners[sid] if due(conn)]
            attempted.extend(learners)
            times.extend(await asyncio.gather(*(one(conn) for conn in learners)))
            per_session.append(time.monotonic() - session_started)
        return {
            "connected": sum(1 for t in times if t >= 0),
            "attempted": len(attempted),
            "snapshot_seconds": [t for t in times if t >= 0],
            "session_seconds": per_session,
            "failures": Counter(c.failure for c in attempted if c.failure),
            "seconds": time.monotonic() - started,
            "cpu": time.process_time() - cpu,
        }

    def status(self) -> dict:
        conns = self.all()
        open_learners = sum(
            1
            for sid in self.learners
            for c in self.learners[sid]
            if c.ws is not None and c.close_code is None and c.snapshot.is_set()
        )
        return {
            "open": sum(1 for c in conns if c.ws is not None and c.close_code is None),
            "open_learners": open_learners,
            "closed": Counter(
                f"{c.close_code} {c.close_reason}".strip()
                for c in conns
                if c.ws is not None and c.close_code is not None
            ),
            "failures": Counter(c.failure for c in conns if c.failure),
            "frames": dict(self.frames),
            "errors": dict(self.errors),
            "delivered": self.delivered,
        }

    async def quiet(self, silence: float, limit: float) -> dict:
        """Wait until no frame has arrived for `silence` seconds (at most `limit`)."""
        started = time.monotonic()
        last = sum(self.frames.values())
        calm_since = time.monotonic()
        while time.monotonic() - started < limit:
            await asyncio.sleep(0.1)
            now_total = sum(self.frames.values())
            if now_total != last:
                last = now_total
                calm_since = time.monotonic()
            elif time.monotonic() - calm_since >= silence:
                break
        return {"seconds": time.monotonic() - started}

    async def close_all(self) -> dict:
        status = self.status()

        async def close(conn: Conn) -> None:
            if conn.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(), 3)
            if conn.reader is not None:
                conn.reader.cancel()

        await asyncio.gather(*(close(c) for c in self.all()))
        return status

    # --- Sending ----------------------------------------------------------------

    async def send(self, conn: Conn, frame_type_: str, data: dict, wait: bool = False):
        frame_id = self.next_id()
        waiter = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            conn.pending[frame_id] = waiter
        conn.sent += 1
        await conn.ws.send(json.dumps({"type": frame_type_, "id": frame_id, "data": data}))
        return waiter

    # --- Mode changes and their arrival --------------------------------------------

    def marks(self) -> dict[int, list[int]]:
        """How many mode.changed frames each learner already holds (per session);
        -1 for a learner not connected at the start of the phase."""
        return {
            sid: [
                len(c.mode_arrivals) if c.ws is not None and c.close_code is None else -1
                for c in conns
            ]
            for sid, conns in self.learners.items()
        }

    def dropped(self, sids, marks: dict[int, list[int]]) -> int:
        """Learners connected at the start of a phase and closed by its end."""
        return sum(
            1
            for sid in sids
            for conn, mark in zip(self.learners[sid], marks[sid], strict=True)
            if mark >= 0 and conn.close_code is not None
        )

    async def wait_arrivals(
        self, sends: dict[int, list[float]], marks: dict[int, list[int]], limit: float
    ) -> None:
        """Until every open learner holds the expected mode.changed frames."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            missing = False
            for sid, times in sends.items():
                for conn, mark in zip(self.learners[sid], marks[sid], strict=True):
                    if (
                        mark >= 0
                        and conn.close_code is None
                        and conn.ws is not None
                        and (len(conn.mode_arrivals) < mark + len(times))
                    ):
                        missing = True
                        break
                if missing:
                    break
            if not missing:
                return
            await asyncio.sleep(0.05)

    def latencies(
        self,
        sends: dict[int, list[float]],
        marks: dict[int, list[int]],
        first_mode: dict[int, bool],
    ) -> dict:
        """Per change: the latency to its last learner; also every delivery.

        The k-th mode.changed a learner receives after the mark answers the k-th
        change sent (one session's frames reach a consumer in order); the mode
        alternates, so a frame lost in between shows as a mismatch and the
        learner is counted as lossy for that change and the rest."""
        last: list[float] = []
        first: list[float] = []
        every: list[float] = []
        lost = 0
        incomplete_changes = 0
        for sid, times in sends.items():
            per_change = [0.0] * len(times)
            first_arrival = [float("inf")] * len(times)
            complete = [True] * len(times)
            for conn, mark in zip(self.learners[sid], marks[sid], strict=True):
                if conn.ws is None or conn.close_code is not None or mark < 0:
                    continue  # not connected for the whole phase: counted apart
                arrivals = conn.mode_arrivals[mark:]
                kinds = conn.mode_is_table_talk[mark:]
                aligned = True
                for k, sent in enumerate(times):
                    expected = first_mode[sid] if k % 2 == 0 else not first_mode[sid]
                    if not aligned or k >= len(arrivals) or kinds[k] != expected:
                        aligned = False
                        complete[k] = False
                        lost += 1
                        continue
                    delay = arrivals[k] - sent
                    every.append(delay)
                    if delay > per_change[k]:
                        per_change[k] = delay
                    if delay < first_arrival[k]:
                        first_arrival[k] = delay
            for k in range(len(times)):
                if first_arrival[k] != float("inf"):
                    first.append(first_arrival[k])
                if complete[k]:
                    last.append(per_change[k])
                else:
                    incomplete_changes += 1
        return {
            "last": last,
            "first": first,
            "every": every,
            "lost": lost,
            "incomplete_changes": incomplete_changes,
            "changes": sum(len(t) for t in sends.values()),
        }

    def next_modes(self, sids) -> dict[int, bool]:
        """Whether the next change of each session is table_talk: alternate from
        what the learners last saw (lecture after the reset)."""
        result = {}
        for sid in sids:
            seen = [c.mode_is_table_talk[-1] for c in self.learners[sid] if c.mode_is_table_talk]
            current = max(set(seen), key=seen.count) if seen else False
            result[sid] = not current
        return result

    # --- Phases -----------------------------------------------------------------------

    async def busy(
        self, sids: list[int], duration: float, chat_rate: float, reaction_rate: float
    ) -> None:
        """Table chat and reactions in `sids`, at fixed rates per session, spread
        round-robin over the learners (far under the rate limits per user)."""

        async def ticker(sid: int, rate: float, action) -> None:
            if rate <= 0:
                return
            learners = [c for c in self.learners[sid] if c.close_code is None and c.ws]
            if not learners:
                return
            start = time.monotonic()
            n = 0
            offset = random.random() / rate
            while True:
                at = start + offset + n / rate
                if at - start > duration:
                    return
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                conn = learners[(n * 7 + sid) % len(learners)]
                with contextlib.suppress(Exception):  # a closed socket: skip its turn
                    await action(conn, n)
                n += 1

        async def chat(conn: Conn, n: int) -> None:
            await self.send(
                conn, "chat.send", {"channel": "table", "body": f"idea {n} from {conn.user_id}"}
            )

        async def react(conn: Conn, n: int) -> None:
            await self.send(conn, "reaction.send", {"kind": REACTIONS[n % len(REACTIONS)]})

        await asyncio.gather(
            *(ticker(sid, chat_rate, chat) for sid in sids),
            *(ticker(sid, reaction_rate, react) for sid in sids),
        )

    async def changes_paced(
        self, sids: list[int], rate: float, duration: float, count: int | None, offset: float
    ) -> dict[int, list[float]]:
        """Each instructor of `sids` sends mode.set at `rate` per second (open loop)."""
        first = self.next_modes(sids)
        sends: dict[int, list[float]] = {sid: [] for sid in sids}

        async def run(index: int, sid: int) -> None:
            conn = self.instructors[sid]
            if conn.ws is None or conn.close_code is not None:
                return
            start = time.monotonic() + offset + index / (rate * max(1, len(sids)))
            n = 0
            while True:
                if count is not None and n >= count:
                    return
                at = start + n / rate
                if count is None and at - start >= duration:
                    return
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                table_talk = first[sid] if n % 2 == 0 else not first[sid]
                sent = time.monotonic()
                try:
                    waiter = await self.send(
                        conn, "mode.set", {"mode": MODES[int(table_talk)]}, wait=True
                    )
                except Exception:  # the instructor's socket closed
                    return
                sends[sid].append(sent)
                self.acks.append((sent, waiter))
                n += 1

        await asyncio.gather(*(run(i, sid) for i, sid in enumerate(sids)))
        return sends

    async def changes_acked(self, sids: list[int], duration: float) -> dict[int, list[float]]:
        """Each instructor sends the next mode.set as soon as the last is acked."""
        first = self.next_modes(sids)
        sends: dict[int, list[float]] = {sid: [] for sid in sids}

        async def run(sid: int) -> None:
            conn = self.instructors[sid]
            if conn.ws is None or conn.close_code is not None:
                return
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < duration:
                table_talk = first[sid] if n % 2 == 0 else not first[sid]
                sent = time.monotonic()
                try:
                    waiter = await self.send(
                        conn, "mode.set", {"mode": MODES[int(table_talk)]}, wait=True
                    )
                except Exception:
                    break
                sends[sid].append(sent)
                self.acks.append((sent, waiter))
                try:
                    await asyncio.wait_for(waiter, 10)
                except TimeoutError:
                    break
                n += 1

        await asyncio.gather(*(run(sid) for sid in sids))
        return sends

    async def measure(self, sends_coro, sids: list[int], drain: float) -> dict:
        """Run a phase that sends mode changes; wait for their arrival; measure."""
        marks = self.marks()
        first = self.next_modes(sids)
        self.acks = []
        frames_before = self.delivered
        cpu = time.process_time()
        started = time.monotonic()
        sends = await sends_coro
        sent_done = time.monotonic()
        await self.wait_arrivals(sends, marks, drain)
        ended = time.monotonic()
        result = self.latencies(sends, marks, first)
        result["dropped"] = self.dropped(sids, marks)
        result["learners"] = sum(1 for sid in sids for mark in marks[sid] if mark >= 0)
        result["ack"] = [
            waiter.result() - sent
            for sent, waiter in self.acks
            if waiter.done() and not waiter.cancelled()
        ]
        result["unacked"] = sum(1 for _sent, waiter in self.acks if not waiter.done())
        result.update(
            {
                "delivered": self.delivered - frames_before,
                "started": started,
                "sent_seconds": sent_done - started,
                "seconds": ended - started,
                "cpu": time.process_time() - cpu,
            }
        )
        return result


async def serve(pipe, plan: list[dict]) -> None:
    loop = asyncio.get_running_loop()
    sessions = Sessions(plan)
    while True:
        command, args = await loop.run_in_executor(None, pipe.recv)
        try:
            if command == "connect":
                result = await sessions.connect_all(**args)
            elif command == "status":
                result = sessions.status()
            elif command == "quiet":
                result = await sessions.quiet(**args)
            elif command == "latency":
                # Busy sessions chat and react while the measured ones switch modes.
                measured = [sid for sid in args["measured"] if sid in sessions.instructors]
                busy = [sid for sid in args["busy"] if sid in sessions.instructors]
                duration = args["warmup"] + args["changes"] * args["interval"] + args["warmup"]
                busy_before = sessions.delivered
                busy_started = time.monotonic()
                busy_task = asyncio.create_task(
                    sessions.busy(busy, duration, args["chat_rate"], args["reaction_rate"])
                )
                await asyncio.sleep(args["warmup"])
                if measured:
                    result = await sessions.measure(
                        sessions.changes_paced(
                            measured, 1 / args["interval"], 0, args["changes"], 0.0
                        ),
                        measured,
                        args["drain"],
                    )
                else:
                    result = {}
                await busy_task
                result["busy_delivered"] = sessions.delivered - busy_before
                result["busy_seconds"] = time.monotonic() - busy_started
            elif command == "ladder":
                sids = list(sessions.instructors)
                result = await sessions.measure(
                    sessions.changes_paced(
                        sids, args["rate"], args["duration"], None, args["offset"]
                    ),
                    sids,
                    args["drain"],
                )
            elif command == "acked":
                sids = list(sessions.instructors)
                result = await sessions.measure(
                    sessions.changes_acked(sids, args["duration"]), sids, args["drain"]
                )
            elif command == "close":
                result = await sessions.close_all()
            elif command == "exit":
                pipe.send({"ok": True})
                return
            else:
                result = {"error": f"unknown command {command}"}
        except Exception as error:  # report, never hang the parent
            import traceback

            result = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        result["cpu_total"] = time.process_time()
        pipe.send(result)


def main(pipe, plan: list[dict]) -> None:
    """Entry point of a client process."""
    asyncio.run(serve(pipe, plan))
