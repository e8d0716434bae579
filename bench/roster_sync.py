"""Benchmark: NRPS roster sync of a 2,000-member LMS course (lti/nrps.py)
against a naive sync that does one query (or several) per member, in the same
run, against the same strict test platform over real HTTP.

Setup: the strict platform of tests/lti/platform.py on loopback (its token
endpoint checks our signed assertion against our JWKS, served here by a small
HTTP server; its NRPS endpoint checks the bearer token's scope and the Accept
header and pages the roster BENCH_PAGE (50) members at a time with
`Link: <…>; rel="next"`). A course with one table (so new learners are seated,
auto_fill, which makes tables as needed).

Each of BENCH_RUNS (3) runs uses a fresh LMS course of BENCH_MEMBERS (2,000)
members (2 % instructors/TAs) per path:

- first sync: nobody known yet; every user, identity and enrolment is created
  and every learner seated;
- then 5 % of the roster changes on the platform (a third leave, a third are
  new, a third change role or name);
- re-sync: the full roster again (every page), applying only the changes.

Paths: `lti.nrps.roster_sync` (batched: a fixed number of queries per sync
plus one cached-token read per page) and the naive path written below
(`lti.nrps.roster_fetch` for the same HTTP, then per member: identity lookup,
`user_create`, `user_update`, `enrollment_set`, and `enrollment_deactivate` per
leaver; seating once). Times are wall-clock of the whole sync, HTTP included.

Database: PostgreSQL from DATABASE_URL (a dedicated database
`roundtable_roster_bench`, created and dropped), else a SQLite file in
bench/results/. Results go to docs/performance.md, section `roster_sync`.

    .venv/bin/python bench/roster_sync.py
    BENCH_MEMBERS=500 BENCH_RUNS=1 .venv/bin/python bench/roster_sync.py
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
NAME = "roster_sync"
BENCH_DATABASE = "roundtable_roster_bench"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
FIRST_TARGET_S = 10.0
RESYNC_TARGET_S = 2.0
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"{NAME}: {name} must be an integer") from None


# --- Database ------------------------------------------------------------------


def prepare_database() -> tuple[str, Callable[[], None]]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url or url.startswith("sqlite"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{NAME}.sqlite3"

        def remove() -> None:
            _close()
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        remove()
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return f"SQLite {sqlite3.sqlite_version}, throwaway file", remove
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(f"{NAME}: DATABASE_URL must be PostgreSQL or unset")
    import psycopg
    from psycopg import sql

    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = sql.Identifier(BENCH_DATABASE)

    def execute(statement) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def drop() -> None:
        _close()
        execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))

    drop()
    execute(sql.SQL("CREATE DATABASE {}").format(name))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return f"PostgreSQL on {where}, dedicated database `{BENCH_DATABASE}`", drop


def _close() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def setup_django() -> str:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0].split(" ")[0]
    return ""


# --- The tool's JWKS, for the platform's token endpoint ------------------------------


def serve_jwks() -> tuple[str, Callable[[], None]]:
    from django.db import close_old_connections

    from lti.selectors import jwks_get

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            close_old_connections()
            raw = json.dumps(jwks_get()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            close_old_connections()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}/jwks", stop


# --- The naive path ------------------------------------------------------------------


def naive_sync(*, context) -> dict[str, int]:
    """What a straightforward implementation does: the same HTTP, then one
    lookup and one write path per member."""
    import hashlib

    from django.db import transaction

    from classroom.selectors import seat_map_get
    from classroom.services.seating import seating_auto
    from courses.models import Enrollment
    from courses.services import enrollment_deactivate, enrollment_set, user_create, user_update
    from lti.models import LtiIdentity
    from lti.nrps import roster_fetch

    roster = roster_fetch(context=context, url=context.memberships_url)
    issuer = context.deployment.registration.issuer
    course = context.course
    counts = {"added": 0, "deactivated": 0}
    updated: set[int] = set()
    present = set()
    with transaction.atomic():
        for member in roster.members.values():
            identity = (
                LtiIdentity.objects.select_related("user")
                .filter(issuer=issuer, sub=member.sub)
                .first()
            )
            if identity is None:
                digest = hashlib.sha256(f"{issuer}\n{member.sub}".encode()).hexdigest()[:12]
                user = user_create(username=f"lti-{digest}", display_name=member.name)
                LtiIdentity.objects.create(issuer=issuer, sub=member.sub, user=user)
            else:
                user = identity.user
                if member.name and user_update(user=user, display_name=member.name):
                    updated.add(user.pk)
            present.add(user.pk)
            before = Enrollment.objects.filter(user=user, course=course).first()
            _, created = enrollment_set(user=user, course=course, role=member.role)
            if created:
                counts["added"] += 1
            elif before.role != member.role or not before.is_active:
                updated.add(user.pk)
        platform_users = LtiIdentity.objects.filter(issuer=issuer).values("user_id")
        for enrollment in (
            Enrollment.objects.filter(course=course, is_active=True, user_id__in=platform_users)
            .exclude(user_id__in=present)
            .select_related("user")
        ):
            enrollment_deactivate(user=enrollment.user, course=course)
            counts["deactivated"] += 1
        if seat_map_get(course_id=course.pk):
            seating_auto(course=course, method="auto_fill", actor=None)
    return {**counts, "updated": len(updated)}


# --- Measurement -------------------------------------------------------------------


def member(prefix: str, n: int, version: int = 0) -> dict:
    roles = [INSTRUCTOR] if n % 100 == 0 else [TA] if n % 100 == 1 else [LEARNER]
    return {
        "user_id": f"{prefix}-{n}",
        "roles": roles,
        "name": f"Member {n}" + (f" v{version}" if version else ""),
        "given_name": "Member",
        "family_name": str(n) + (f" v{version}" if version else ""),
        "email": f"{prefix}-{n}@lms.example",
    }


def change_five_percent(platform, context_id: str, prefix: str, size: int) -> int:
    changes = size * 5 // 100
    third = changes // 3
    for n in range(2, 2 + third):  # leave
        platform.member_remove(context_id, f"{prefix}-{n}")
    for n in range(size, size + third):  # new
        platform.member_put(context_id, member(prefix, n))
    for n in range(size - (changes - 2 * third), size):  # role or name change
        changed = member(prefix, n, version=1)
        if n % 2:
            changed["roles"] = [TA]
        platform.member_put(context_id, changed)
    return changes


class QueryCounter:
    """Counts the SQL statements this thread's connection runs (no logging)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        return self._wrapper.__exit__(*exc)


