"""Benchmark: live-session fan-out, Roundtable vs a naive Channels consumer vs a
bare `websockets` server, with real processes on this machine.

N sessions × L simulated learners (WebSocket clients, the `websockets` client
library on asyncio, in BENCH_CLIENT_PROCS client processes) against one server
process. The same scenario runs, in this one benchmark run, against three
servers started one after the other on the same database and Redis:

- roundtable: Daphne serving `config.asgi:application` (the real consumer);
- naive: Daphne serving `bench/_naive_asgi.py` (one group per session, one
  `group_send` per change, `json.dumps` per recipient, no coalescing);
- bare: `bench/_bare_server.py`, plain `websockets` with `broadcast()`, no
  Django: the physical limit of Python on this machine.

Phases, per server:

1. join: every session's instructor, then its learners all at once (up to
   BENCH_CONNECT_CONCURRENCY handshakes in flight per client process), each
   authenticated by a Django session cookie and an Origin header, until each
   has its `snapshot`;
2. idle memory: server RSS (`/proc/<pid>/status` VmRSS) before and after
   every connection is open and idle, per connection;
3. busy: session 1's instructor switches mode (lecture ↔ table_talk)
   BENCH_CHANGES times, every BENCH_INTERVAL_MS, while every other session is
   busy (table chat at BENCH_CHAT_RATE and reactions at BENCH_REACTION_RATE
   per session per second). Latency of a change = from the instructor's send
   to the arrival of its `mode.changed` at the *last* of the session's
   learners (time.monotonic, same process);
4. ladder: every instructor switches mode at BENCH_RATES changes per second
   per session (open loop, BENCH_STEP_SECONDS per step): frames delivered per
   second measured at the clients, and last-learner latency per step;
   then one longer step (BENCH_COST_SECONDS at BENCH_COST_RATE, naive
   excepted) for the server CPU per delivered frame against bare's;
5. ack-paced: every instructor sends its next switch as soon as the previous
   one is acknowledged: the write path's peak.

Everything runs on one 2-core machine: server, PostgreSQL, Redis and the load
generator share the two cores (the report gives each one's CPU time).

Database: a dedicated PostgreSQL database `roundtable_fanout` on the server of
DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), created,
migrated and dropped. Redis: BENCH_REDIS_URL (default DB 13 of 127.0.0.1);
only the keys the servers write (`asgi*`, `roundtable:*`) are deleted.
Results go to docs/performance.md, section `live_fanout`; server logs to
bench/results/live_fanout-*.log.

    .venv/bin/python bench/live_fanout.py
    BENCH_SESSIONS=3 BENCH_LEARNERS=50 .venv/bin/python bench/live_fanout.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
NAME = "live_fanout"
BENCH_DATABASE = "roundtable_fanout"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
TARGETS = {
    "roundtable": "Roundtable (Daphne, `config.asgi`)",
    "roundtable2": "Roundtable, 2 Daphne processes (`config.asgi`, learners spread over both)",
    "fixed": "Roundtable + prototype settings (`bench/_settings_proto.py`)",
    "pooled": "Roundtable + prototype settings + database thread pool (`bench/_pooled_asgi.py`)",
    "naive": "naive Channels consumer (Daphne, `bench/_naive_asgi.py`)",
    "bare": "bare `websockets` broadcast (no Django)",
}
DEFAULT_TARGETS = ("roundtable", "roundtable2", "naive", "bare")
PROCESSES = {"roundtable2": 2}
# The targets.
HELD_TARGET = 1000
P99_TARGET_MS = 200.0
NAIVE_RATIO_TARGET = 3.0
COST_RATIO_TARGET = 3.0  # server CPU per delivered frame, × the bare server's
MEMORY_TARGET_KB = 40.0

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


# --- Configuration ---------------------------------------------------------------


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"{NAME}: {name} must be an integer") from None
    if value < minimum:
        raise SystemExit(f"{NAME}: {name} must be at least {minimum}")
    return value


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"{NAME}: {name} must be a number") from None


@dataclass(frozen=True)
class Config:
    sessions: int
    learners: int
    table_size: int
    changes: int
    interval_ms: int
    chat_rate: float
    reaction_rate: float
    rates: tuple[float, ...]
    step_seconds: float
    cost_rate: float
    cost_seconds: float
    acked_seconds: float
    procs: int
    connect_concurrency: int
    targets: tuple[str, ...]
    redis_url: str
    quiet_wait: float

    @classmethod
    def from_env(cls) -> Config:
        targets = tuple(
            t.strip() for t in os.environ.get("BENCH_TARGETS", ",".join(DEFAULT_TARGETS)).split(",")
        )
        unknown = [t for t in targets if t not in TARGETS]
        if unknown or not targets:
            raise SystemExit(f"{NAME}: BENCH_TARGETS: unknown {unknown}; known {list(TARGETS)}")
        try:
            rates = tuple(
                float(r)
                for r in os.environ.get("BENCH_RATES", "0.25,0.5,1,2,3,4,6,8,12,16,24").split(",")
            )
        except ValueError:
            raise SystemExit(f"{NAME}: BENCH_RATES is a comma-separated list of numbers") from None
        return cls(
            sessions=_env_int("BENCH_SESSIONS", 7, 1),
            learners=_env_int("BENCH_LEARNERS", 150, 1),
            table_size=_env_int("BENCH_TABLE_SIZE", 6, 2),
            changes=_env_int("BENCH_CHANGES", 50, 2),
            interval_ms=_env_int("BENCH_INTERVAL_MS", 200, 1),
            chat_rate=_env_float("BENCH_CHAT_RATE", 5.0),
            reaction_rate=_env_float("BENCH_REACTION_RATE", 10.0),
            rates=tuple(sorted(r for r in rates if r > 0)),
            step_seconds=_env_float("BENCH_STEP_SECONDS", 4.0),
            cost_rate=_env_float("BENCH_COST_RATE", 8.0),
            cost_seconds=_env_float("BENCH_COST_SECONDS", 20.0),
            acked_seconds=_env_float("BENCH_ACKED_SECONDS", 5.0),
            procs=_env_int("BENCH_CLIENT_PROCS", 2, 1),
            connect_concurrency=_env_int("BENCH_CONNECT_CONCURRENCY", 30, 1),
            targets=targets,
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
            quiet_wait=_env_float("BENCH_QUIET_WAIT", 30.0),
        )

    @property
    def total_learners(self) -> int:
        return self.sessions * self.learners


# --- Database and Redis -------------------------------------------------------------


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def prepare_database():
    """A fresh PostgreSQL database; returns (description, url, drop)."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(
            f"{NAME}: needs PostgreSQL (Daphne and this process share it); DATABASE_URL is {parts.scheme}:"
        )
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = sql.Identifier(BENCH_DATABASE)

    def execute(statement) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def drop() -> None:
        _close_django_connections()
        execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))

    drop()
    execute(sql.SQL("CREATE DATABASE {}").format(name))
    bench_url = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return f"PostgreSQL on {where}, dedicated database `{BENCH_DATABASE}`", bench_url, drop


