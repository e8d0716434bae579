"""Benchmark: watching together with players that behave like browsers.

bench/playback_sync.py computes each member's position straight from the room
state, so its spread measures clock-estimate error. Here every member is a
simulated browser page:

- a device clock with its own offset (±BENCH_SKEW_MS) and drift
  (±BENCH_DRIFT_PPM), and a media clock that runs off true time by its own
  ±BENCH_MEDIA_DRIFT_PPM;
- a network link of 20–BENCH_MAX_DELAY_MS ms one way (fixed per member) plus
  up to BENCH_JITTER_MS of jitter per message, both directions, in order;
- a media element: `play()` starts the decoder late by 10–60 ms, a seek takes
  20–80 ms (`seeking` meanwhile), `playbackRate` applies from the moment it is
  set;
- the page's own rules, ported line by line from JavaScript:
  `static/playback/sync.js` (`ServerClock.add`: the offset of the
  lowest-delay of the last 8 ping samples; `expectedPosition`;
  `DriftCorrector.decide`: nothing under 100 ms, a rate nudge of 1 % + drift /
  40 s capped at ±5 % once a drift persists for 3 checks, a seek past 2 s),
  `static/playback/player.js` (`sync()`, run on every state frame and every
  200 ms tick: wait for a scheduled start, start with a seek when more than
  150 ms off, let the player settle 700 ms after a start or seek before
  judging drift, seek to expected + 120 ms; `reportReady()` after a group
  seek) and `static/playback/connection.js` (pings every 700 ms for the first
  8, then every 5 s).

The baseline is the same browser without the rules: it applies each frame
when it arrives (play from the frame's position, pause where it is, seek at
once), like a page with no clock.

Measured continuously: every 50 ms, each room's spread (max − min of its
members' media positions at one true instant), counting every member whether
or not the latest frame has reached it yet, by phase: steady play (more than
2 s after a play or seek started), within 2 s after a seek, paused, and the 5 s
after a member joins a playing room late. Scenario per round, in every room at
once: play, steady, seek while playing, steady, pause, play; after the rounds a
late joiner. Targets: steady p99 < 100 ms, within 2 s after a seek p99 < 250 ms.

    .venv/bin/python bench/playback_together.py     # about 3 minutes
    BENCH_ROOMS=4 BENCH_ROUNDS=1 .venv/bin/python bench/playback_together.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")

import _report
import playback_sync as base

NAME = "playback_together"
base.BENCH_DATABASE = "roundtable_playback_together"
base.NAME = NAME

# static/playback/sync.js, player.js, connection.js
CLOCK_SAMPLES = 8
DRIFT_IGNORE_MS = 100
DRIFT_SEEK_MS = 2000
RATE_NUDGE_MAX = 0.05
DRIFT_PERSIST_SAMPLES = 3
TICK_MS = 200
EXACT_MS = 40
START_SETTLE_MS = 700
PING_FAST_MS = 700
PING_SLOW_MS = 5000
PING_FAST_COUNT = 8
END_MS = 3_600_000

STEADY_P99_MS = 100.0
SEEK_P99_MS = 250.0
SAMPLE_S = 0.05
T0 = time.time()


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Config:
    rooms: int = field(default_factory=lambda: _env_int("BENCH_ROOMS", 12))
    members: int = field(default_factory=lambda: _env_int("BENCH_MEMBERS", 6))
    rounds: int = field(default_factory=lambda: _env_int("BENCH_ROUNDS", 2))
    min_delay_ms: int = field(default_factory=lambda: _env_int("BENCH_MIN_DELAY_MS", 20))
    max_delay_ms: int = field(default_factory=lambda: _env_int("BENCH_MAX_DELAY_MS", 150))
    jitter_ms: int = field(default_factory=lambda: _env_int("BENCH_JITTER_MS", 20))
    skew_ms: int = field(default_factory=lambda: _env_int("BENCH_SKEW_MS", 2000))
    drift_ppm: int = field(default_factory=lambda: _env_int("BENCH_DRIFT_PPM", 100))
    media_drift_ppm: int = field(default_factory=lambda: _env_int("BENCH_MEDIA_DRIFT_PPM", 500))
    seed: int = field(default_factory=lambda: _env_int("BENCH_SEED", 7))


# --- The page's rules (static/playback/sync.js) ----------------------------------------------


class ServerClock:
    """sync.js ServerClock."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.offset = 0.0

    def add(self, t0: float, server_ms: float, t3: float) -> None:
        delay = t3 - t0
        if not delay >= 0:
            return
        self.samples.append((server_ms - (t0 + t3) / 2, delay))
        if len(self.samples) > CLOCK_SAMPLES:
            self.samples.pop(0)
        self.offset = min(self.samples, key=lambda s: s[1])[0]

    @property
    def synced(self) -> bool:
        return bool(self.samples)