def one_path(platform, registration, *, path: str, run: int, size: int) -> dict:
    from classroom.models import Table
    from courses.services import course_create
    from lti.models import LtiContext
    from lti.nrps import roster_sync

    context_id = f"{path}-{run}"
    prefix = f"{path}{run}"
    for n in range(size):
        platform.member_put(context_id, member(prefix, n))
    course = course_create(title=f"Bench {context_id}", code=f"B-{context_id}")
    Table.objects.create(course=course, name="Table 1", capacity=5, position=0)
    context = LtiContext.objects.create(
        deployment=registration.deployments.get(),
        context_id=context_id,
        course=course,
        memberships_url=f"{platform.url}/nrps/{context_id}",
    )

    def sync() -> dict:
        if path == "batched":
            record = roster_sync(context=context, trigger="staff", full=True)
            if record.status != "ok":
                raise SystemExit(f"{NAME}: sync failed: {record.errors}")
            return {
                "added": record.added,
                "updated": record.updated,
                "deactivated": record.deactivated,
            }
        return naive_sync(context=context)

    timings = {}
    with QueryCounter() as queries:
        started = time.perf_counter()
        first = sync()
        timings["first"] = time.perf_counter() - started
    timings["first_queries"] = queries.count
    if first["added"] != size:
        raise SystemExit(f"{NAME}: {path} first sync added {first['added']}, expected {size}")
    changes = change_five_percent(platform, context_id, prefix, size)
    with QueryCounter() as queries:
        started = time.perf_counter()
        second = sync()
        timings["resync"] = time.perf_counter() - started
    timings["resync_queries"] = queries.count
    total = second["added"] + second["updated"] + second["deactivated"]
    if total != changes:
        raise SystemExit(f"{NAME}: {path} re-sync changed {total} ({second}), expected {changes}")
    timings["changes"] = changes
    return timings