def redis_clean(url: str) -> None:
    """Delete what the servers write (channel layer, cache, frame buffers,
    coalescing claims) from the benchmark's Redis database, nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    for pattern in ("asgi*", "roundtable:*"):
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    client.close()


def setup_django(database_url: str, redis_url: str) -> str:
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


# --- Fixture: courses, users, tables, seats, live sessions, login sessions ------------


def build_fixture(cfg: Config) -> list[dict]:
    """One course per live session: an instructor and `learners` learners seated
    at tables of `table_size`; one Django login session per user. Returns the
    plan the client processes work from (ids and cookies only)."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from classroom.models import LiveSession, RoomMode, Seat, SessionState, Table
    from courses.models import Course, Enrollment, Role, User

    now = timezone.now()
    password = make_password(None)  # unusable; one value for all: the hash is the slow part
    courses = Course.objects.bulk_create(
        [
            Course(title=f"Fan-out {s + 1}", code=f"FANOUT-{s + 1}", term="bench")
            for s in range(cfg.sessions)
        ]
    )
    instructors = User.objects.bulk_create(
        [
            User(
                username=f"fanout-{s + 1}-instructor",
                display_name=f"Instructor {s + 1}",
                password=password,
            )
            for s in range(cfg.sessions)
        ]
    )
    learners = User.objects.bulk_create(
        [
            User(
                username=f"fanout-{s + 1}-{i + 1}",
                display_name=f"Learner {s + 1}.{i + 1}",
                password=password,
            )
            for s in range(cfg.sessions)
            for i in range(cfg.learners)
        ],
        batch_size=1000,
    )
    enrollments = [
        Enrollment(user=instructors[s], course=courses[s], role=Role.INSTRUCTOR)
        for s in range(cfg.sessions)
    ]
    enrollments += [
        Enrollment(user=learners[s * cfg.learners + i], course=courses[s], role=Role.LEARNER)
        for s in range(cfg.sessions)
        for i in range(cfg.learners)
    ]
    Enrollment.objects.bulk_create(enrollments, batch_size=1000)
    per_course = -(-cfg.learners // cfg.table_size)
    tables = Table.objects.bulk_create(
        [
            Table(course=courses[s], name=f"Table {t + 1}", capacity=cfg.table_size, position=t)
            for s in range(cfg.sessions)
            for t in range(per_course)
        ]
    )
    seats = []
    table_of: dict[int, int] = {}
    for s in range(cfg.sessions):
        for i in range(cfg.learners):
            table = tables[s * per_course + i // cfg.table_size]
            learner = learners[s * cfg.learners + i]
            seats.append(Seat(course=courses[s], table=table, user=learner))
            table_of[learner.pk] = table.pk
    Seat.objects.bulk_create(seats, batch_size=1000)
    sessions = LiveSession.objects.bulk_create(
        [
            LiveSession(
                course=courses[s],
                title=f"Fan-out session {s + 1}",
                scheduled_start=now - timedelta(minutes=5),
                scheduled_end=now + timedelta(hours=3),
                state=SessionState.LIVE,
                started_at=now,
                started_by=instructors[s],
                mode=RoomMode.LECTURE,
                mode_changed_at=now,
            )
            for s in range(cfg.sessions)
        ]
    )

    store = SessionStore()
    rows: list[Session] = []
    cookies: dict[int, str] = {}
    for user in [*instructors, *learners]:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = store.encode(
            {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
        )
        rows.append(
            Session(session_key=key, session_data=data, expire_date=now + timedelta(days=1))
        )
        cookies[user.pk] = f"{settings.SESSION_COOKIE_NAME}={key}"
    Session.objects.bulk_create(rows, batch_size=1000)

    return [
        {
            "id": sessions[s].pk,
            "index": s,
            "instructor": {"id": instructors[s].pk, "cookie": cookies[instructors[s].pk]},
            "learners": [
                {"id": user.pk, "cookie": cookies[user.pk], "table_id": table_of[user.pk]}
                for user in learners[s * cfg.learners : (s + 1) * cfg.learners]
            ],
        }
        for s in range(cfg.sessions)
    ]


def reset_state() -> None:
    """Between servers: the live sessions as they were when the fixture was made."""
    from django.db import connection
    from django.utils import timezone

    from classroom.models import LiveSession, RoomMode

    tables = [
        "classroom_attendance",
        "classroom_participant",
        "classroom_chatmessage",
        "classroom_clientaction",
        "classroom_questionupvote",
        "classroom_question",
        "classroom_handraise",
        "classroom_podiumspeaker",
        "classroom_timer",
        "classroom_announcement",
        "classroom_helpflag",
        "analytics_learningevent",
    ]
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        for table in tables:
            if table in existing:
                cursor.execute(f'DELETE FROM "{table}"')  # noqa: S608 (names from the list above)
    LiveSession.objects.update(
        seq=0,
        stream_heads={},
        mode=RoomMode.LECTURE,
        mode_table=None,
        mode_changed_at=timezone.now(),
    )
    _close_django_connections()


# --- Processes: servers and clients ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_ticks(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def processes() -> dict[int, tuple[str, float]]:
    """Every process: pid → (command line, CPU seconds so far)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry.name)] = (cmdline, cpu_ticks(int(entry.name)))
    return table


class CpuMeter:
    """Where the machine's CPU went between `start()` and `stop()`, in cores:
    the server, the client processes, Redis, PostgreSQL (the backends of the
    benchmark's database and the server's own processes), and `others`:
    everything else on the machine (other people's tests, browsers, their
    PostgreSQL backends), which competes with the measurement."""

    def __init__(self, server_pids: list[int], client_pids: list[int]) -> None:
        self.server_pids = set(server_pids)
        self.client_pids = set(client_pids)

    def classify(self, pid: int, cmdline: str) -> str:
        if pid in self.server_pids:
            return "server"
        if pid in self.client_pids:
            return "clients"
        if pid == os.getpid():
            return "bench"
        if cmdline.startswith("postgres:") and "postgres:" in cmdline:
            # Backends name their database; the server's own processes do not.
            if BENCH_DATABASE in cmdline or not re.search(
                r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]", cmdline
            ):
                return "postgres"
            return "others"
        if cmdline.startswith("/usr/lib/postgresql") or "redis-server" in cmdline:
            return "postgres" if "postgres" in cmdline else "redis"
        return "others"

    def sample(self) -> dict:
        busy, total = machine_ticks()
        return {"procs": processes(), "busy": busy, "total": total, "wall": time.monotonic()}

    def start(self) -> None:
        self.before = self.sample()

    def stop(self) -> dict[str, float]:
        after = self.sample()
        wall = after["wall"] - self.before["wall"] or 1e-9
        used: Counter[str] = Counter()
        for pid, (cmdline, cpu) in after["procs"].items():
            earlier = self.before["procs"].get(pid)
            delta = cpu - earlier[1] if earlier and earlier[0] == cmdline else cpu
            used[self.classify(pid, cmdline)] += max(0.0, delta)
        result = {
            key: used[key] / wall for key in ("server", "clients", "redis", "postgres", "others")
        }
        result["machine"] = (after["busy"] - self.before["busy"]) / (
            (after["total"] - self.before["total"]) or 1e-9
        )
        result["wall"] = wall
        return result


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most `limit` s) until the rest of the machine uses under
    `threshold` cores over one second. Returns the last measured load."""
    meter = CpuMeter([], [])
    deadline = time.monotonic() + limit
    while True:
        meter.start()
        time.sleep(1.0)
        load = meter.stop()
        foreign = load["others"] + load["server"] + load["clients"]
        if foreign < threshold or time.monotonic() >= deadline:
            return foreign


class Server:
    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.ports = [free_port() for _ in range(PROCESSES.get(kind, 1))]
        self.port = self.ports[0]
        self.env = dict(env)
        if len(self.ports) > 1:
            # Clients send the first process's page as their Origin (as behind
            # one public address); the Origin check compares the port too.
            self.env["CSRF_TRUSTED_ORIGINS"] = f"http://127.0.0.1:{self.port}"
        if kind in ("fixed", "pooled", "naive"):
            # The baseline runs with the configuration fixes too, so that it
            # measures the fan-out design and not the two configuration bugs.
            self.env["DJANGO_SETTINGS_MODULE"] = "bench._settings_proto"
            # It imports config.asgi's WebSocket stack; it keeps Python's own
            # GIL switch interval and collector thresholds, as a naive server would.
            self.env["ROUNDTABLE_GIL_SWITCH_US"] = "5000"
            self.env["ROUNDTABLE_GC_GEN2"] = "10"
        self.log_path = RESULTS / f"{NAME}-{kind}.log"
        self.processes: list[subprocess.Popen] = []

    @property
    def process(self) -> subprocess.Popen | None:
        return self.processes[0] if self.processes else None

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    @property
    def bases(self) -> str:
        """Every process's address, comma-separated: clients spread their
        connections over them (by user id), as a load balancer would."""
        return ",".join(f"ws://127.0.0.1:{port}" for port in self.ports)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        python = sys.executable
        if self.kind == "bare":
            return [python, str(BENCH / "_bare_server.py"), str(port)]
        application = {
            "naive": "bench._naive_asgi:application",
            "pooled": "bench._pooled_asgi:application",
        }.get(self.kind, "config.asgi:application")
        from core.daphne import daphne_command

        return daphne_command(port, application)

    def start(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("w", encoding="utf-8")
        self.processes = [
            subprocess.Popen(
                self.command(port),
                cwd=ROOT,
                env=self.env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            for port in self.ports
        ]
        deadline = time.monotonic() + 60
        waiting = list(self.ports)
        while waiting and time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise SystemExit(f"{NAME}: {self.kind} server exited at start; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.2)
        if waiting:
            raise SystemExit(f"{NAME}: {self.kind} server did not listen in 60 s")

    def status(self, field: str) -> int:
        """A /proc/<pid>/status value in kB (VmRSS, VmHWM), summed over the
        server's processes."""
        total = 0
        for pid in self.pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        return total

    def stop(self) -> None:
        if not self.processes:
            return
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.log.close()

    def log_summary(self) -> dict:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        errors = [line for line in lines if re.search(r"\b(ERROR|CRITICAL|Traceback)\b", line)]
        exceptions = Counter(
            match.group(1)
            for match in re.finditer(
                r"^(\w+(?:\.\w+)*(?:Error|Exception)\b[^\n]{0,120})", text, re.M
            )
        )
        return {
            "lines": len(lines),
            "errors": len(errors),
            "first_errors": errors[:5],
            "exceptions": exceptions.most_common(5),
            "over_capacity": sum("over capacity" in line for line in lines),
            "app_exceptions": sum("Exception inside application" in line for line in lines),
            "redis_timeouts": sum(
                "Exception inside application: Timeout reading from" in line for line in lines
            ),
            "killed": sum("took too long to shut down and was killed" in line for line in lines),
            "rejects": sum("WSREJECT" in line for line in lines),
            "http_500": sum(" 500 " in line for line in lines),
        }


class Clients:
    """The client processes; each owns whole sessions."""

    def __init__(self, procs: int, plan: list[dict]) -> None:
        from _fanout_client import main as client_main

        context = multiprocessing.get_context("spawn")
        procs = min(procs, len(plan))
        self.pipes = []
        self.processes = []
        for index in range(procs):
            mine = [session for session in plan if session["index"] % procs == index]
            parent, child = context.Pipe()
            process = context.Process(target=client_main, args=(child, mine), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def call(self, command: str, args: dict | None = None, timeout: float = 600) -> list[dict]:
        for pipe in self.pipes:
            pipe.send((command, args or {}))
        results = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise SystemExit(f"{NAME}: client process did not answer {command} in {timeout} s")
            result = pipe.recv()
            if "error" in result:
                raise SystemExit(
                    f"{NAME}: client {command} failed: {result['error']}\n{result.get('trace', '')}"
                )
            results.append(result)
        return results

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("exit", {}))
            except OSError:
                pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)


def warm_up(server: Server, plan: list[dict]) -> None:
    """One connection through the whole path of every server process before
    memory is measured, so that lazy imports and pools are not counted as
    per-connection memory."""
    for base in server.bases.split(","):
        _warm_up_one(server, base, plan)


def _warm_up_one(server: Server, base: str, plan: list[dict]) -> None:
    from websockets.asyncio.client import connect

    session = plan[0]
    user = session["learners"][0]

    async def run() -> None:
        url = f"{base}/ws/live/{session['id']}/"
        if server.kind == "bare":
            url += f"?u={user['id']}&t={user['table_id']}&s=0"
        async with connect(
            url,
            origin=server.origin,
            additional_headers={"Cookie": user["cookie"]},
            compression=None,
            proxy=None,
            open_timeout=30,
        ) as ws:
            await asyncio.wait_for(ws.recv(), 30)

    asyncio.run(run())


# --- Statistics ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def merge(results: list[dict]) -> dict:
    """Client processes' answers to one measured phase, as one."""
    merged = {
        "last": [v for r in results for v in r.get("last", [])],
        "every": [v for r in results for v in r.get("every", [])],
        "first": [v for r in results for v in r.get("first", [])],
        "ack": [v for r in results for v in r.get("ack", [])],
        "unacked": sum(r.get("unacked", 0) for r in results),
        "dropped": sum(r.get("dropped", 0) for r in results),
        "learners": sum(r.get("learners", 0) for r in results),
        "lost": sum(r.get("lost", 0) for r in results),
        "incomplete_changes": sum(r.get("incomplete_changes", 0) for r in results),
        "changes": sum(r.get("changes", 0) for r in results),
        "delivered": sum(r.get("delivered", 0) for r in results),
        "seconds": max((r.get("seconds", 0.0) for r in results), default=0.0),
        "sent_seconds": max((r.get("sent_seconds", 0.0) for r in results), default=0.0),
    }
    merged["p50_ms"] = percentile(merged["last"], 0.50) * 1000
    merged["p99_ms"] = percentile(merged["last"], 0.99) * 1000
    merged["max_ms"] = max(merged["last"], default=float("nan")) * 1000
    merged["every_p50_ms"] = percentile(merged["every"], 0.50) * 1000
    merged["first_p50_ms"] = percentile(merged["first"], 0.50) * 1000
    merged["ack_p50_ms"] = percentile(merged["ack"], 0.50) * 1000
    merged["ack_p99_ms"] = percentile(merged["ack"], 0.99) * 1000
    merged["fps"] = merged["delivered"] / merged["seconds"] if merged["seconds"] else 0.0
    merged["changes_per_s"] = (
        merged["changes"] / merged["sent_seconds"] if merged["sent_seconds"] else 0.0
    )
    return merged


# --- One server, the whole scenario ---------------------------------------------------------


def gate(cfg: Config, what: str) -> float:
    """Let other people's work on this shared machine calm down first."""
    load = wait_for_quiet(cfg.quiet_wait)
    if load >= 0.25:
        print(
            f"[{NAME}] {what}: the machine is busy with other work ({load:.2f} cores)",
            file=sys.stderr,
            flush=True,
        )
    return load


def run_target(kind: str, cfg: Config, plan: list[dict], env: dict[str, str]) -> dict:
    gate(cfg, kind)
    print(f"[{NAME}] {kind}: starting", file=sys.stderr, flush=True)
    server = Server(kind, env)
    server.start()
    clients = None
    result: dict = {"kind": kind}
    try:
        warm_up(server, plan)
        time.sleep(2.0)  # the warm-up's presence flush and disconnect
        rss_before = server.status("VmRSS")
        clients = Clients(cfg.procs, plan)
        meter = CpuMeter(server.pids, clients.pids)

        # 1. Join: one class all at once (the storm), then the others paced,
        # then one retry of whatever failed or was closed meanwhile.
        def join(phase: str, args: dict) -> dict:
            meter.start()
            parts = clients.call(
                "connect",
                {
                    "base": server.bases,
                    "origin": server.origin,
                    "bare": kind == "bare",
                    "timeout": 30.0,
                    **args,
                },
            )
            failures: Counter = Counter()
            for part in parts:
                failures.update(part["failures"])
            times = [t for part in parts for t in part["snapshot_seconds"]]
            summary = {
                "attempted": sum(p["attempted"] for p in parts),
                "connected": sum(p["connected"] for p in parts),
                "seconds": max(p["seconds"] for p in parts),
                "snapshot_p50_ms": percentile(times, 0.5) * 1000,
                "snapshot_p99_ms": percentile(times, 0.99) * 1000,
                "failures": dict(failures),
                "cpu": meter.stop(),
            }
            print(f"[{NAME}] {kind}: join {phase}: {summary}", file=sys.stderr, flush=True)
            return summary

        storm_sid = plan[0]["id"]
        result["storm"] = join("storm", {"sids": [storm_sid], "concurrency": cfg.learners + 1})
        result["paced"] = join("paced", {"concurrency": cfg.connect_concurrency})
        result["retry"] = join("retry", {"concurrency": cfg.connect_concurrency, "retry": True})

        # 2. Idle memory.
        clients.call("quiet", {"silence": 1.5, "limit": 120})
        time.sleep(1.0)
        rss_idle = server.status("VmRSS")
        status = clients.call("status")
        held = sum(p["open"] for p in status)
        result["held_after_join"] = sum(p["open_learners"] for p in status)
        result["memory"] = {
            "rss_before_kb": rss_before,
            "rss_idle_kb": rss_idle,
            "connections": held,
            "per_connection_kb": (rss_idle - rss_before) / held if held else float("nan"),
        }
        print(
            f"[{NAME}] {kind}: memory {result['memory']} learners held {result['held_after_join']}",
            file=sys.stderr,
            flush=True,
        )

        # 3. Mode switches in one session while the others are busy.
        sids = [session["id"] for session in plan]
        gate(cfg, f"{kind} busy")
        meter.start()
        busy = clients.call(
            "latency",
            {
                "measured": sids[:1],
                "busy": sids[1:],
                "changes": cfg.changes,
                "interval": cfg.interval_ms / 1000,
                "chat_rate": cfg.chat_rate,
                "reaction_rate": cfg.reaction_rate,
                "warmup": 1.0,
                "drain": 30.0,
            },
        )
        result["busy_cpu"] = meter.stop()
        result["busy"] = merge(busy)
        busy_seconds = max(part["busy_seconds"] for part in busy)
        result["busy"]["all_fps"] = sum(part["busy_delivered"] for part in busy) / busy_seconds
        print(
            f"[{NAME}] {kind}: busy p50 {result['busy']['p50_ms']:.1f} ms p99 {result['busy']['p99_ms']:.1f} ms "
            f"lost {result['busy']['lost']} fps {result['busy']['all_fps']:.0f} "
            f"(ack p50 {result['busy']['ack_p50_ms']:.1f} ms, first learner p50 {result['busy']['first_p50_ms']:.1f} ms)",
            file=sys.stderr,
            flush=True,
        )
        clients.call("quiet", {"silence": 1.0, "limit": 60})

        def switching(rate: float, seconds: float) -> dict:
            """Every instructor switches mode at `rate` for `seconds` (open loop)."""
            meter.start()
            step = merge(
                clients.call(
                    "ladder",
                    {"rate": rate, "duration": seconds, "offset": 0.05, "drain": 20.0},
                )
            )
            step["cpu"] = meter.stop()
            step["rate"] = rate
            return step

        # 4. Ladder of sustained mode switches in every session.
        ladder = []
        for rate in cfg.rates:
            gate(cfg, f"{kind} ladder")
            step = switching(rate, cfg.step_seconds)
            step["offered_fps"] = rate * (step["learners"] + cfg.sessions)  # + instructors
            ladder.append(step)
            print(
                f"[{NAME}] {kind}: ladder {rate}/s/session: {step['fps']:.0f} frames/s, "
                f"p50 {step['p50_ms']:.1f} ms p99 {step['p99_ms']:.1f} ms lost {step['lost']} "
                f"ack p50 {step['ack_p50_ms']:.1f} first p50 {step['first_p50_ms']:.1f} "
                f"server {step['cpu']['server']:.0%} clients {step['cpu']['clients']:.0%}",
                file=sys.stderr,
                flush=True,
            )
            clients.call("quiet", {"silence": 1.0, "limit": 60})
            if (
                step["p99_ms"] > 2000
                or step["lost"]
                or step["incomplete_changes"]
                or not step["last"]
            ):
                break  # saturated: higher steps only queue more
        result["ladder"] = ladder

        # 4b. Cost per delivered frame: one longer step at one fixed rate, the
        # same for every server (a 4 s ladder step holds too few CPU ticks of
        # the bare server for a steady figure). The naive consumer cannot keep
        # up with the default rate and is not part of this comparison.
        if kind != "naive":
            gate(cfg, f"{kind} cost")
            cost = result["cost"] = switching(cfg.cost_rate, cfg.cost_seconds)
            print(
                f"[{NAME}] {kind}: cost step {cfg.cost_rate:g}/s/session for {cfg.cost_seconds:g} s: "
                f"{cost['fps']:.0f} frames/s, p99 {cost['p99_ms']:.1f} ms, lost {cost['lost']}, "
                f"server CPU {cpu_per_frame_us(cost):.1f} µs/frame",
                file=sys.stderr,
                flush=True,
            )
            clients.call("quiet", {"silence": 1.0, "limit": 60})

        # 5. Ack-paced: as fast as the write path acknowledges.
        gate(cfg, f"{kind} ack-paced")
        meter.start()
        acked = merge(clients.call("acked", {"duration": cfg.acked_seconds, "drain": 30.0}))
        acked["cpu"] = meter.stop()
        result["acked"] = acked
        print(
            f"[{NAME}] {kind}: acked {acked['changes_per_s']:.0f} changes/s {acked['fps']:.0f} frames/s "
            f"p99 {acked['p99_ms']:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
        clients.call("quiet", {"silence": 1.0, "limit": 60})

        status = clients.call("status")
        frames: Counter = Counter()
        errors: Counter = Counter()
        closed: Counter = Counter()
        for part in status:
            frames.update(part["frames"])
            errors.update(part["errors"])
            closed.update(part["closed"])
        result["end"] = {
            "open": sum(p["open"] for p in status),
            "open_learners": sum(p["open_learners"] for p in status),
            "closed": dict(closed),
            "frames": dict(frames),
            "errors": dict(errors),
        }
        result["memory"]["rss_end_kb"] = server.status("VmRSS")
        result["memory"]["rss_peak_kb"] = server.status("VmHWM")
        clients.call("close", timeout=120)
    finally:
        if clients is not None:
            clients.stop()
        server.stop()
    result["log"] = server.log_summary()
    result["log_path"] = str(server.log_path.relative_to(ROOT))
    return result


# --- Report ----------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"


def _num(value: float) -> str:
    return "–" if value != value else f"{value:,.0f}"


def clean_steps(result: dict) -> list[dict]:
    """Ladder steps that delivered every frame to every learner."""
    return [
        step
        for step in result.get("ladder", [])
        if step["last"]
        and not step["lost"]
        and not step["incomplete_changes"]
        and not step["dropped"]
    ]


def best_fps(result: dict, bound: float = P99_TARGET_MS) -> tuple[float, dict | None]:
    """Highest delivered frames/s of a clean ladder step whose last-learner p99
    stayed within `bound` ms."""
    best, where = 0.0, None
    for step in clean_steps(result):
        if step["p99_ms"] <= bound and step["fps"] > best:
            best, where = step["fps"], step
    return best, where


def compare(result: dict, other: dict) -> tuple[float, float, float | None]:
    """(frames/s of result, frames/s of other, bound) at the fixed p99 bound
    (P99_TARGET_MS): never widened to fit a server that did not stay within
    it (its figure is then 0: not comparable)."""
    if not clean_steps(result) or not clean_steps(other):
        return 0.0, 0.0, None
    return best_fps(result)[0], best_fps(other)[0], P99_TARGET_MS


def held(result: dict) -> tuple[int, int]:
    """Learners open with their snapshot right after the join, and at the end."""
    return result.get("held_after_join", 0), result.get("end", {}).get("open_learners", 0)


def cpu_per_frame_us(step: dict) -> float:
    """Server CPU per delivered frame (µs): CPU seconds of the server
    processes over the step's window ÷ frames the clients received in it."""
    cpu = step["cpu"]
    if not step.get("delivered") or "wall" not in cpu:
        return float("nan")
    return cpu["server"] * cpu["wall"] / step["delivered"] * 1e6


def cost_verdict(result: dict, bare: dict | None) -> tuple[str, str, str]:
    """Issue 16's cost target: server CPU per delivered frame within
    COST_RATIO_TARGET× of the bare server's, at the same offered load."""
    target = (
        f"server CPU per delivered frame within {COST_RATIO_TARGET:.0f}× of the bare "
        "`websockets` server's, same offered load, same run"
    )
    mine_step, bare_step = result.get("cost"), (bare or {}).get("cost")
    if not mine_step or not bare_step:
        return target, "–", "not measured (needs the bare server in the run)"
    mine, theirs = cpu_per_frame_us(mine_step), cpu_per_frame_us(bare_step)
    measured = (
        f"{mine:.1f} vs {theirs:.1f} µs at {mine_step['rate']:g} switches/s per session "
        f"({_num(mine_step['fps'])} vs {_num(bare_step['fps'])} frames/s delivered, "
        f"p99 {_ms(mine_step['p99_ms'])} vs {_ms(bare_step['p99_ms'])}): {mine / theirs:.2f}×"
        if theirs == theirs and theirs > 0
        else "–"
    )
    if measured == "–":
        return target, measured, "not measurable"
    if mine_step["lost"] or mine_step["p99_ms"] > P99_TARGET_MS:
        return target, measured, "**missed**: the step was not delivered within the p99 bound"
    ratio = mine / theirs
    verdict = (
        "**met**"
        if ratio <= COST_RATIO_TARGET
        else f"**missed**: {ratio:.2f}× instead of {COST_RATIO_TARGET:.0f}×"
    )
    return target, measured, verdict


def verdicts(cfg: Config, results: dict[str, dict], kind: str) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for one Roundtable variant."""
    result = results[kind]
    rows = []
    after_join, at_end = held(result)
    total = cfg.total_learners
    if total < HELD_TARGET:
        verdict = f"not tested: only {total:,} learners in this run"
    elif min(after_join, at_end) >= HELD_TARGET:
        verdict = "**met**"
    else:
        verdict = f"**missed**: {HELD_TARGET - min(after_join, at_end):,} short"
    rows.append(
        (
            f"{HELD_TARGET:,} connected learners held",
            f"{after_join:,} of {total:,} open with a snapshot after the join, {at_end:,} still open at the end",
            verdict,
        )
    )
    busy = result.get("busy", {})
    p99 = busy.get("p99_ms", float("nan"))
    complete = busy.get("learners", 0) == cfg.learners and not busy.get("lost") and busy.get("last")
    if cfg.sessions < 7 or cfg.learners < 150:
        verdict = "not tested at this size (needs 7 sessions × 150)"
    elif not complete:
        verdict = (
            f"**missed**: {busy.get('learners', 0)} of {cfg.learners} learners connected, "
            f"{busy.get('lost', 0)} frames lost, {busy.get('dropped', 0)} dropped"
        )
    elif p99 < P99_TARGET_MS:
        verdict = "**met**"
    else:
        verdict = f"**missed**: {p99 / P99_TARGET_MS:.1f}× the target"
    rows.append(
        (
            f"p99 < {P99_TARGET_MS:.0f} ms for a mode switch to reach all {cfg.learners} learners, "
            f"{cfg.sessions - 1} other sessions busy",
            f"p99 {_ms(p99)} (p50 {_ms(busy.get('p50_ms', float('nan')))}) over {len(busy.get('last', []))} switches",
            verdict,
        )
    )
    if "naive" in results:
        mine, naive, bound = compare(result, results["naive"])
        if bound is None:
            verdict = (
                "not measurable: a ladder without a clean step (frames lost at the lowest rate)"
            )
            measured = "–"
        else:
            ratio = mine / naive if naive else float("nan")
            measured = (
                f"{_num(mine)} vs {_num(naive)} frames/s at the fixed bound p99 ≤ "
                f"{bound:,.0f} ms: {ratio:.2f}×"
            )
            if not naive or not mine:
                verdict = (
                    "not comparable: a server had no ladder step within the bound "
                    "(add lower BENCH_RATES)"
                )
            else:
                verdict = (
                    "**met**"
                    if ratio >= NAIVE_RATIO_TARGET
                    else f"**missed**: {ratio:.2f}× instead of {NAIVE_RATIO_TARGET:.0f}×"
                )
        rows.append(
            (
                f"≥ {NAIVE_RATIO_TARGET:.0f}× the naive consumer's deliveries/s at the same p99",
                measured,
                verdict,
            )
        )
    memory = result.get("memory", {}).get("per_connection_kb", float("nan"))
    if memory != memory:
        verdict = "not measured"
    elif memory < MEMORY_TARGET_KB:
        verdict = "**met**"
    else:
        verdict = (
            f"**missed**: +{memory - MEMORY_TARGET_KB:.0f} KB ({memory / MEMORY_TARGET_KB:.1f}×)"
        )
    rows.append(
        (
            f"< {MEMORY_TARGET_KB:.0f} KB of memory per idle connection",
            f"{memory:.1f} KB (RSS +{(result['memory']['rss_idle_kb'] - result['memory']['rss_before_kb']) / 1024:.1f} MB "
            f"for {result['memory']['connections']:,} connections)"
            if memory == memory
            else "–",
            verdict,
        )
    )
    rows.append(cost_verdict(result, results.get("bare")))
    return rows


def report(cfg: Config, results: dict[str, dict], database: str) -> str:
    import websockets

    kinds = [kind for kind in TARGETS if kind in results]
    rows = []
    for kind in kinds:
        result = results[kind]
        after_join, at_end = held(result)
        storm = result["storm"]
        busy = result["busy"]
        best, step = best_fps(result)
        acked = result["acked"]
        rows.append(
            [
                TARGETS[kind],
                f"{after_join:,} / {at_end:,}",
                f"{storm['connected']}/{storm['attempted']} in {storm['seconds']:.1f} s "
                f"(snapshot p99 {_ms(storm['snapshot_p99_ms'])})",
                f"{result['memory']['per_connection_kb']:.1f} KB",
                f"{_ms(busy['p50_ms'])} / {_ms(busy['p99_ms'])}",
                _num(busy["all_fps"]),
                f"{_num(best)}" + (f" (at {step['rate']:g}/s/session)" if step else ""),
                f"{acked['changes_per_s']:.0f} changes/s, {_num(acked['fps'])} frames/s, p99 {_ms(acked['p99_ms'])}",
            ]
        )
    headers = [
        "server",
        f"learners held (after join / at end, of {cfg.total_learners:,})",
        f"class join storm ({cfg.learners} at once)",
        "idle memory per connection",
        "busy: mode switch → last learner p50 / p99",
        "busy: frames/s delivered",
        f"best frames/s with p99 ≤ {P99_TARGET_MS:.0f} ms",
        "ack-paced peak",
    ]

    parts = []

    # Targets.
    for kind in ("roundtable", "roundtable2", "fixed", "pooled"):
        if kind in results:
            parts.append(
                f"**Targets, {TARGETS[kind]}:**\n\n"
                + _report.markdown_table(
                    ["target", "measured", "verdict"], verdicts(cfg, results, kind)
                )
            )

    # Ratios.
    ratio_rows = []
    for kind in kinds:
        if kind in ("naive", "bare"):
            continue
        row = [TARGETS[kind]]
        for other in ("naive", "bare"):
            if other in results:
                mine, theirs, bound = compare(results[kind], results[other])
                row.append(
                    f"{mine / theirs:.2f}× (p99 ≤ {bound:,.0f} ms)" if mine and theirs else "–"
                )
                p99_mine, p99_theirs = (
                    results[kind]["busy"]["p99_ms"],
                    results[other]["busy"]["p99_ms"],
                )
                row.append(
                    f"{p99_mine / p99_theirs:.1f}×" if p99_theirs and p99_mine == p99_mine else "–"
                )
                mem_mine = results[kind]["memory"]["per_connection_kb"]
                mem_theirs = results[other]["memory"]["per_connection_kb"]
                row.append(f"{mem_mine / mem_theirs:.1f}×" if mem_theirs else "–")
            else:
                row += ["–", "–", "–"]
        ratio_rows.append(row)
    if ratio_rows:
        parts.append(
            "**Ratios** (frames/s at the fixed p99 bound of 200 ms, never widened to fit a "
            "server: '–' when one had no step within it; higher is better. Busy p99 and memory: "
            "lower is better):\n\n"
            + _report.markdown_table(
                [
                    "",
                    "frames/s vs naive",
                    "busy p99 vs naive",
                    "memory vs naive",
                    "frames/s vs bare",
                    "busy p99 vs bare",
                    "memory vs bare",
                ],
                ratio_rows,
            )
        )

    # Where the time goes in the busy phase.
    busy_rows = []
    for kind in kinds:
        busy = results[kind]["busy"]
        cpu = results[kind]["busy_cpu"]
        frames = results[kind]["end"]["frames"]
        busy_rows.append(
            [
                TARGETS[kind],
                _ms(busy["ack_p50_ms"]),
                _ms(busy["first_p50_ms"]),
                _ms(busy["p50_ms"]),
                _ms(busy["p99_ms"]),
                _ms(busy["max_ms"]),
                f"{busy['lost']} / {busy['dropped']}",
                f"{frames.get('reactions.burst', 0) + frames.get('reactions.sent', 0) + frames.get('reaction.sent', 0):,}",
                f"{cpu['server']:.2f} / {cpu['clients']:.2f} / {cpu['postgres']:.2f} / {cpu['redis']:.2f} / {cpu['others']:.2f}",
            ]
        )
    parts.append(
        f"**Busy phase** ({cfg.changes} mode switches every {cfg.interval_ms} ms in session 1; "
        f"sessions 2–{cfg.sessions}: {cfg.chat_rate:g} table-chat messages and {cfg.reaction_rate:g} reactions "
        "per second each). *Write path* is the instructor's send → its ack (the server acks after the "
        "commit and the `group_send`); *first* and *last learner* are the send → arrival at the first and "
        "the last of the session's learners. CPU in cores (of 2), averaged over the phase:\n\n"
        + _report.markdown_table(
            [
                "server",
                "write path p50",
                "first learner p50",
                "last learner p50",
                "last learner p99",
                "last learner max",
                "frames lost / learners dropped",
                "reaction frames received (whole run)",
                "CPU server / clients / PostgreSQL / Redis / others",
            ],
            busy_rows,
        )
    )

    # Ladder.
    ladder_rows = []
    for kind in kinds:
        for step in results[kind]["ladder"]:
            cpu = step["cpu"]
            ladder_rows.append(
                [
                    TARGETS[kind].split(" (")[0],
                    f"{step['rate']:g}",
                    _num(step["offered_fps"]),
                    _num(step["fps"]),
                    _ms(step["p50_ms"]),
                    _ms(step["p99_ms"]),
                    _ms(step["ack_p50_ms"]),
                    f"{step['lost']} / {step['dropped']}",
                    f"{cpu['server']:.2f} / {cpu['clients']:.2f} / {cpu['postgres']:.2f} / {cpu['others']:.2f}",
                ]
            )

    # Server CPU per delivered frame at the same offered load, per ladder step.
    if "bare" in results:
        bare_steps = {step["rate"]: step for step in results["bare"]["ladder"]}
        cost_rows = []
        for kind in kinds:
            if kind == "bare":
                continue
            for step in results[kind]["ladder"]:
                bare = bare_steps.get(step["rate"])
                if bare is None:
                    continue
                mine, theirs = cpu_per_frame_us(step), cpu_per_frame_us(bare)
                cost_rows.append(
                    [
                        TARGETS[kind].split(" (")[0],
                        f"{step['rate']:g}",
                        _num(step["offered_fps"]),
                        f"{mine:.1f}",
                        f"{theirs:.1f}",
                        f"{mine / theirs:.1f}×" if theirs == theirs and theirs > 0 else "–",
                    ]
                )
        if cost_rows:
            parts.append(
                "**Cost per delivered frame** (server CPU seconds over a ladder step ÷ frames the "
                "clients received in it, µs; the bare `websockets` server at the same offered "
                "load in the same run; issue 16's target: within 3× of bare):\n\n"
                + _report.markdown_table(
                    [
                        "server",
                        "switches/s per session",
                        "offered frames/s",
                        "server CPU µs / frame",
                        "bare µs / frame",
                        "ratio",
                    ],
                    cost_rows,
                )
            )
    parts.append(
        f"**Ladder**: every instructor switches mode at a fixed rate for {cfg.step_seconds:g} s per step "
        "(open loop); frames/s counted at the clients from the first send to the last arrival; a step "
        "whose p99 passes 2 s or that loses a frame ends the ladder for that server:\n\n"
        + _report.markdown_table(
            [
                "server",
                "switches/s per session",
                "offered frames/s",
                "delivered frames/s",
                "last learner p50",
                "last learner p99",
                "write path p50",
                "lost / dropped",
                "CPU server / clients / PostgreSQL / others",
            ],
            ladder_rows,
        )
    )

    # Logs.
    log_rows = []
    for kind in kinds:
        log = results[kind]["log"]
        first = next((line for line in log["first_errors"] if "ERROR" in line), "")
        log_rows.append(
            [
                TARGETS[kind].split(" (")[0],
                f"`{results[kind]['log_path']}`",
                log["app_exceptions"],
                log["redis_timeouts"],
                log["killed"],
                log["over_capacity"],
                f"`{first[24:160]}`" if first else "–",
            ]
        )
    parts.append(
        "**Server logs** (kept in `bench/results/`, not committed):\n\n"
        + _report.markdown_table(
            [
                "server",
                "log",
                "exceptions inside the application",
                "of which Redis read timeouts",
                "app instances killed (handshake not accepted in time)",
                "group_send over capacity",
                "first error",
            ],
            log_rows,
        )
    )

    notes = [
        "How to read this: every figure comes from this run; the servers ran one after the "
        "other against the same database, Redis and client processes' code. *Frames/s* are frames "
        "received by all clients (acks and errors excluded). *Latency* of a switch is from the "
        "instructor's send to its `mode.changed` reaching the **last** of the session's learners "
        "(`time.monotonic()` in the client process that holds the whole session). *Memory per "
        "connection* is the server's VmRSS (summed over its processes) after every client connected "
        "and went idle, minus VmRSS after one warm-up connection to each process, divided by the "
        "open connections. *Held* counts learners whose "
        "socket was open with a snapshot.",
        "The load generator shares the machine: server, PostgreSQL, Redis and "
        f"{cfg.procs} client processes run on the same 2 cores (see the CPU columns), so absolute "
        "numbers are lower than a server would reach alone, most of all for the bare server, whose "
        "peak is bounded by the clients. *Others* is CPU used by everything else on the machine "
        "(other people's tests and browsers): the benchmark waits up to BENCH_QUIET_WAIT seconds for "
        "it to fall under a quarter of a core before each phase, and a phase measured while it was "
        "high is noisier and slower.",
        "The naive consumer (`bench/_naive_asgi.py`) and the prototype run use "
        "`bench/_settings_proto.py`: the application's settings plus two configuration fixes "
        "(channel-layer Redis `socket_timeout` above channels-redis's 5 s BZPOPMIN, persistent "
        "database connections). Without them, an idle Daphne process loses one consumer every 5 s "
        "(*Redis read timeouts* above) and pays a new PostgreSQL connection for every "
        "`database_sync_to_async` call. The *pooled* prototype (`bench/_pooled_asgi.py`, when "
        "run) adds a third fix: the consumer's database calls go to a thread pool instead of "
        "Daphne's one database thread.",
    ]
    for kind in ("roundtable", "roundtable2", "fixed", "pooled"):
        if kind not in results:
            continue
        busy = results[kind]["busy"]
        if busy["last"] and busy["p50_ms"] == busy["p50_ms"]:
            share = busy["ack_p50_ms"] / busy["p50_ms"] if busy["p50_ms"] else 0
            notes.append(
                f"{TARGETS[kind]}, busy phase: the write path (send → ack) took {_ms(busy['ack_p50_ms'])} "
                f"of the {_ms(busy['p50_ms'])} median to the last learner ({share:.0%}); server CPU "
                f"{results[kind]['busy_cpu']['server']:.2f} cores (of 2)."
            )
    notes.append(
        "Why Roundtable differs from the naive consumer: frames are encoded once and travel by "
        "Redis pub/sub to one fan-out hub per process, which writes the same text to each local "
        "socket (no per-recipient Redis round trip, decode or dispatch; `core/fanout.py`); "
        "presence, reactions, engagement and tallies are coalesced; reactions are accepted by one "
        "Redis script and written in batches; database calls run in a thread pool with a separate "
        "lane for staff actions (`core/asyncdb.py`). *2 Daphne processes* is the same "
        "application twice, each learner connecting to one of them (by user id) as behind a load "
        "balancer, so a session's frames cross processes through Redis; its memory is the sum of "
        "both processes."
    )
    info = {
        "Scenario": (
            f"{cfg.sessions} live sessions × {cfg.learners} learners (+ 1 instructor each) = "
            f"{cfg.total_learners + cfg.sessions:,} WebSocket clients, tables of {cfg.table_size}, one "
            f"course per session; clients: `websockets` {websockets.__version__} on asyncio in "
            f"{cfg.procs} processes"
        ),
        "Servers": "; ".join(TARGETS[kind] for kind in kinds)
        + "; one process each unless said otherwise",
        "Database": database,
        "Redis": f"{cfg.redis_url.rsplit('@', 1)[-1]} (channel layer, cache, frame buffer)",
        "Command": (
            "`make bench` or `.venv/bin/python bench/live_fanout.py`; sizes: BENCH_SESSIONS, "
            "BENCH_LEARNERS, BENCH_CHANGES, BENCH_INTERVAL_MS, BENCH_CHAT_RATE, BENCH_REACTION_RATE, "
            "BENCH_RATES, BENCH_STEP_SECONDS, BENCH_COST_RATE, BENCH_COST_SECONDS, BENCH_CLIENT_PROCS, BENCH_CONNECT_CONCURRENCY, "
            "BENCH_TARGETS (default roundtable,roundtable2,naive,bare; also fixed, pooled), BENCH_QUIET_WAIT"
        ),
    }
    return _report.render(
        "Live fan-out: Roundtable vs a naive Channels consumer vs bare `websockets`",
        headers,
        rows,
        info=info,
        notes=["\n\n".join([*parts, *notes])],
    )


# --- Main ----------------------------------------------------------------------------------


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",  # DEBUG keeps every query in memory
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def main() -> int:
    cfg = Config.from_env()
    description, database_url, drop = prepare_database()
    results: dict[str, dict] = {}
    try:
        version = setup_django(database_url, cfg.redis_url)
        description = description.replace("PostgreSQL", f"PostgreSQL {version}", 1)
        started = time.monotonic()
        plan = build_fixture(cfg)
        print(
            f"[{NAME}] fixture in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True
        )
        env = server_env(database_url, cfg.redis_url)
        for kind in cfg.targets:
            reset_state()
            redis_clean(cfg.redis_url)
            results[kind] = run_target(kind, cfg, plan, env)
    finally:
        try:
            redis_clean(cfg.redis_url)
        finally:
            drop()
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    slim = {
        kind: {
            key: (
                [
                    {k: v for k, v in step.items() if k not in ("every", "first", "ack")}
                    for step in value
                ]
                if key == "ladder"
                else {k: v for k, v in value.items() if k not in ("every", "first", "ack")}
                if isinstance(value, dict)
                else value
            )
            for key, value in result.items()
        }
        for kind, result in results.items()
    }
    (RESULTS / f"{NAME}.json").write_text(json.dumps(slim, indent=1, default=str))
    _report.publish(NAME, report(cfg, results, description))
    return 0


if __name__ == "__main__":
    sys.exit(main())