def expected_position(state: dict, t: float, end_ms: float = END_MS) -> float:
    """sync.js expectedPosition."""
    if not state:
        return 0.0
    if state["state"] != "playing":
        return state["position_ms"]
    position = state["position_ms"] + max(0.0, t - state["at_ms"]) * (state.get("rate") or 1)
    limit = state.get("until_ms") if state.get("until_ms") is not None else end_ms
    if limit is not None:
        position = min(position, max(limit, state["position_ms"]))
    return position


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


class DriftCorrector:
    """sync.js DriftCorrector."""

    def __init__(self) -> None:
        self.history: list[float] = []

    def reset(self) -> None:
        self.history = []

    def decide(self, drift_ms: float) -> dict:
        self.history.append(drift_ms)
        if len(self.history) > DRIFT_PERSIST_SAMPLES:
            self.history.pop(0)
        magnitude = abs(drift_ms)
        if magnitude < DRIFT_IGNORE_MS:
            return {"action": "none", "rate": 1}
        persistent = len(self.history) == DRIFT_PERSIST_SAMPLES and all(
            _sign(d) == _sign(drift_ms) and abs(d) >= DRIFT_IGNORE_MS for d in self.history
        )
        if not persistent:
            return {"action": "hold"}
        if magnitude > DRIFT_SEEK_MS and all(abs(d) > DRIFT_SEEK_MS for d in self.history):
            self.reset()
            return {"action": "seek"}
        nudge = min(RATE_NUDGE_MAX, 0.01 + magnitude / 40000)
        return {"action": "rate", "rate": 1 - nudge if drift_ms > 0 else 1 + nudge}


# --- A media element --------------------------------------------------------------------------


class Media:
    """An HTMLMediaElement as far as sync needs it, on true time (seconds)."""

    def __init__(self, rng: random.Random, media_drift: float) -> None:
        self.rng = rng
        self.drift = media_drift
        self.position = 0.0  # ms at `since`
        self.since = time.time()
        self.paused = True
        self.rate = 1.0
        self.running_from = 0.0  # true time the decoder actually runs from
        self.seek_done = 0.0

    def current_ms(self, t: float | None = None) -> float:
        t = time.time() if t is None else t
        if self.paused or t < self.running_from:
            return self.position
        start = max(self.since, self.running_from)
        return self.position + (t - start) * 1000 * self.rate * (1 + self.drift)

    def _rebase(self) -> None:
        now = time.time()
        self.position = self.current_ms(now)
        self.since = now

    @property
    def seeking(self) -> bool:
        return time.time() < self.seek_done

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self._rebase()
            self.rate = rate

    def pause(self) -> None:
        self._rebase()
        self.paused = True

    def play(self) -> None:
        if not self.paused:
            return
        self._rebase()
        self.paused = False
        # The decoder starts late by a few tens of ms.
        self.running_from = max(self.seek_done, time.time() + self.rng.uniform(0.010, 0.060))

    def seek(self, ms: float) -> None:
        now = time.time()
        self.position = max(0.0, ms)
        self.since = now
        self.seek_done = now + self.rng.uniform(0.020, 0.080)
        if not self.paused:
            self.running_from = self.seek_done


# --- A browser page ---------------------------------------------------------------------------


