"""Benchmark: the moments everyone acts at once, measured as the person waits.

Three storms against real Daphne processes (PostgreSQL and Redis local),
each against a straightforward baseline in the same run, each run
BENCH_RUNS times (min / median / max reported):

join       A class of BENCH_LEARNERS connects within BENCH_JOIN_WINDOW
           seconds (each learner at a random moment of the window) while
           BENCH_BUSY_SESSIONS other sessions of the same size are busy (table
           chat and reactions, from a separate client process). Measured per
           learner: from the start of its connect to its `snapshot` frame.
           On one process and on two (learners round-robin).
           roundtable: `config.asgi` as shipped (the cookies, accesses,
           attendance joins and snapshots of the learners connecting meanwhile
           read and written in batches, the shared snapshot parts built once
           per session and seq: core/rooms/shared.py, classroom/consumers.py).
           baseline: the same server with `ROUNDTABLE_JOIN_BATCH=0` and
           `ROUNDTABLE_SNAPSHOT_SHARED=0`: each learner's cookie, access, join
           and snapshot read one by one, every snapshot built from scratch
           (the code path before the storms work, about 16 queries per
           learner; the fan-out subscriptions are shared on both sides).
vote       7 sessions × 150 learners vote within BENCH_SPREAD seconds on two
           processes, and 1 × 300 on one (BENCH_VOTE_POINTS). Measured: ack
           p50 / p99 (from the vote's send), and from each vote's *send* to
           the moment the instructor's staff tally first includes it (a staff
           tally lists the present learners who have not answered: the vote is
           in the first tally without its voter). Checked in the database:
           every vote stored exactly once, acked answers = stored answers,
           final tally = database.
           roundtable: `config.asgi` as shipped (the votes of a session that
           arrive on a process while its previous batch runs are applied in
           one transaction: classroom/services/polls.py `poll_votes_apply`).
           baseline: the same server with `ROUNDTABLE_POLL_VOTE_BATCH=0`:
           each vote in a transaction (and a commit) of its own, the previous
           code path; tallies coalesced on both sides.
reconnect  One session of BENCH_LEARNERS on two processes (the instructor on
           the first, learners round-robin), busy (instructor: a class chat
           message every 100 ms; learners: table chat). The second process is
           killed (SIGKILL); each of its learners reconnects to the first one
           (what a load balancer does with a dead upstream; docs/deploy: nginx
           `upstream`) with its last `seq` (`?seq=`). Measured: from the kill
           to each learner's `resync.done` (or snapshot); checked: every
           sequenced frame of every stream the learner follows arrived once,
           in order (each frame's `prev` equals the last seq seen on its
           stream), and every learner ends at the same head.
           roundtable: reconnect with `?seq=` (missed frames from the buffer).
           baseline: reconnect without it (a fresh snapshot each).

Database: a dedicated PostgreSQL database `roundtable_storms` (created and
dropped); Redis BENCH_REDIS_URL (default DB 15; only `asgi*` and
`roundtable:*` keys are deleted). Report: docs/performance.md, section
`storms`. Settings: BENCH_PHASES (join,vote,reconnect), BENCH_RUNS (3),
BENCH_LEARNERS (150), BENCH_BUSY_SESSIONS (6), BENCH_JOIN_PROCS (1,2),
BENCH_VOTE_POINTS (7x150@2,1x300@1: sessions x learners @ processes),
BENCH_SPREAD (2.0), BENCH_CHAT_RATE (5/s per busy session),
BENCH_REACTION_RATE (10/s per busy session), BENCH_SEED (1).

The default run takes about 15 minutes on a 2-core machine;
`BENCH_RUNS=1 BENCH_LEARNERS=50 BENCH_BUSY_SESSIONS=2` about 3.

    .venv/bin/python bench/storms.py
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

import _poll_infra as infra
import _report
from _poll_client import Endpoint, Load

NAME = "storms"
infra.NAME = NAME
infra.BENCH_DATABASE = "roundtable_storms"
RESULTS = infra.RESULTS
ROOT = infra.ROOT
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
REACTIONS = ("thumbs_up", "clap", "laugh", "confused")

# The targets.
JOIN_P99_MS = {1: 1000.0, 2: 600.0}
VOTE_ACK_P99_MS = 1000.0
RECONNECT_P99_MS = 3000.0

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


def log(message: str) -> None:
    print(f"[{NAME}] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"{NAME}: {name} must be an integer") from None


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"{NAME}: {name} must be a number") from None


@dataclass(frozen=True)
class Config:
    phases: tuple[str, ...]
    runs: int
    learners: int
    busy_sessions: int
    join_procs: tuple[int, ...]
    join_window: float
    vote_points: tuple[tuple[int, int, int], ...]
    spread: float
    chat_rate: float
    reaction_rate: float
    redis_url: str
    seed: int

    @classmethod
    def from_env(cls) -> Config:
        points = []
        for item in os.environ.get("BENCH_VOTE_POINTS", "7x150@2,1x300@1").split(","):
            if not item.strip():
                continue
            try:
                size, procs = item.strip().split("@")
                sessions, learners = size.split("x")
                points.append((int(sessions), int(learners), int(procs)))
            except ValueError:
                raise SystemExit(f"{NAME}: BENCH_VOTE_POINTS items are SxL@P") from None
        return cls(
            phases=tuple(
                p.strip()
                for p in os.environ.get("BENCH_PHASES", "join,vote,reconnect").split(",")
                if p.strip()
            ),
            runs=_env_int("BENCH_RUNS", 3),
            learners=_env_int("BENCH_LEARNERS", 150),
            busy_sessions=_env_int("BENCH_BUSY_SESSIONS", 6),
            join_procs=tuple(
                int(p) for p in os.environ.get("BENCH_JOIN_PROCS", "1,2").split(",") if p.strip()
            ),
            join_window=_env_float("BENCH_JOIN_WINDOW", 1.0),
            vote_points=tuple(points),
            spread=_env_float("BENCH_SPREAD", 2.0),
            chat_rate=_env_float("BENCH_CHAT_RATE", 5.0),
            reaction_rate=_env_float("BENCH_REACTION_RATE", 10.0),
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
            seed=_env_int("BENCH_SEED", 1),
        )


def percentile(values: list[float], q: float) -> float:
    return infra.percentile(values, q)


def spread3(values: list[float]) -> str:
    """min / median / max of the runs."""
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    return " / ".join(f"{v:,.0f}" for v in (min(values), statistics.median(values), max(values)))


# --- Servers ----------------------------------------------------------------------------


class Servers:
    """`count` Daphne processes of one application with extra environment."""

    serial = 0

    def __init__(self, kind: str, count: int, env: dict[str, str], extra: dict[str, str]) -> None:
        Servers.serial += 1
        self.list = [
            infra.Server(kind, Servers.serial * 10 + i, {**env, **extra}) for i in range(count)
        ]

    def __enter__(self) -> Servers:
        for server in self.list:
            server.start()
        for server in self.list:
            server.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        for server in self.list:
            server.stop()

    @property
    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(s.base, s.origin) for s in self.list]

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.list]


# --- Busy sessions: a client process of their own ---------------------------------------


def busy_main(pipe, plan: list[dict], endpoints: list[tuple[str, str]], rates) -> None:
    """Child process: connect `plan`'s sessions, then table chat and reactions
    at `rates` per session until told to stop."""
    asyncio.run(_busy(pipe, plan, [Endpoint(*e) for e in endpoints], rates))


async def _busy(pipe, plan, endpoints, rates) -> None:
    chat_rate, reaction_rate = rates
    load = Load(plan, endpoints, seed=7)
    connected = await load.connect(30, 60.0)
    pipe.send({"connected": connected["connected"], "attempted": connected["attempted"]})
    stop = asyncio.Event()
    sent = Counter()

    async def ticker(room, rate: float, kind: str) -> None:
        if rate <= 0:
            return
        n = 0
        start = time.monotonic() + random.random() / rate
        while not stop.is_set():
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            conn = room.learners[(n * 7) % len(room.learners)]
            n += 1
            if not conn.is_open:
                continue
            data = (
                {"channel": "table", "body": f"idea {n}"}
                if kind == "chat.send"
                else {"kind": REACTIONS[n % len(REACTIONS)]}
            )
            try:
                await conn.ws.send(
                    json.dumps({"type": kind, "id": f"{kind}-{n}-{conn.user_id}", "data": data})
                )
                sent[kind] += 1
            except Exception:  # noqa: S112 (a closed socket skips its turn)
                continue

    tasks = [
        asyncio.create_task(ticker(room, rate, kind))
        for room in load.rooms
        for rate, kind in ((chat_rate, "chat.send"), (reaction_rate, "reaction.send"))
    ]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    status = load.status()
    await load.close()
    pipe.send({"sent": dict(sent), "open_at_end": status["open"]})


class Busy:
    def __init__(self, cfg: Config, plan: list[dict], servers: Servers) -> None:
        self.cfg = cfg
        self.plan = plan
        self.servers = servers

    def __enter__(self) -> Busy:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        endpoints = [(e.base, e.origin) for e in self.servers.endpoints]
        self.process = context.Process(
            target=busy_main,
            args=(child, self.plan, endpoints, (self.cfg.chat_rate, self.cfg.reaction_rate)),
            daemon=True,
        )
        self.process.start()
        if not self.pipe.poll(180):
            raise SystemExit(f"{NAME}: the busy sessions did not connect in 180 s")
        self.connected = self.pipe.recv()
        time.sleep(1.0)  # let the busy load settle
        return self

    def __exit__(self, *exc) -> None:
        self.pipe.send("stop")
        self.result = self.pipe.recv() if self.pipe.poll(60) else {}
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()


# --- Join storm ---------------------------------------------------------------------------


async def join_storm(plan: dict, endpoints: list[Endpoint], window: float, seed: int) -> dict:
    load = Load([plan], endpoints, seed)
    room = load.rooms[0]
    await room.instructor.open(30.0, retries=3)
    rng = random.Random(seed)
    offsets = [rng.random() * window for _ in room.learners]
    start = time.monotonic() + 0.05
    times: list[float | None] = [None] * len(room.learners)

    async def one(index: int, conn) -> None:
        delay = start + offsets[index] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        began = time.monotonic()
        if await conn.open(30.0, retries=2):
            times[index] = (time.monotonic() - began) * 1000

    await asyncio.gather(*(one(i, c) for i, c in enumerate(room.learners)))
    done = [t for t in times if t is not None]
    failures = Counter(c.failure for c in room.learners if c.failure)
    await load.close()
    return {
        "learners": len(room.learners),
        "snapshots": len(done),
        "p50": percentile(done, 0.5),
        "p99": percentile(done, 0.99),
        "max": max(done, default=float("nan")),
        "failures": dict(failures),
    }


def run_join(cfg: Config, plans: dict, env: dict) -> list[dict]:
    rows = []
    for run in range(cfg.runs):
        for procs in cfg.join_procs:
            order = ("roundtable", "baseline") if run % 2 == 0 else ("baseline", "roundtable")
            for target in order:
                plan = plans[f"join-{procs}-{target}-{run}"]
                flag = "1" if target == "roundtable" else "0"
                extra = {"ROUNDTABLE_SNAPSHOT_SHARED": flag, "ROUNDTABLE_JOIN_BATCH": flag}
                with Servers("roundtable", procs, env, extra) as servers:
                    with Busy(cfg, plan[1:], servers) as busy:
                        meter = infra.CpuMeter(servers.pids)
                        meter.start()
                        load_before = os.getloadavg()[0]
                        result = asyncio.run(
                            join_storm(plan[0], servers.endpoints, cfg.join_window, cfg.seed + run)
                        )
                        result["cpu"] = meter.stop()
                        result["loadavg"] = load_before
                    result["busy"] = {**busy.connected, **getattr(busy, "result", {})}
                result.update({"run": run, "procs": procs, "target": target})
                log(
                    f"join run {run + 1} {procs} proc {target}: "
                    f"{result['snapshots']}/{result['learners']} p50 {result['p50']:.0f} "
                    f"p99 {result['p99']:.0f} ms (busy {busy.connected['connected']} connected; "
                    f"load {result['loadavg']:.1f})"
                )
                rows.append(result)
    return rows


# --- Vote storm ----------------------------------------------------------------------------


def _tally_latencies(load: Load, results: list[dict]) -> list[float]:
    """Per vote: its send → the first staff tally at the instructor without its voter."""
    latencies = []
    for room, result in zip(load.rooms, results, strict=True):
        tallies = [t for t in room.instructor.staff_tallies if t.poll_id == result["poll_id"]]
        for vote in result["votes"]:
            if vote["type"] != "ack":
                continue
            seen = next(
                (
                    t.at
                    for t in tallies
                    if t.at >= vote["sent"] and vote["user_id"] not in t.not_answered
                ),
                None,
            )
            latencies.append((seen - vote["sent"]) * 1000 if seen else float("inf"))
    return latencies


def _verify_votes(results: list[dict]) -> dict:
    from analytics.selectors import object_events_count
    from classroom.models import PollResponse

    stored = exact = equal = 0
    events = 0
    duplicates = 0
    for room in results:
        rows = list(
            PollResponse.objects.filter(poll_id=room["poll_id"]).values_list("user_id", "answer")
        )
        stored += len(rows)
        users = Counter(user for user, _answer in rows)
        duplicates += sum(n - 1 for n in users.values() if n > 1)
        stored_counts = Counter(answer.get("option") for _user, answer in rows)
        acked = {v["user_id"]: v["choice"] for v in room["votes"] if v["type"] == "ack"}
        exact += acked == {user: answer.get("option") for user, answer in rows}
        final = room["final_counts"]
        equal += final is not None and {k: v for k, v in final.items() if v} == dict(stored_counts)
        events += object_events_count(
            verb="answered", object_type="poll", object_id=room["poll_id"]
        )
    infra.close_django_connections()
    return {
        "stored": stored,
        "duplicates": duplicates,
        "rooms_exact": exact,
        "rooms_tally_equal": equal,
        "events": events,
    }


async def vote_storm(plan: list[dict], endpoints, cfg: Config, tag: str) -> tuple[dict, Load]:
    load = Load(plan, endpoints, cfg.seed)
    connected = await load.connect(30, 60.0)
    await asyncio.sleep(1.0)
    results = await load.poll(
        tag=tag, live=False, spread=cfg.spread, ack_timeout=60.0, tally_timeout=30.0
    )
    await load.close()
    votes = [v for room in results for v in room["votes"]]
    acks = [(v["answered"] - v["sent"]) * 1000 for v in votes if v["type"] == "ack"]
    tallied = _tally_latencies(load, results)
    first = min(v["sent"] for v in votes)
    last = max(v["answered"] for v in votes if v["answered"])
    return (
        {
            "connected": connected["connected"],
            "voters": sum(r["voters"] for r in results),
            "acked": len(acks),
            "ack_p50": percentile(acks, 0.5),
            "ack_p99": percentile(acks, 0.99),
            "tally_p50": percentile(tallied, 0.5),
            "tally_p99": percentile(tallied, 0.99),
            "never_tallied": sum(1 for t in tallied if t == float("inf")),
            "votes_per_s": len(acks) / max(1e-9, last - first),
            "rooms": results,
        },
        load,
    )


def run_vote(cfg: Config, plans: dict, env: dict) -> list[dict]:
    rows = []
    for run in range(cfg.runs):
        for sessions, learners, procs in cfg.vote_points:
            order = ("roundtable", "baseline") if run % 2 == 0 else ("baseline", "roundtable")
            for target in order:
                plan = plans[f"vote-{sessions}x{learners}-{target}-{run}"]
                extra = {"ROUNDTABLE_POLL_VOTE_BATCH": "1" if target == "roundtable" else "0"}
                with Servers("roundtable", procs, env, extra) as servers:
                    meter = infra.CpuMeter(servers.pids)
                    meter.start()
                    load_before = os.getloadavg()[0]
                    result, _load = asyncio.run(
                        vote_storm(plan, servers.endpoints, cfg, f"{target}-{run}")
                    )
                    result["cpu"] = meter.stop()
                    result["loadavg"] = load_before
                rooms = result.pop("rooms")
                result["rooms_n"] = len(rooms)
                result["check"] = _verify_votes(rooms)
                result.update(
                    {
                        "run": run,
                        "point": f"{sessions} × {learners}",
                        "procs": procs,
                        "target": target,
                    }
                )
                log(
                    f"vote run {run + 1} {result['point']} on {procs} {target}: acked "
                    f"{result['acked']}/{result['voters']}, ack p50 {result['ack_p50']:.0f} p99 "
                    f"{result['ack_p99']:.0f} ms, sent→tally p50 {result['tally_p50']:.0f} p99 "
                    f"{result['tally_p99']:.0f} ms, {result['check']}"
                )
                rows.append(result)
    return rows


# --- Reconnect storm -----------------------------------------------------------------------


class Follower:
    """One learner that follows the session's sequenced frames, checks each
    stream's `prev` chain, and reconnects with `?seq=` (or without, for the
    baseline) to the surviving server when its server goes away."""

    def __init__(self, sid: int, user_id: int, cookie: str, endpoint: Endpoint) -> None:
        self.sid, self.user_id, self.cookie, self.endpoint = sid, user_id, cookie, endpoint
        self.heads: dict[str, int] = {}
        self.last_seq = 0
        self.gaps = 0
        self.duplicates = 0
        self.frames = 0
        self.recovered_at: float | None = None
        self.dropped_at: float | None = None
        self.reconnecting = False
        self.closing = False
        self.ws = None
        self.ready = asyncio.Event()
        self.failure = ""

    async def connect(self, endpoint: Endpoint, with_seq: bool) -> None:
        from websockets.asyncio.client import connect

        query = f"?seq={self.last_seq}" if with_seq and self.last_seq else ""
        self.ws = await connect(
            f"{endpoint.base}/ws/live/{self.sid}/{query}",
            origin=endpoint.origin,
            additional_headers={"Cookie": self.cookie},
            compression=None,
            proxy=None,
            open_timeout=30,
            ping_interval=None,
            close_timeout=2,
            max_size=16 * 1024 * 1024,
        )
        self.endpoint = endpoint
        asyncio.get_running_loop().create_task(self.read(self.ws))

    async def read(self, ws) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "snapshot":
                    data = frame["data"]
                    self.heads = dict(data.get("heads") or {})
                    self.last_seq = data["seq"]
                    self._recovered()
                elif kind == "resync.done":
                    self._recovered()
                elif frame.get("seq"):
                    seq, stream, prev = frame["seq"], frame.get("stream", "all"), frame.get("prev")
                    known = self.heads.get(stream, 0)
                    if seq <= known:
                        self.duplicates += 1
                        continue
                    if prev is not None and prev != known:
                        self.gaps += 1
                    self.heads[stream] = seq
                    self.last_seq = max(self.last_seq, seq)
                    self.frames += 1
        except Exception as error:  # a dropped connection ends the loop
            self.failure = repr(error)[:120]
        finally:
            self.ready.clear()

    def _recovered(self) -> None:
        self.ready.set()
        if self.reconnecting and self.recovered_at is None:
            self.recovered_at = time.monotonic()


async def reconnect_storm(plan: dict, servers: Servers, with_seq: bool, seed: int) -> dict:
    endpoints = servers.endpoints
    from _poll_client import Conn, Room

    room = Room(plan["id"])
    instructor = Conn(
        room, plan["instructor"]["id"], plan["instructor"]["cookie"], True, endpoints[0]
    )
    await instructor.open(30.0, retries=3)
    followers = [
        Follower(plan["id"], learner["id"], learner["cookie"], endpoints[(i + 1) % 2])
        for i, learner in enumerate(plan["learners"])
    ]
    semaphore = asyncio.Semaphore(30)

    async def first(follower: Follower) -> None:
        async with semaphore:
            try:
                await follower.connect(follower.endpoint, with_seq)
                await asyncio.wait_for(follower.ready.wait(), 30)
            except Exception as error:
                follower.failure = repr(error)[:120]

    await asyncio.gather(*(first(f) for f in followers))
    stop = asyncio.Event()
    rng = random.Random(seed)

    async def teacher() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if instructor.is_open:
                await instructor.ws.send(
                    json.dumps(
                        {
                            "type": "chat.send",
                            "id": f"c{n}",
                            "data": {"channel": "class", "body": f"slide {n}"},
                        }
                    )
                )
            await asyncio.sleep(0.1)

    async def tables() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            follower = rng.choice(followers)
            if follower.ready.is_set():
                try:
                    await follower.ws.send(
                        json.dumps(
                            {
                                "type": "chat.send",
                                "id": f"t{n}",
                                "data": {"channel": "table", "body": f"idea {n}"},
                            }
                        )
                    )
                except Exception:  # noqa: S110 (its socket just closed)
                    pass
            await asyncio.sleep(0.2)

    busy = [asyncio.create_task(teacher()), asyncio.create_task(tables())]
    await asyncio.sleep(3.0)
    victim = servers.list[1]
    moved = [f for f in followers if f.endpoint.base == victim.base]
    for follower in moved:
        follower.reconnecting = True
    killed_at = time.monotonic()
    victim.process.send_signal(signal.SIGKILL)

    async def failover(follower: Follower) -> None:
        # The client notices the close (the reader ends), then reconnects to
        # the surviving server, as behind a load balancer.
        while follower.ready.is_set():
            await asyncio.sleep(0.005)
        follower.dropped_at = time.monotonic()
        for attempt in range(10):
            try:
                await follower.connect(endpoints[0], with_seq)
                await asyncio.wait_for(follower.ready.wait(), 30)
                return
            except Exception as error:
                follower.failure = repr(error)[:120]
                await asyncio.sleep(0.2 * (attempt + 1))

    await asyncio.wait_for(asyncio.gather(*(failover(f) for f in moved)), 90)
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*busy, return_exceptions=True)
    await asyncio.sleep(1.5)  # the last frames arrive
    recover = [
        (f.recovered_at - killed_at) * 1000 if f.recovered_at else float("inf") for f in moved
    ]
    heads = Counter(f.heads.get("all", 0) for f in followers)
    for follower in followers:
        if follower.ws is not None:
            try:
                await asyncio.wait_for(follower.ws.close(), 3)
            except Exception:  # noqa: S110 (best effort)
                pass
    instructor.closing = True
    if instructor.ws is not None:
        await instructor.ws.close()
    return {
        "learners": len(followers),
        "moved": len(moved),
        "recovered": sum(1 for f in moved if f.recovered_at),
        "p50": percentile(recover, 0.5),
        "p99": percentile(recover, 0.99),
        "max": max(recover, default=float("nan")),
        "gaps": sum(f.gaps for f in followers),
        "duplicates": sum(f.duplicates for f in followers),
        "frames": sum(f.frames for f in followers),
        "same_head": len(heads) == 1,
        "failures": dict(Counter(f.failure for f in followers if f.failure and not f.ready)),
    }


def run_reconnect(cfg: Config, plans: dict, env: dict) -> list[dict]:
    rows = []
    for run in range(cfg.runs):
        order = ("roundtable", "baseline") if run % 2 == 0 else ("baseline", "roundtable")
        for target in order:
            plan = plans[f"reconnect-{target}-{run}"][0]
            with Servers("roundtable", 2, env, {}) as servers:
                load_before = os.getloadavg()[0]
                result = asyncio.run(
                    reconnect_storm(plan, servers, target == "roundtable", cfg.seed + run)
                )
            result.update({"run": run, "target": target, "loadavg": load_before})
            log(
                f"reconnect run {run + 1} {target}: {result['recovered']}/{result['moved']} "
                f"p50 {result['p50']:.0f} p99 {result['p99']:.0f} ms, gaps {result['gaps']} "
                f"duplicates {result['duplicates']} same head {result['same_head']}"
            )
            rows.append(result)
    return rows


# --- Report -------------------------------------------------------------------------------


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def report(cfg: Config, rows: dict[str, list[dict]], database: str, seconds: float) -> str:
    parts = []
    headers_done = []
    if rows.get("join"):
        table = []
        verdicts = []
        for procs in cfg.join_procs:
            for target in ("roundtable", "baseline"):
                mine = [r for r in rows["join"] if r["procs"] == procs and r["target"] == target]
                if not mine:
                    continue
                cpu = [r["cpu"]["server"] for r in mine]
                table.append(
                    [
                        f"{procs}",
                        target,
                        ", ".join(f"{r['snapshots']}/{r['learners']}" for r in mine),
                        spread3([r["p50"] for r in mine]),
                        spread3([r["p99"] for r in mine]),
                        spread3([r["max"] for r in mine]),
                        " / ".join(f"{c:.1f}" for c in sorted(cpu)),
                        " / ".join(f"{r['loadavg']:.1f}" for r in mine),
                    ]
                )
                if target == "roundtable":
                    worst = max(r["p99"] for r in mine)
                    complete = all(r["snapshots"] == r["learners"] for r in mine)
                    verdicts.append(
                        f"- Join storm, {procs} process(es): every learner holds a snapshot and "
                        f"p99 < {JOIN_P99_MS[procs]:,.0f} ms in every run: "
                        f"{_verdict(complete and worst < JOIN_P99_MS[procs])} (worst p99 "
                        f"{worst:,.0f} ms)"
                    )
        parts.append(
            f"**Join storm**: {cfg.learners} learners connect within {cfg.join_window:g} s while "
            f"{cfg.busy_sessions} other sessions of {cfg.learners} are busy (table chat "
            f"{cfg.chat_rate:g}/s, reactions {cfg.reaction_rate:g}/s each). Connect → snapshot "
            "per learner, ms, min / median / max of the runs:\n\n"
            + _report.markdown_table(
                [
                    "processes",
                    "server",
                    "snapshots per run",
                    "p50",
                    "p99",
                    "max",
                    "server CPU s per run (sorted)",
                    "load average before each run",
                ],
                table,
            )
            + "\n\n"
            + "\n".join(verdicts)
        )
        headers_done.append("join")
    if rows.get("vote"):
        table = []
        verdicts = []
        points = sorted({(r["point"], r["procs"]) for r in rows["vote"]}, reverse=True)
        for point, procs in points:
            for target in ("roundtable", "baseline"):
                mine = [
                    r
                    for r in rows["vote"]
                    if r["point"] == point and r["procs"] == procs and r["target"] == target
                ]
                if not mine:
                    continue
                checks = [r["check"] for r in mine]
                table.append(
                    [
                        f"{point} on {procs}",
                        target,
                        ", ".join(f"{r['acked']}/{r['voters']}" for r in mine),
                        ", ".join(f"{c['stored']} ({c['duplicates']} dup.)" for c in checks),
                        spread3([r["ack_p50"] for r in mine]),
                        spread3([r["ack_p99"] for r in mine]),
                        spread3([r["tally_p50"] for r in mine]),
                        spread3([r["tally_p99"] for r in mine]),
                        spread3([r["votes_per_s"] for r in mine]),
                        "yes"
                        if all(
                            c["rooms_tally_equal"] == r["rooms_n"]
                            for c, r in zip(checks, mine, strict=True)
                        )
                        else "no",
                        " / ".join(f"{r['loadavg']:.1f}" for r in mine),
                    ]
                )
                if target == "roundtable":
                    worst = max(r["ack_p99"] for r in mine)
                    exact = all(
                        c["duplicates"] == 0
                        and c["stored"] == r["voters"]
                        and c["rooms_exact"] == r["rooms_n"]
                        for c, r in zip(checks, mine, strict=True)
                    )
                    verdicts.append(
                        f"- Vote storm {point} on {procs} process(es): ack p99 < "
                        f"{VOTE_ACK_P99_MS:,.0f} ms, every vote stored once, final tally = "
                        f"database, in every run: {_verdict(exact and worst < VOTE_ACK_P99_MS)} "
                        f"(worst ack p99 {worst:,.0f} ms)"
                    )
        parts.append(
            f"**Vote storm**: every learner votes once within {cfg.spread:g} s (random order). "
            "Ack: the vote's send → its ack. *Sent → in tally*: the vote's send → the first "
            "staff `poll.tally_changed` at the instructor whose `not_answered` no longer "
            "lists the voter. ms, min / median / max of the runs:\n\n"
            + _report.markdown_table(
                [
                    "point",
                    "server",
                    "acked per run",
                    "stored per run",
                    "ack p50",
                    "ack p99",
                    "sent → in tally p50",
                    "sent → in tally p99",
                    "votes/s",
                    "final tally = DB",
                    "load average",
                ],
                table,
            )
            + "\n\n"
            + "\n".join(verdicts)
        )
    if rows.get("reconnect"):
        table = []
        verdicts = []
        for target in ("roundtable", "baseline"):
            mine = [r for r in rows["reconnect"] if r["target"] == target]
            if not mine:
                continue
            table.append(
                [
                    "with `?seq=`" if target == "roundtable" else "without (snapshot)",
                    ", ".join(f"{r['recovered']}/{r['moved']}" for r in mine),
                    spread3([r["p50"] for r in mine]),
                    spread3([r["p99"] for r in mine]),
                    spread3([r["max"] for r in mine]),
                    ", ".join(f"{r['gaps']}/{r['duplicates']}" for r in mine),
                    "yes" if all(r["same_head"] for r in mine) else "no",
                    " / ".join(f"{r['loadavg']:.1f}" for r in mine),
                ]
            )
            if target == "roundtable":
                worst = max(r["p99"] for r in mine)
                clean = all(
                    r["gaps"] == 0
                    and r["duplicates"] == 0
                    and r["same_head"]
                    and r["recovered"] == r["moved"]
                    for r in mine
                )
                verdicts.append(
                    f"- Reconnect storm: every moved learner caught up, no frame lost or "
                    f"applied twice, p99 < {RECONNECT_P99_MS:,.0f} ms from the kill, in every run: "
                    f"{_verdict(clean and worst < RECONNECT_P99_MS)} (worst p99 {worst:,.0f} ms)"
                )
        parts.append(
            f"**Reconnect storm**: a busy session of {cfg.learners} on two processes; the second "
            "is killed (SIGKILL) and its learners reconnect to the first. Kill → caught up "
            "(`resync.done` or snapshot) per moved learner, ms, min / median / max of the runs:\n\n"
            + _report.markdown_table(
                [
                    "reconnect",
                    "caught up per run",
                    "p50",
                    "p99",
                    "max",
                    "gaps / duplicates per run",
                    "all at the same head",
                    "load average",
                ],
                table,
            )
            + "\n\n"
            + "\n".join(verdicts)
        )
    info = {
        "Database": database,
        "Code": f"commit {commit()}",
        "Runs": f"{cfg.runs} per configuration, targets alternating first",
        "Whole run": f"{seconds:.0f} s",
        "Command": "`.venv/bin/python bench/storms.py` (settings in its docstring)",
    }
    body = "\n".join(f"- {k}: {v}" for k, v in {**_report.machine_info(), **info}.items())
    notes = (
        "Baselines: *join* is the same server with `ROUNDTABLE_JOIN_BATCH=0` and "
        "`ROUNDTABLE_SNAPSHOT_SHARED=0` (each learner's cookie, access, attendance join and "
        "snapshot read one by one, every snapshot built from scratch, as before the storms "
        "work; the fan-out's shared SUBSCRIBE commands on both sides); *vote* is "
        "the same server with `ROUNDTABLE_POLL_VOTE_BATCH=0` (each vote in a transaction and a "
        "commit of its own, as before the batches; tallies coalesced on both sides); *reconnect* reconnects without `?seq=` (a fresh "
        "snapshot each). The load generator, PostgreSQL, Redis and the servers share the "
        "machine's 2 cores; the load average before each run says what else was running."
    )
    return "## Storms: a class joining, voting and reconnecting at once\n\n" + "\n\n".join(
        [body, *parts, notes]
    )


# --- Main ------------------------------------------------------------------------------------


def main() -> int:
    cfg = Config.from_env()
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    description, database_url, drop = infra.prepare_database()
    rows: dict[str, list[dict]] = {}
    try:
        version = infra.setup_django(database_url, cfg.redis_url)
        description = description.replace("PostgreSQL", f"PostgreSQL {version}", 1)
        infra.redis_clean(cfg.redis_url)
        points, labels = [], []
        if "join" in cfg.phases:
            join_point = infra.Point("join", 1 + cfg.busy_sessions, cfg.learners)
            join_labels = [
                f"join-{procs}-{target}-{run}"
                for run in range(cfg.runs)
                for procs in cfg.join_procs
                for target in ("roundtable", "baseline")
            ]
            points.append(join_point)
            labels.append(join_labels)
        for sessions, learners, _procs in cfg.vote_points if "vote" in cfg.phases else ():
            point = infra.Point(f"v{sessions}x{learners}", sessions, learners)
            points.append(point)
            labels.append(
                [
                    f"vote-{sessions}x{learners}-{target}-{run}"
                    for run in range(cfg.runs)
                    for target in ("roundtable", "baseline")
                ]
            )
        if "reconnect" in cfg.phases:
            points.append(infra.Point("rc", 1, cfg.learners))
            labels.append(
                [
                    f"reconnect-{target}-{run}"
                    for run in range(cfg.runs)
                    for target in ("roundtable", "baseline")
                ]
            )
        plans: dict[str, list[dict]] = {}
        for point, names in zip(points, labels, strict=True):
            infra.build_fixture([point], names, 6)
            plans.update(point.plans)
        log(f"fixture ready ({len(plans)} plans)")
        env = infra.server_env(database_url, cfg.redis_url)
        for phase, run in (("join", run_join), ("vote", run_vote), ("reconnect", run_reconnect)):
            if phase in cfg.phases:
                rows[phase] = run(cfg, plans, env)
                # What is measured so far is kept (a long run may be stopped).
                (RESULTS / f"{NAME}.json").write_text(json.dumps(rows, indent=1, default=str))
                _report.write_section(
                    NAME, report(cfg, rows, description, time.monotonic() - started)
                )
    finally:
        try:
            infra.redis_clean(cfg.redis_url)
        finally:
            drop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{NAME}.json").write_text(json.dumps(rows, indent=1, default=str))
    _report.publish(NAME, report(cfg, rows, description, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
