"""Infrastructure of bench/poll_storm.py: the dedicated database, Redis, the
fixture (courses, users, login sessions, live sessions), the Daphne processes
and CPU accounting. Django is set up in the benchmark process only; the
WebSocket clients (bench/_poll_client.py) do not touch it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
NAME = "poll_storm"
BENCH_DATABASE = "roundtable_pollstorm"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
APPLICATIONS = {
    "roundtable": "config.asgi:application",
    "baseline": "bench._poll_naive_asgi:application",
}


# --- Database and Redis -------------------------------------------------------------


def close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def prepare_database():
    """A fresh PostgreSQL database on the server of DATABASE_URL.
    Returns (description, url of the new database, drop)."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(
            f"{NAME}: needs PostgreSQL (the share lock on the poll row is the point); "
            f"DATABASE_URL is {parts.scheme}:"
        )
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = sql.Identifier(BENCH_DATABASE)

    def execute(statement) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def drop() -> None:
        close_django_connections()
        execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))

    drop()
    execute(sql.SQL("CREATE DATABASE {}").format(name))
    bench_url = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"  # never the credentials
    return f"PostgreSQL on {where}, dedicated database `{BENCH_DATABASE}`", bench_url, drop


def redis_clean(url: str) -> None:
    """Delete what the servers write (channel layer, cache, frame buffers,
    coalescing claims) from the benchmark's Redis database, nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for pattern in ("asgi*", "roundtable:*"):
            batch = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
    finally:
        client.close()


def setup_django(database_url: str, redis_url: str) -> str:
    """Django on the benchmark database (schema migrated). Returns the server version."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    if str(ROOT) not in sys.path:
        sys.path.insert(1, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


# --- Fixture ---------------------------------------------------------------------------


@dataclass
class Point:
    """One scale point: `sessions` live sessions of `learners` learners each."""

    key: str
    sessions: int
    learners: int
    plans: dict[str, list[dict]] = field(default_factory=dict)  # target -> sessions

    @property
    def voters(self) -> int:
        return self.sessions * self.learners

    @property
    def label(self) -> str:
        if self.sessions == 1:
            return f"1 × {self.learners}"
        return f"{self.sessions} × {self.learners}"


def build_fixture(points: list[Point], targets: list[str], table_size: int) -> None:
    """Per scale point and session: a course with an instructor and its learners
    (seated at tables of `table_size`, 0 = unseated), and one live session per
    target (both targets use the same people, never the same session). One
    Django login session per user (bulk-created SessionStore rows). Fills
    `point.plans[target]` with ids and cookies only."""
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
    password = make_password(None)  # unusable, and hashed once for everyone
    classes = [(point, s) for point in points for s in range(point.sessions)]
    courses = Course.objects.bulk_create(
        [
            Course(title=f"Poll storm {p.key}.{s + 1}", code=f"STORM-{p.key}-{s + 1}", term="bench")
            for p, s in classes
        ]
    )
    instructors = User.objects.bulk_create(
        [
            User(
                username=f"storm-{p.key}-{s + 1}-teacher",
                display_name=f"Teacher {p.key}.{s + 1}",
                password=password,
            )
            for p, s in classes
        ]
    )
    learners_of: list[list] = []
    all_learners = []
    for p, s in classes:
        batch = [
            User(
                username=f"storm-{p.key}-{s + 1}-{i + 1}",
                display_name=f"Learner {p.key}.{s + 1}.{i + 1}",
                password=password,
            )
            for i in range(p.learners)
        ]
        all_learners.extend(batch)
        learners_of.append(batch)
    User.objects.bulk_create(all_learners, batch_size=1000)
    enrollments = []
    for index, (_p, _s) in enumerate(classes):
        course = courses[index]
        enrollments.append(Enrollment(user=instructors[index], course=course, role=Role.INSTRUCTOR))
        enrollments += [
            Enrollment(user=user, course=course, role=Role.LEARNER) for user in learners_of[index]
        ]
    Enrollment.objects.bulk_create(enrollments, batch_size=1000)
    if table_size:
        tables, seats = [], []
        for index, (p, _s) in enumerate(classes):
            count = -(-p.learners // table_size)
            tables.append(
                Table.objects.bulk_create(
                    [
                        Table(
                            course=courses[index],
                            name=f"Table {t + 1}",
                            capacity=table_size,
                            position=t,
                        )
                        for t in range(count)
                    ]
                )
            )
        for index, (_p, _s) in enumerate(classes):
            for i, user in enumerate(learners_of[index]):
                seats.append(
                    Seat(course=courses[index], table=tables[index][i // table_size], user=user)
                )
        Seat.objects.bulk_create(seats, batch_size=1000)
    sessions = LiveSession.objects.bulk_create(
        [
            LiveSession(
                course=courses[index],
                title=f"Poll storm {p.key}.{s + 1} ({target})",
                scheduled_start=now - timedelta(minutes=5),
                scheduled_end=now + timedelta(hours=3),
                state=SessionState.LIVE,
                started_at=now,
                started_by=instructors[index],
                mode=RoomMode.LECTURE,
                mode_changed_at=now,
            )
            for target in targets
            for index, (p, s) in enumerate(classes)
        ]
    )

    store = SessionStore()
    rows, cookies = [], {}
    for user in [*instructors, *all_learners]:
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

    for point in points:
        point.plans = {target: [] for target in targets}
    for t, target in enumerate(targets):
        for index, (point, _s) in enumerate(classes):
            live = sessions[t * len(classes) + index]
            point.plans[target].append(
                {
                    "id": live.pk,
                    "instructor": {
                        "id": instructors[index].pk,
                        "cookie": cookies[instructors[index].pk],
                    },
                    "learners": [
                        {"id": user.pk, "cookie": cookies[user.pk]} for user in learners_of[index]
                    ],
                }
            )
    close_django_connections()


# --- Servers ---------------------------------------------------------------------------


_ports_given: set[int] = set()


def free_port() -> int:
    """A free port, never the same twice in this run (the OS may hand a just
    released port out again)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


class Server:
    """One Daphne process serving `APPLICATIONS[kind]`."""

    def __init__(self, kind: str, index: int, env: dict[str, str]) -> None:
        self.kind = kind
        self.index = index
        self.env = env
        self.port = free_port()
        self.log_path = RESULTS / f"{NAME}-{kind}-{index}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("w", encoding="utf-8")
        from core.daphne import daphne_command

        command = daphne_command(self.port, APPLICATIONS[self.kind])
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /healthz answers (Django loaded, database and Redis reachable)."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        retries = 3
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                text = self.log_path.read_text(encoding="utf-8", errors="replace")
                if "Address already in use" in text and retries:
                    # Another process took the port between free_port() and listen.
                    retries -= 1
                    self.port = free_port()
                    url = f"http://127.0.0.1:{self.port}/healthz"
                    self.start()
                    continue
                raise SystemExit(f"{NAME}: {self.kind} server exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{NAME}: {self.kind} server did not answer /healthz in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()

    def rss_kb(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def log_summary(self) -> dict:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return {}
        lines = text.splitlines()
        errors = [
            line for line in lines if any(w in line for w in ("ERROR", "CRITICAL", "Traceback"))
        ]
        return {
            "lines": len(lines),
            "errors": len(errors),
            "first_errors": errors[:5],
            "over_capacity": sum("over capacity" in line for line in lines),
            "rejects": sum("WSREJECT" in line for line in lines),
        }


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "development",
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# --- CPU accounting --------------------------------------------------------------------


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (plus its waited-for children's with `children`)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / tick, total / tick


def _processes() -> dict[int, tuple[str, float]]:
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The postmaster collects the CPU time of exited backends (with
        # CONN_MAX_AGE=0 most backends live for one request): count it.
        postmaster = cmdline.startswith("/usr/lib/postgresql") or cmdline.startswith("postgres -D")
        table[int(entry.name)] = (cmdline, _cpu_seconds(int(entry.name), children=postmaster))
    return table


class CpuMeter:
    """Where the machine's CPU went between start() and stop(), in CPU seconds:
    the Daphne servers, this process (the load generator), PostgreSQL (all of
    it: the server and its backends, including exited ones, whatever their
    database), Redis, and everything else on the machine."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = set(server_pids)

    def _classify(self, pid: int, cmdline: str) -> str:
        if pid in self.server_pids:
            return "server"
        if pid == os.getpid():
            return "clients"
        if cmdline.startswith(("postgres:", "postgres -D", "/usr/lib/postgresql")):
            return "postgres"
        if "redis-server" in cmdline:
            return "redis"
        return "others"

    def start(self) -> None:
        self.before = (_processes(), _machine(), time.monotonic())

    def stop(self) -> dict[str, float]:
        procs, (busy, _total), wall = _processes(), _machine(), time.monotonic()
        before_procs, (before_busy, _before_total), before_wall = self.before
        used: Counter[str] = Counter()
        for pid, (cmdline, cpu) in procs.items():
            earlier = before_procs.get(pid)
            delta = cpu - earlier[1] if earlier and earlier[0] == cmdline else cpu
            used[self._classify(pid, cmdline)] += max(0.0, delta)
        groups = ("server", "clients", "postgres", "redis")
        result = {key: used[key] for key in groups}
        # Everything else: what the machine did minus what is accounted for
        # (processes that started and ended inside the window are seen only here).
        result["machine"] = busy - before_busy
        result["others"] = max(0.0, result["machine"] - sum(used[key] for key in groups))
        result["wall"] = wall - before_wall
        return result


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def machine_load(seconds: float = 1.0) -> float:
    """Busy cores of the whole machine over the next `seconds`."""
    before, _total = _machine()
    started = time.monotonic()
    time.sleep(seconds)
    after, _total = _machine()
    return (after - before) / (time.monotonic() - started)


def wait_for_quiet(limit: float, threshold: float = 0.3) -> float:
    """Wait (at most `limit` s) until the machine uses under `threshold` cores
    over one second: other people's work on a shared machine competes with the
    measurement. Returns the last load measured."""
    deadline = time.monotonic() + limit
    while True:
        load = machine_load()
        if load < threshold or time.monotonic() >= deadline:
            return load
