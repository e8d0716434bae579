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


# Tests in these folders start servers, workers, browsers or fault services of
# their own: they are marked so that `make test` runs them apart from the
# rest (Makefile, `test`); the fault tests, which stop and kill processes and
# measure how fast things recover, run one at a time.
SERIAL_FOLDERS = {
    "e2e": ("e2e",),
    "faults": ("integration", "faults"),
    "integration": ("integration",),
}
TESTS_ROOT = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_ROOT).parts[0]
        except ValueError:
            continue
        for marker in SERIAL_FOLDERS.get(folder, ()):
            if not item.get_closest_marker(marker):
                item.add_marker(getattr(pytest.mark, marker))


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


def _flush_by_delete(original):
    """PostgreSQL's flush for transactional tests (TransactionTestCase, i.e.
    `django_db(transaction=True)`): DELETE from every table instead of one
    TRUNCATE. A TRUNCATE gives every table and index a new file and rebuilds
    each index, fsyncing it (wait event DataFileImmediateSync): 1 to 4 s per
    test on a busy machine, longer with two workers flushing at once, and a
    test's timeout counts its teardown (the origin tests of
    tests/classroom/test_consumer_protocol.py timed out at 60 s in setup or
    teardown). It also needs an ACCESS EXCLUSIVE lock on every table, so any
    connection left in a transaction by a thread of an earlier test blocks
    it without end; DELETE takes row locks only. Django's foreign keys are
    DEFERRABLE INITIALLY DEFERRED, so the order of the deletes does not
    matter within the flush's transaction. Sequences are not reset either way."""

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return original(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"DELETE FROM {self.quote_name(table)};" for table in tables),  # noqa: S608
        ]

    return sql_flush


@pytest.fixture(scope="session", autouse=True)
def _transactional_flush_by_delete():
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush
    DatabaseOperations.sql_flush = _flush_by_delete(original)
    yield
    DatabaseOperations.sql_flush = original


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
        deadline = time.monotonic() + 60  # a loaded machine starts Django slowly
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
                raise RuntimeError("daphne did not answer /healthz within 60 s")
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


@contextmanager
def celery_worker(
    extra_env: dict | None = None,
    *,
    prefix: str = "test",
    queue: str | None = None,
    concurrency: int = 1,
):
    """A real Celery worker on Redis and the current test database, consuming
    a private queue (or `queue`: several workers may share one); yields the
    queue's name. One process (solo pool), or `concurrency` prefork children
    running tasks side by side. Its output is printed on exit (shown by pytest
    when the test fails)."""
    import subprocess
    import sys
    import uuid

    redis_url = require_redis()
    queue = queue or f"{prefix}-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url(),
        "DJANGO_ENV": "test",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-n",
            f"{queue}.{uuid.uuid4().hex[:6]}@%h",
            *(["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"-c{concurrency}"]),
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-4000:])


@pytest.fixture
def tasks_run_in_process():
    """Celery runs queued tasks at once in this process (its own setting:
    Django's CELERY_* settings are read once, when Celery configures), so a
    task queued on commit runs when the test's transaction commits, with or
    without REDIS_URL."""
    from celery import current_app

    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


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
