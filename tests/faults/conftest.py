"""Fault and soak tests: a real Daphne process on a real PostgreSQL, watched
from `pg_stat_activity`. They need PostgreSQL; without it they skip, and with
ROUNDTABLE_REQUIRE_SERVICES=1 (CI) they fail instead."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from classroom.models import LiveSession, SessionState
from courses.models import Enrollment, Role, User
from tests.conftest import require
from tests.factories import CourseFactory, LiveSessionFactory


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
        url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}, max_size=None
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