class Browser:
    def __init__(self, cookie: str, cfg: Config, rng: random.Random, follows_rules: bool) -> None:
        self.cookie = cookie
        self.rng = rng
        self.rules = follows_rules
        self.delay = rng.uniform(cfg.min_delay_ms, cfg.max_delay_ms) / 1000
        self.jitter = cfg.jitter_ms / 1000
        self.skew = rng.uniform(-cfg.skew_ms, cfg.skew_ms) / 1000
        self.clock_drift = rng.uniform(-cfg.drift_ppm, cfg.drift_ppm) / 1e6
        self.media = Media(rng, rng.uniform(-cfg.media_drift_ppm, cfg.media_drift_ppm) / 1e6)
        self.clock = ServerClock()
        self.corrector = DriftCorrector()
        self.state: dict | None = None
        self.state_seq = 0
        self.settle_until = 0.0
        self.ready_sent_for = None
        self.action_timer: asyncio.TimerHandle | None = None
        self.pings: dict[str, float] = {}
        self.acks: dict[str, asyncio.Future] = {}
        self.out_free = self.in_free = 0.0
        self.ids = 0
        self.ws = None
        self.tasks: list[asyncio.Task] = []
        self.closed = False

    def local_now(self) -> float:
        """performance.timeOrigin + performance.now(), in ms: offset and drift."""
        now = time.time()
        return (now + self.skew + (now - T0) * self.clock_drift) * 1000

    def server_now(self) -> float:
        return self.local_now() + self.clock.offset

    def _link(self, free_at: float) -> float:
        return max(free_at, time.time() + self.delay + self.rng.uniform(0, self.jitter))

    async def connect(self, url: str, origin: str) -> None:
        import websockets

        self.ws = await websockets.connect(
            url, additional_headers={"Cookie": self.cookie, "Origin": origin}, max_size=2**22
        )
        loop = asyncio.get_running_loop()
        self.tasks += [
            asyncio.create_task(self._reader()),
            asyncio.create_task(self._pinger()),
            asyncio.create_task(self._ticker()),
        ]
        del loop

    async def close(self) -> None:
        self.closed = True
        for task in self.tasks:
            task.cancel()
        if self.action_timer:
            self.action_timer.cancel()
        if self.ws is not None:
            await self.ws.close()

    def send(self, frame_type: str, data: dict | None = None) -> str:
        self.ids += 1
        frame_id = f"{id(self)}-{self.ids}"
        text = json.dumps({"type": frame_type, "id": frame_id, "data": data or {}})
        self.out_free = self._link(self.out_free)
        if frame_type == "ping":
            self.pings[frame_id] = self.local_now()
        loop = asyncio.get_running_loop()
        ws = self.ws
        loop.call_at(
            loop.time() + (self.out_free - time.time()),
            lambda: asyncio.ensure_future(ws.send(text)),
        )
        return frame_id

    async def request(self, frame_type: str, data: dict | None = None) -> dict:
        frame_id = self.send(frame_type, data)
        future = asyncio.get_running_loop().create_future()
        self.acks[frame_id] = future
        return await asyncio.wait_for(future, 15)

    async def _reader(self) -> None:
        loop = asyncio.get_running_loop()
        async for text in self.ws:
            self.in_free = self._link(self.in_free)
            loop.call_at(loop.time() + (self.in_free - time.time()), self._deliver, text)

    async def _pinger(self) -> None:
        """connection.js: 8 quick pings, then one every 5 s."""
        count = 0
        while True:
            self.send("ping", {"t": self.local_now()})
            count += 1
            await asyncio.sleep((PING_FAST_MS if count < PING_FAST_COUNT else PING_SLOW_MS) / 1000)

    async def _ticker(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, TICK_MS / 1000))
        while True:
            self.sync()
            await asyncio.sleep(TICK_MS / 1000)

    def _deliver(self, text: str) -> None:
        if self.closed:
            return
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "pong":
            t3 = self.local_now()
            t0 = self.pings.pop(frame.get("id"), None)
            if t0 is not None:
                self.clock.add(t0, frame["data"]["server_ms"], t3)
        elif kind in ("snapshot", "room.state_changed"):
            state = dict(frame["data"]["state"] if kind == "snapshot" else frame["data"])
            state["seq"] = state.get("seq") or frame.get("seq") or 0
            self.state = state
            self.state_seq = state["seq"]
            if self.rules:
                self.sync()
            else:
                self._on_arrival(state)
        elif kind in ("ack", "error"):
            future = self.acks.pop(frame.get("id"), None)
            if future is not None and not future.done():
                future.set_result(frame)

    # --- The baseline: apply on arrival ---------------------------------------------------

    def _on_arrival(self, state: dict) -> None:
        media = self.media
        if state["state"] == "playing":
            media.seek(state["position_ms"])
            media.set_rate(state.get("rate") or 1)
            media.play()
        elif state["state"] == "paused":
            media.pause()
            if state.get("cause") == "seek":
                media.seek(state["position_ms"])
        else:  # waiting for a group seek: go there, say ready when loaded
            media.pause()
            media.seek(state["position_ms"])
            waiting = state.get("waiting") or {}
            if waiting.get("reason") == "seek":
                seq = self.state_seq
                asyncio.get_running_loop().call_later(0.1, lambda: self.send("ready", {"seq": seq}))

    # --- player.js sync() ---------------------------------------------------------------------

    def _seek_media(self, ms: float) -> None:
        self.media.seek(ms)
        self.settle_until = self.local_now() + START_SETTLE_MS

    def _later(self, ms: float) -> None:
        if self.action_timer:
            self.action_timer.cancel()
        self.action_timer = asyncio.get_running_loop().call_later(max(0, ms) / 1000, self.sync)

    def _report_ready(self) -> None:
        state = self.state
        if self.ready_sent_for == state["seq"] or self.media.seeking:
            return
        if abs(self.media.current_ms() - state["position_ms"]) > 250:
            return
        self.ready_sent_for = state["seq"]
        self.send("ready", {"seq": state["seq"]})

    def sync(self) -> None:
        if not self.rules or self.closed:
            return
        state, media = self.state, self.media
        if not state or not self.clock.synced:
            return
        now = self.server_now()
        end = END_MS
        current = media.current_ms()
        if state["state"] == "waiting":
            if not media.paused:
                media.pause()
            if abs(current - state["position_ms"]) > EXACT_MS and not media.seeking:
                self._seek_media(state["position_ms"])
            waiting = state.get("waiting") or {}
            if waiting.get("reason") == "seek":
                self._report_ready()
            return
        if state["state"] == "paused":
            if now < state["at_ms"] and not media.paused:
                self._later(state["at_ms"] - now)
                return
            if not media.paused:
                media.pause()
            if abs(media.current_ms() - state["position_ms"]) > EXACT_MS and not media.seeking:
                self._seek_media(state["position_ms"])
            return
        expected = expected_position(state, now, end)
        media.set_rate(state.get("rate") or 1)
        if state.get("until_ms") is not None and expected >= state["until_ms"] - 15:
            if not media.paused:
                media.pause()
            if abs(current - state["until_ms"]) > EXACT_MS and not media.seeking:
                self._seek_media(state["until_ms"])
            return
        if expected >= end - 30:
            if not media.paused:
                media.pause()
            return
        if now < state["at_ms"]:
            if not media.paused:
                media.pause()
            if abs(media.current_ms() - state["position_ms"]) > EXACT_MS and not media.seeking:
                self._seek_media(state["position_ms"])
            self._later(state["at_ms"] - now)
            return
        if state.get("until_ms") is not None:
            self._later((state["until_ms"] - expected) / (state.get("rate") or 1))
        if media.paused:
            if abs(media.current_ms() - expected) > 150:
                self._seek_media(expected)
            self.settle_until = self.local_now() + START_SETTLE_MS
            media.play()
            return
        if media.seeking or self.local_now() < self.settle_until:
            return
        decision = self.corrector.decide(media.current_ms() - expected)
        rate = state.get("rate") or 1
        if decision["action"] == "none":
            media.set_rate(rate)
        elif decision["action"] == "rate":
            media.set_rate(rate * decision["rate"])
        elif decision["action"] == "seek":
            media.set_rate(rate)
            self._seek_media(expected + 120)


