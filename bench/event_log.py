"""Benchmark: `analytics.services.event_record` against a plain insert.

Three cases, measured in the same run on the same database and interleaved in
rounds, so that drift (table and index growth, caches, other load on the
machine) touches all three alike:

- baseline: `LearningEvent.objects.create(...)`, one row per event, no
  validation and no idempotency;
- fresh: `event_record(...)` with new event ids (validation, its own
  transaction, the insert);
- replay: `event_record(...)` again with ids that are already stored, as when
  a client re-sends an event (the insert fails on the unique constraint and
  the stored row is read back).

Every event is written one by one, each in its own transaction, as the request
paths do. Database: DATABASE_URL if set (PostgreSQL: a dedicated database
`roundtable_bench` is created on that server and dropped afterwards), otherwise
a throwaway SQLite file in bench/results/. BENCH_EVENTS (default 2000) events
per case. Results go to docs/performance.md, section `event_log`.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import _report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
NAME = "event_log"
BENCH_DATABASE = "roundtable_bench"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
ROUNDS = 10
WARMUP = 50
CASES = (
    ("baseline", "baseline: `LearningEvent.objects.create`"),
    ("fresh", "`event_record`, new ids"),
    ("replay", "`event_record`, replayed ids (duplicates)"),
)

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


# --- Database ------------------------------------------------------------------


def prepare_database() -> tuple[str, Callable[[], None]]:
    """Point DATABASE_URL at a fresh, empty database. Returns a description of it
    and the function that removes it."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url or url.startswith("sqlite"):
        return _prepare_sqlite()
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(f"{NAME}: DATABASE_URL must be PostgreSQL or unset, got {parts.scheme}:")
    return _prepare_postgres(parts)


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def _prepare_sqlite() -> tuple[str, Callable[[], None]]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{NAME}.sqlite3"

    def remove() -> None:
        _close_django_connections()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    remove()
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    description = f"SQLite {sqlite3.sqlite_version}, throwaway file {path.relative_to(ROOT)}"
    return description, remove


def _prepare_postgres(parts: SplitResult) -> tuple[str, Callable[[], None]]:
    import psycopg
    from psycopg import sql

    # The server's maintenance database, to create and drop ours from.
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = sql.Identifier(BENCH_DATABASE)

    def execute(statement: sql.Composed) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def drop() -> None:
        _close_django_connections()
        execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))

    drop()
    execute(sql.SQL("CREATE DATABASE {}").format(name))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    # Never the credentials: host and port only.
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return f"PostgreSQL on {where}, dedicated database `{BENCH_DATABASE}`", drop


