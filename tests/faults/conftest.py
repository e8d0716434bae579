"""Fault and soak tests: a real Daphne process on a real PostgreSQL, watched
from `pg_stat_activity`. They need PostgreSQL; without it they skip, and with
ROUNDTABLE_REQUIRE_SERVICES=1 (CI) they fail instead."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from classroom.models import LiveSession, SessionState
from courses.models import Enrollment, Role, User
from tests.conftest import require
from tests.factories import CourseFactory, LiveSessionFactory
from tests.utils import page_origin


def require_postgresql() -> None:
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL: needs one")


def session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def live_classroom(learners: int) -> tuple[LiveSession, str, list[str]]:
    """A live session of a course with an instructor and `learners` learners;
    the session cookies of the instructor and of each learner."""
    course = CourseFactory()
    instructor = User.objects.create(username="teacher")
    Enrollment.objects.create(course=course, user=instructor, role=Role.INSTRUCTOR)
    people = User.objects.bulk_create([User(username=f"learner{n:03d}") for n in range(learners)])
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, user=u, role=Role.LEARNER) for u in people]
    )
    session = LiveSessionFactory(course=course)
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE)
    return session, session_cookie(instructor), [session_cookie(u) for u in people]


def http_get(url: str, cookie: str | None = None, timeout: float = 30) -> tuple[int, bytes, dict]:
    """(status, body, headers) of a GET; an HTTP error status is an answer too."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


async def ws_connect(url: str, cookie: str):
    import websockets

    return await websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": page_origin(url)}, max_size=None
    )


async def ws_until(socket, predicate, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if predicate(frame):
            return frame


async def ws_request(socket, frame_type: str, frame_id: str, data: dict | None = None) -> dict:
    """Send one client frame and return the reply that names its id (ack,
    error or pong), skipping the room's frames in between."""
    await socket.send(json.dumps({"type": frame_type, "id": frame_id, "data": data or {}}))
    return await ws_until(socket, lambda frame: frame.get("id") == frame_id)


class ConnectionWatch:
    """Counts, every 50 ms, the PostgreSQL connections whose application_name
    is `application` (the server's PGAPPNAME), from a connection of its own.
    Once the count passes `limit`, `exceeded` is set: a load should stop then,
    before a leaking server uses up the shared server's max_connections."""

    def __init__(self, dsn: str, application: str, limit: int | None = None) -> None:
        self.dsn = dsn
        self.application = application
        self.limit = limit
        self.exceeded = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[str] = []

    def count(self) -> int:
        with psycopg.connect(self.dsn, application_name="faults-watch", autocommit=True) as conn:
            return self._count(conn)

    def _count(self, conn) -> int:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [self.application],
        ).fetchone()
        return row[0]

    def _run(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(
                        self.dsn, application_name="faults-watch", autocommit=True
                    )
                count = self._count(conn)
                self.samples.append((time.monotonic(), count))
                if self.limit is not None and count > self.limit:
                    self.exceeded.set()
            except psycopg.Error as error:  # the database is down (fault tests)
                self.errors.append(str(error))
                conn = None
            self._stop.wait(0.05)
        if conn is not None:
            conn.close()

    def peak(self, since: float = 0.0) -> int:
        return max((n for t, n in self.samples if t >= since), default=0)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wait_for(predicate, timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until predicate() held, or None if it did not within timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    return None


@pytest.fixture
def postgresql(transactional_db):
    require_postgresql()


# --- A private PostgreSQL cluster, to stop and start at will --------------------------------
# The shared server of a machine or CI job must never be restarted by a test:
# fault tests run their own cluster (initdb into a temporary directory).

PG_BIN = Path(os.environ.get("ROUNDTABLE_PG_BIN", "/usr/lib/postgresql/15/bin"))
ROOT = Path(__file__).resolve().parents[2]


class PrivatePostgres:
    """A throwaway cluster on a free port (trust authentication, its unix
    socket in its own directory). PostgreSQL refuses to run as root: as root
    its programs run as the `postgres` user."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.url = f"postgres://postgres@127.0.0.1:{port}/roundtable"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def admin_dsn(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        **extra,
    }


@pytest.fixture
def private_postgresql():
    """A migrated database in a private cluster; stopped and removed after."""
    require_postgresql()
    require((PG_BIN / "initdb").exists(), f"no PostgreSQL server programs in {PG_BIN}")
    from tests.conftest import free_port

    root = Path(tempfile.mkdtemp(prefix="rt-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    cluster = PrivatePostgres(root, free_port())
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE roundtable")
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=django_env(cluster.url), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr
        yield cluster
    finally:
        try:
            cluster.stop("fast")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # not running
        shutil.rmtree(root, ignore_errors=True)