# --- Scenario and measurement -------------------------------------------------------------------


class Room:
    def __init__(self, room_id: int, members: list[Browser], late: Browser) -> None:
        self.room_id = room_id
        self.members = members
        self.late = late
        self.phase = "idle"
        self.phase_from = 0.0  # true time the phase's measurement starts
        self.phase_until = float("inf")


async def run_phase(kind: str, cfg: Config, plan: list[dict], port: int, seed: int) -> dict:
    rng = random.Random(seed)
    url = f"ws://127.0.0.1:{port}/ws/playback/{{room}}/"
    origin = f"http://127.0.0.1:{port}"
    rules = kind == "rules"
    rooms = []
    for spec in plan:
        browsers = [
            Browser(cookie, cfg, random.Random(rng.random()), rules) for cookie in spec["cookies"]
        ]
        rooms.append(Room(spec["room_id"], browsers[:-1], browsers[-1]))
    for room in rooms:
        await asyncio.gather(
            *(b.connect(url.format(room=room.room_id), origin) for b in room.members)
        )
    await asyncio.sleep(PING_FAST_MS / 1000 * PING_FAST_COUNT)  # the page's first clock samples
    spreads: dict[str, list[float]] = {
        "steady": [],
        "after seek": [],
        "paused": [],
        "late joiner": [],
    }
    errors = 0
    sampling = True

    async def sampler() -> None:
        while sampling:
            t = time.time()
            for room in rooms:
                if room.phase in spreads and room.phase_from <= t < room.phase_until:
                    late = [room.late] if room.phase == "late joiner" else []
                    members = room.members + late
                    positions = [m.media.current_ms(t) for m in members]
                    spreads[room.phase].append(max(positions) - min(positions))
            await asyncio.sleep(SAMPLE_S)

    async def command(room: Room, frame: str, data: dict | None) -> dict | None:
        nonlocal errors
        try:
            reply = await room.members[0].request(frame, data)
        except TimeoutError:
            reply = None
        if not reply or reply.get("type") != "ack":
            errors += 1
            return None
        return reply

    def at_of(room: Room, seq: int) -> float | None:
        """The true time a state's at_ms (server clock) stands for, once it is known."""
        for member in room.members:
            if member.state and member.state_seq >= seq:
                return member.state["at_ms"] / 1000
        return None

    async def in_room(room: Room, index: int) -> None:
        for round_index in range(cfg.rounds):
            # Play; steady from 2 s after the scheduled start.
            room.phase = "idle"  # a command changes what is measured from its send
            reply = await command(room, "play", None)
            await asyncio.sleep(0.5)
            start = at_of(room, reply["data"]["seq"]) if reply else None
            if start is not None:
                room.phase, room.phase_from, room.phase_until = "steady", start + 2, float("inf")
            await asyncio.sleep(5.0 + rng.random())
            # Seek while playing: the 2 s after playback resumes.
            target = 60_000 + 40_000 * round_index + 1000 * index
            room.phase = "idle"
            reply = await command(room, "seek", {"position_ms": target})
            deadline = time.time() + 10
            resumed = None
            while time.time() < deadline and reply:
                states = [m.state for m in room.members if m.state]
                playing = [
                    s for s in states if s["state"] == "playing" and s["seq"] > reply["data"]["seq"]
                ]
                if playing:
                    resumed = playing[0]["at_ms"] / 1000
                    break
                await asyncio.sleep(0.02)
            if resumed is not None:
                room.phase, room.phase_from, room.phase_until = "after seek", resumed, resumed + 2
                await asyncio.sleep(max(0.0, resumed + 2 - time.time()))
                room.phase, room.phase_from, room.phase_until = "steady", resumed + 2, float("inf")
            await asyncio.sleep(3.0 + rng.random())
            room.phase = "idle"
            reply = await command(room, "pause", None)
            await asyncio.sleep(0.5)
            stop = at_of(room, reply["data"]["seq"]) if reply else None
            if stop is not None:
                room.phase, room.phase_from, room.phase_until = "paused", stop + 0.5, float("inf")
            await asyncio.sleep(2.0)
            room.phase = "idle"
        # A late joiner while the room plays.
        room.phase = "idle"
        reply = await command(room, "play", None)
        await asyncio.sleep(3.0)
        start = at_of(room, reply["data"]["seq"]) if reply else None
        if start is not None:
            room.phase, room.phase_from, room.phase_until = "steady", start + 2, float("inf")
        room.phase = "idle"  # the joiner's page is loading
        await room.late.connect(url.format(room=room.room_id), origin)
        # From the moment the late joiner's player runs (it waits for its
        # first clock sample and the state), for 5 s.
        deadline = time.time() + 10
        while room.late.media.paused and time.time() < deadline:
            await asyncio.sleep(0.01)
        joined = time.time()
        room.phase, room.phase_from, room.phase_until = "late joiner", joined, joined + 5
        await asyncio.sleep(5.5)
        room.phase = "idle"

    sampling_task = asyncio.create_task(sampler())
    await asyncio.gather(*(in_room(room, i) for i, room in enumerate(rooms)))
    sampling = False
    await sampling_task
    await asyncio.gather(
        *(b.close() for room in rooms for b in [*room.members, room.late] if b.ws),
        return_exceptions=True,
    )
    spreads["errors"] = [errors]
    spreads["clock_error_ms"] = [
        abs(b.clock.offset - (-b.skew * 1000)) for room in rooms for b in room.members
    ]
    return spreads