def setup_django() -> str:
    """Configure Django on the prepared database and create the schema there.
    Returns the server version."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # DEBUG makes Django log every query in memory: measure without it.
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    return ""


# --- Measurement -------------------------------------------------------------------


def event_fields(index: int, actor, course, occurred_at: datetime) -> dict:
    """One poll answer in a live session: the shape of a typical event."""
    return {
        "verb": "answered",
        "object_type": "poll",
        "object_id": str(index % 40),
        "actor": actor,
        "course": course,
        "live_session_id": 1,
        "mode": "live",
        "media_time_ms": index * 250,
        "success": index % 3 != 0,
        "score": 0.0 if index % 3 == 0 else 1.0,
        "response": "B",
        "duration_ms": 1500,
        "extensions": {"changed": False, "change_count": 0, "scope": "class", "table_id": None},
        "occurred_at": occurred_at,
    }


def round_sizes(total: int, rounds: int) -> list[int]:
    rounds = min(rounds, total)
    return [total // rounds + (1 if index < total % rounds else 0) for index in range(rounds)]


class Runner:
    def __init__(self, actor, course) -> None:
        from analytics.models import LearningEvent
        from analytics.services import event_record

        self.create = LearningEvent.objects.create
        self.event_record = event_record
        self.actor = actor
        self.course = course
        self.next_index = 0

    def payloads(self, count: int) -> list[tuple[uuid.UUID, dict]]:
        """Built before the clock starts: every case times only its writes."""
        occurred_at = datetime.now(UTC)
        batch = []
        for _ in range(count):
            fields = event_fields(self.next_index, self.actor, self.course, occurred_at)
            batch.append((uuid.uuid4(), fields))
            self.next_index += 1
        return batch

    def baseline(self, batch: list[tuple[uuid.UUID, dict]]) -> float:
        create = self.create
        started = time.perf_counter()
        for event_id, fields in batch:
            create(event_id=event_id, **fields)
        return time.perf_counter() - started

    def record(self, batch: list[tuple[uuid.UUID, dict]], *, expect_created: bool) -> float:
        record = self.event_record
        outcomes = []
        started = time.perf_counter()
        for event_id, fields in batch:
            outcomes.append(record(event_id=event_id, **fields))
        elapsed = time.perf_counter() - started
        for (event_id, _fields), (event, created) in zip(batch, outcomes, strict=True):
            if created is not expect_created or event.event_id != event_id or event.pk is None:
                raise SystemExit(
                    f"{NAME}: event_record({event_id}) returned created={created}, "
                    f"expected {expect_created}"
                )
        return elapsed


def measure(events: int) -> dict[str, float]:
    from analytics.selectors import event_list
    from courses.models import Course, User

    actor = User.objects.create_user(username="bench-learner")
    course = Course.objects.create(title="Benchmark course", code="BENCH-1")
    runner = Runner(actor, course)

    # Warm-up (not counted): connections, statement caches, code paths.
    warmup = runner.payloads(min(WARMUP, events))
    runner.baseline(runner.payloads(len(warmup)))
    runner.record(warmup, expect_created=True)
    runner.record(warmup, expect_created=False)

    elapsed = {name: 0.0 for name, _label in CASES}
    for size in round_sizes(events, ROUNDS):
        elapsed["baseline"] += runner.baseline(runner.payloads(size))
        fresh = runner.payloads(size)
        elapsed["fresh"] += runner.record(fresh, expect_created=True)
        elapsed["replay"] += runner.record(fresh, expect_created=False)

    stored = event_list().count()
    expected = 2 * (events + len(warmup))
    if stored != expected:
        raise SystemExit(f"{NAME}: {stored} events stored, expected {expected}")
    return elapsed


# --- Report ----------------------------------------------------------------------


def report(events: int, elapsed: dict[str, float], database: str) -> str:
    baseline_us = elapsed["baseline"] / events * 1e6
    rows = []
    for name, label in CASES:
        per_event_us = elapsed[name] / events * 1e6
        rows.append(
            [
                label,
                f"{events:,}",
                f"{events / elapsed[name]:,.0f}",
                f"{per_event_us:,.1f}",
                f"{per_event_us / baseline_us:.2f}×",
            ]
        )
    return _report.render(
        "Event log: `analytics.services.event_record`",
        ["case", "events", "events/s", "µs/event", "time vs baseline"],
        rows,
        info={
            "Database": database,
            "Events per case": (
                f"{events:,}, one transaction each, in {len(round_sizes(events, ROUNDS))} "
                f"interleaved rounds after {min(WARMUP, events)} warm-up events (not counted)"
            ),
            "Command": "`.venv/bin/python bench/event_log.py` (`DATABASE_URL` picks the database)",
        },
        notes=[
            "*time vs baseline* is µs/event of the case divided by µs/event of the "
            "baseline measured in the same run. The replay case is the duplicate path: "
            "the insert is refused by the unique constraint on `event_id`, the "
            "transaction rolls back and the stored event is read and returned; nothing "
            "is written.",
        ],
    )


def main() -> int:
    try:
        events = int(os.environ.get("BENCH_EVENTS", "2000"))
    except ValueError:
        raise SystemExit(f"{NAME}: BENCH_EVENTS must be an integer") from None
    if events < 1:
        raise SystemExit(f"{NAME}: BENCH_EVENTS must be at least 1")

    database, cleanup = prepare_database()
    try:
        version = setup_django()
        if version:
            database = database.replace("PostgreSQL", f"PostgreSQL {version}", 1)
        elapsed = measure(events)
    finally:
        cleanup()
    _report.publish(NAME, report(events, elapsed, database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
