from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from courses.models import Role
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory

# In CI every service is present: a test that would skip for a missing one
# must fail instead (.ci/run sets this).
REQUIRE_SERVICES = os.environ.get("ROUNDTABLE_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def require(condition: bool, reason: str) -> None:
    """Skip with a visible reason where the environment lacks a service;
    fail where it must be present (CI)."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def require_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    require(bool(url), "REDIS_URL is not set: needs a real Redis")
    return url


def require_chromium() -> str:
    require(
        os.path.exists(CHROMIUM) or bool(shutil.which("chromium")), f"no Chromium at {CHROMIUM}"
    )
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture(autouse=True)
def _isolated_realtime_state():
    """Frame buffers, coalescing claims and rate-limit counters outlive a test's
    database rollback; start every test without them."""
    from django.core.cache import cache

    from classroom.selectors import snapshot_shared_clear
    from classroom.services import reactions
    from classroom.services.polls import poll_scopes_clear
    from core import realtime

    realtime.reset_for_tests()
    reactions.reset_for_tests()
    # Snapshot parts are kept per (session, seq), poll scopes per poll id:
    # ids and seqs repeat after a rollback.
    snapshot_shared_clear()
    poll_scopes_clear()
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter("roundtable:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
    yield


@pytest.fixture
def course(db):
    return CourseFactory()


@pytest.fixture
def other_course(db):
    return CourseFactory()


def _member(course, role):
    return EnrollmentFactory(course=course, role=role).user


@pytest.fixture
def instructor(course):
    return _member(course, Role.INSTRUCTOR)


@pytest.fixture
def ta(course):
    return _member(course, Role.TA)


@pytest.fixture
def learner(course):
    return _member(course, Role.LEARNER)


@pytest.fixture
def observer(course):
    return _member(course, Role.OBSERVER)


@pytest.fixture
def outsider(other_course):
    return _member(other_course, Role.INSTRUCTOR)


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def live_session(course):
    return LiveSessionFactory(course=course)


# --- An ASGI server in a subprocess ------------------------------------------------------
# pytest-django's live_server speaks WSGI only; WebSockets need Daphne.

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the test database this process is using right now."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
    return f"postgres://{credentials}{host}/{config['NAME']}"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def daphne_process(extra_env: dict | None = None, log=None, started: list | None = None):
    """Daphne on the current test database; yields its base URL. Its output goes
    to a file (a pipe nobody reads would block it) and is printed on exit;
    pass `log` (a text file open for reading and writing) to read it too, and
    `started` (a list) to be handed its `Popen` (a test that kills it)."""
    import subprocess
    import tempfile
    import time
    import urllib.request

    from core.daphne import daphne_command

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_ENV": "test", **(extra_env or {})}
    own_log = log is None
    log = tempfile.TemporaryFile(mode="w+") if own_log else log
    process = subprocess.Popen(
        daphne_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if started is not None:
        started.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("daphne exited")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("daphne did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        print(log.read()[-6000:])  # shown by pytest when the test fails
        if own_log:
            log.close()


@pytest.fixture
def asgi_server(transactional_db):
    """Daphne in a subprocess on the test database (tests must commit their data:
    `django_db(transaction=True)`). Without REDIS_URL the channel layer is in
    memory, which is fine inside that one process."""
    with daphne_process() as url:
        yield url


@pytest.fixture(autouse=True)
def _without_playwrights_loop(request):
    """Sync Playwright (the session-wide browser of tests/e2e) leaves its event loop marked as running in the main
    thread; pytest-asyncio then refuses to start one. Hide it during our
    tests and put it back after."""
    import asyncio

    if "browser" in request.fixturenames:  # Playwright itself needs its loop
        yield
        return
    foreign = asyncio._get_running_loop()
    if foreign is not None:
        asyncio._set_running_loop(None)
    yield
    if foreign is not None:
        asyncio._set_running_loop(foreign)