def measure(size: int, runs: int, page: int) -> dict[str, list[dict]]:
    from lti.services import registration_create
    from tests.lti.platform import Platform

    platform = Platform().start()
    platform.page_size = page
    platform.offer_differences = False
    jwks_url, stop_jwks = serve_jwks()
    platform.tool_jwks_url = jwks_url
    registration = registration_create(
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_url,
        keyset_url=platform.jwks_url,
        auth_token_url=platform.token_url,
        deployment_ids=[platform.deployment_id],
    )
    results: dict[str, list[dict]] = {"batched": [], "naive": []}
    try:
        for run in range(runs):
            for path in ("batched", "naive"):  # interleaved: drift touches both
                timing = one_path(platform, registration, path=path, run=run, size=size)
                results[path].append(timing)
                print(
                    f"[{NAME}] run {run + 1} {path}: first {timing['first']:.2f} s "
                    f"({timing['first_queries']} queries), re-sync {timing['resync']:.2f} s "
                    f"({timing['resync_queries']} queries)",
                    file=sys.stderr,
                )
    finally:
        stop_jwks()
        platform.stop()
    if platform.errors:
        raise SystemExit(f"{NAME}: the platform refused requests: {platform.errors[:3]}")
    return results


# --- Report ----------------------------------------------------------------------


def _mmm(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def report(results, *, size: int, runs: int, page: int, database: str) -> str:
    labels = {
        "batched": "`lti.nrps.roster_sync` (batched)",
        "naive": "naive: queries per member (bench/roster_sync.py)",
    }
    rows = []
    for path, timings in results.items():
        rows.append(
            [
                labels[path],
                _mmm([t["first"] for t in timings]),
                f"{statistics.median([t['first_queries'] for t in timings]):,.0f}",
                _mmm([t["resync"] for t in timings]),
                f"{statistics.median([t['resync_queries'] for t in timings]):,.0f}",
            ]
        )
    batched = results["batched"]
    first_ok = max(t["first"] for t in batched) < FIRST_TARGET_S
    resync_ok = max(t["resync"] for t in batched) < RESYNC_TARGET_S
    changes = batched[0]["changes"]
    return _report.render(
        f"Roster sync (NRPS): {size:,} members in pages of {page}",
        [
            "path",
            "first sync s (min / median / max)",
            "queries",
            "re-sync s (min / median / max)",
            "queries",
        ],
        rows,
        info={
            "Database": database,
            "Roster": f"{size:,} members, pages of {page} ({-(-size // page)} pages), "
            f"{changes} changes (5 %) before the re-sync; {runs} runs, paths interleaved",
            "Command": "`.venv/bin/python bench/roster_sync.py` (`DATABASE_URL` picks the database)",
        },
        notes=[
            f"Targets for the batched path: first sync under {FIRST_TARGET_S:.0f} s "
            f"({'met' if first_ok else 'NOT met'}), re-sync under {RESYNC_TARGET_S:.0f} s "
            f"({'met' if resync_ok else 'NOT met'}), worst of the runs. Times include the HTTP "
            "(token request, every page from the strict platform on loopback) and seating. "
            "The batched path's re-sync queries do not grow with the roster except one "
            "cached-token read per page; its first sync adds what seating does per newly seated "
            "learner (classroom.services.seating writes one `seated` learning event each, and "
            "one row per new table). The naive path's queries grow with every member.",
        ],
    )


def main() -> int:
    size = _env_int("BENCH_MEMBERS", 2000)
    runs = _env_int("BENCH_RUNS", 3)
    page = _env_int("BENCH_PAGE", 50)
    database, remove = prepare_database()
    try:
        version = setup_django()
        if version:
            database = database.replace("PostgreSQL", f"PostgreSQL {version}", 1)
        results = measure(size, runs, page)
    finally:
        remove()
    _report.publish(NAME, report(results, size=size, runs=runs, page=page, database=database))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