def percentile(values: list[float], q: float) -> float:
    return base.percentile(values, q)


def main() -> int:
    cfg = Config()
    base_cfg = base.Config()
    object.__setattr__(base_cfg, "rooms", cfg.rooms)
    object.__setattr__(base_cfg, "members", cfg.members + 1)  # + the late joiner
    description, database_url, drop = base.prepare_database()
    redis_url = base.redis_url_or_none()
    process = None
    started = time.monotonic()
    try:
        base.setup_django(database_url, redis_url)
        plan = base.build_fixture(base_cfg)
        port = base.free_port()
        process = base.start_server(database_url, redis_url, port)
        results = {}
        for kind in ("rules", "arrival"):
            base.reset_rooms()
            print(f"[{NAME}] {kind}: {cfg.rooms} rooms × {cfg.members} (+1 late)", flush=True)
            results[kind] = asyncio.run(run_phase(kind, cfg, plan, port, cfg.seed))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        drop()
    base.RESULTS.mkdir(exist_ok=True)
    (base.RESULTS / f"{NAME}.json").write_text(json.dumps(results))
    rows = []
    for phase in ("steady", "after seek", "paused", "late joiner"):
        ours, arrival = results["rules"][phase], results["arrival"][phase]
        rows.append(
            [
                phase,
                f"{len(ours):,}",
                f"{percentile(ours, 50):.0f}",
                f"{percentile(ours, 99):.0f}",
                f"{max(ours, default=float('nan')):.0f}",
                f"{percentile(arrival, 50):.0f}",
                f"{percentile(arrival, 99):.0f}",
                f"{max(arrival, default=float('nan')):.0f}",
            ]
        )
    steady = percentile(results["rules"]["steady"], 99)
    seek = percentile(results["rules"]["after seek"], 99)
    verdicts = [
        f"- Steady play p99 < {STEADY_P99_MS:.0f} ms: "
        f"{'**met**' if steady < STEADY_P99_MS else '**missed**'} ({steady:.0f} ms)",
        f"- Within 2 s after a seek p99 < {SEEK_P99_MS:.0f} ms: "
        f"{'**met**' if seek < SEEK_P99_MS else '**missed**'} ({seek:.0f} ms)",
    ]
    body = _report.render(
        "Playback together: browser-like players",
        [
            "phase",
            "samples (rules)",
            "page rules p50 ms",
            "p99",
            "max",
            "on arrival p50 ms",
            "p99",
            "max",
        ],
        rows,
        info={
            "Database": description,
            "Rooms × members": f"{cfg.rooms} × {cfg.members} (+1 late joiner each), one Daphne process",
            "Network": f"one way {cfg.min_delay_ms}–{cfg.max_delay_ms} ms per member + up to {cfg.jitter_ms} ms jitter per message",
            "Clocks": f"offset ±{cfg.skew_ms} ms, drift ±{cfg.drift_ppm} ppm; media clock ±{cfg.media_drift_ppm} ppm; decoder start 10–60 ms late, seeks 20–80 ms",
            "Rounds": f"{cfg.rounds} (play, seek while playing, pause), then a late joiner",
            "Whole run": f"{time.monotonic() - started:.0f} s, load average before: {os.getloadavg()[0]:.1f}",
            "Command": "`.venv/bin/python bench/playback_together.py`",
        },
        notes=[
            "Spread: max − min of a room's media positions at one true instant, every 50 ms, "
            "every member counted whether or not the last frame has reached it. *Page rules*: "
            "the drift rules ported from JavaScript (static/playback/sync.js `ServerClock`, "
            "`expectedPosition`, `DriftCorrector.decide`; static/playback/player.js `sync()` and "
            "`reportReady()`; static/playback/connection.js ping cadence). *On arrival*: the same "
            "simulated browser applying each frame when it arrives (no clock, no correction).",
            "\n".join(verdicts),
            f"Commands that failed: rules {results['rules']['errors'][0]}, on arrival "
            f"{results['arrival']['errors'][0]}. Clock estimate error of the page's members: "
            f"p50 {percentile(results['rules']['clock_error_ms'], 50):.1f} ms, p99 "
            f"{percentile(results['rules']['clock_error_ms'], 99):.1f} ms.",
        ],
    )
    _report.publish(NAME, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
