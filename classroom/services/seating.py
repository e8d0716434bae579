"""Every write to the persistent tables and seats of a course: tables,
automatic, CSV and manual seating. docs/seating.md explains the choices.

Every service takes the course row lock first (then, to announce, the session
row locks), so capacity checks, "Table N" names and positions cannot race.
Every moved learner gets a `SeatingChange` row and a "seated" learning event;
every live session of the course gets the new seat map on commit.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record
from classroom import events, hooks
from classroom.models import LiveSession, Seat, SeatingChange, SessionState, Table
from classroom.selectors import course_learner_list, seat_map_get
from classroom.services.common import session_lock
from core.errors import ConflictError, NotFoundError, ValidationError
from core.text import text_has_control, text_visible
from courses.models import Course, Enrollment, Role, User

TABLE_CAPACITY_DEFAULT = 6
TABLE_CAPACITY_MIN = 2
TABLE_CAPACITY_MAX = 10
TABLE_NAME_MAX_LENGTH = 60
AUTO_METHODS = (
    SeatingChange.Method.AUTO_BALANCED,
    SeatingChange.Method.AUTO_RANDOM,
    SeatingChange.Method.AUTO_FILL,
)
CSV_LEARNER_HEADERS = frozenset({"learner", "email", "username"})
CSV_TABLE_HEADER = "table"
CSV_MAX_CHARACTERS = 1_000_000


@dataclass(frozen=True)
class SeatingResult:
    """What a seating service changed."""

    moved_user_ids: tuple[int, ...] = ()
    created_tables: tuple[Table, ...] = ()

    @property
    def moved(self) -> int:
        return len(self.moved_user_ids)


def _is_active_learner(*, course: Course, user: User) -> bool:
    return Enrollment.objects.filter(
        course=course, user=user, role=Role.LEARNER, is_active=True
    ).exists()


# --- Validation --------------------------------------------------------------------


def _capacity_clean(value: Any, *, field: str = "capacity") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(details={field: _("Enter a whole number.")})
    if not TABLE_CAPACITY_MIN <= value <= TABLE_CAPACITY_MAX:
        raise ValidationError(
            details={
                field: _("A table seats between %(min)d and %(max)d learners.")
                % {"min": TABLE_CAPACITY_MIN, "max": TABLE_CAPACITY_MAX}
            }
        )
    return value


def _name_error(name: str) -> str | None:
    if not name:
        return _("The table name is empty.")
    if text_has_control(name, bidi=True):
        return _("The table name contains a control character.")
    if not text_visible(name):
        return _("The table name has no visible character.")
    if len(name) > TABLE_NAME_MAX_LENGTH:
        return _("The table name is longer than %(max)d characters.") % {
            "max": TABLE_NAME_MAX_LENGTH
        }
    return None


def _name_clean(name: str | None) -> str:
    name = " ".join((name or "").split())
    error = _name_error(name)
    if error:
        raise ValidationError(details={"name": error})
    return name


def _name_taken_error(name: str) -> ConflictError:
    return ConflictError(
        _("This course already has a table named “%(name)s”.") % {"name": name},
        code="table_name_taken",
    )


# --- Locks, new tables, writes, announcements -----------------------------------------


def _course_lock(course: Course) -> None:
    """Serialise the seating writes of one course. NO KEY UPDATE, so that rows
    referencing the course (events, enrolments) can still be inserted meanwhile."""
    list(
        Course.objects.select_for_update(no_key=True)
        .filter(pk=course.pk)
        .values_list("pk", flat=True)
    )


def _tables_ordered(course: Course) -> list[Table]:
    return list(Table.objects.filter(course=course).order_by("position", "id"))


class _TableMaker:
    """Creates "Table N" tables after the existing ones. Caller holds the course lock."""

    def __init__(self, course: Course, tables: Sequence[Table]) -> None:
        self.course = course
        self.taken = {table.name.casefold() for table in tables}
        self.number = len(tables)
        self.position = max((table.position for table in tables), default=-1) + 1
        self.created: list[Table] = []

    def make(self, *, capacity: int, name: str | None = None) -> Table:
        if name is None:
            while True:
                self.number += 1
                name = _("Table %(number)d") % {"number": self.number}
                if name.casefold() not in self.taken:
                    break
        table = Table.objects.create(
            course=self.course, name=name, capacity=capacity, position=self.position
        )
        self.taken.add(name.casefold())
        self.position += 1
        self.created.append(table)
        return table


def _seats_apply(
    *,
    course: Course,
    moves: Iterable[tuple[User, Table | None]],
    seats: dict[int, Seat],
    method: str,
    actor: User | None,
    live_session: LiveSession | None = None,
) -> list[int]:
    """Put each user at its target table (None: unseat), skipping those already
    there. Writes the seats, one SeatingChange per move and one "seated" event
    per seated learner. Returns the ids of the users moved.

    Precondition: the caller holds the course lock; `seats` maps user id to the
    user's current seat in this course."""
    now = timezone.now()
    moved: list[int] = []
    changes: list[SeatingChange] = []
    created: list[Seat] = []
    updated: list[Seat] = []
    removed: list[int] = []
    for user, table in moves:
        seat = seats.get(user.pk)
        from_table_id = seat.table_id if seat else None
        to_table_id = table.pk if table else None
        if from_table_id == to_table_id:
            continue
        if table is None:
            removed.append(seat.pk)
        elif seat is None:
            created.append(Seat(course=course, table=table, user=user))
        else:
            seat.table = table
            seat.updated_at = now
            updated.append(seat)
        changes.append(
            SeatingChange(
                course=course,
                user=user,
                from_table_id=from_table_id,
                to_table=table,
                method=method,
                actor=actor,
                live_session=live_session,
            )
        )
        if table is not None:
            event_record(
                actor=user,
                verb="seated",
                object_type="table",
                object_id=table.pk,
                course=course,
                live_session_id=live_session.pk if live_session else None,
                extensions={
                    "method": str(method),
                    "by": actor.pk if actor else None,
                    "from_table": from_table_id,
                },
            )
        moved.append(user.pk)
    if removed:
        Seat.objects.filter(pk__in=removed).delete()
    if updated:
        Seat.objects.bulk_update(updated, ["table", "updated_at"])
    if created:
        Seat.objects.bulk_create(created)
    if changes:
        SeatingChange.objects.bulk_create(changes)
    return moved


def _seating_announce(*, course: Course, moved_user_ids: Sequence[int]) -> None:
    """Send the new seat map to the staff of every live session of the course
    and tell each moved user to refresh. Frames go out when the caller's
    transaction commits; nothing is sent for a rolled-back change."""
    session_ids = list(
        LiveSession.objects.filter(course=course, state=SessionState.LIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not session_ids:
        return
    seat_map = seat_map_get(course_id=course.pk)
    for session_id in session_ids:
        session = session_lock(session_id)
        if session.state == SessionState.LIVE:
            events.seating_changed(session, seat_map, list(moved_user_ids))
            if moved_user_ids:
                hooks.mode_applied(session_id=session_id)  # a moved learner hears their new table


# --- Tables ---------------------------------------------------------------------------


def table_create(
    *,
    course: Course,
    name: str,
    capacity: int = TABLE_CAPACITY_DEFAULT,
    actor: User | None,
) -> Table:
    name = _name_clean(name)
    capacity = _capacity_clean(capacity)
    with transaction.atomic():
        _course_lock(course)
        if Table.objects.filter(course=course, name__iexact=name).exists():
            raise _name_taken_error(name)
        position = Table.objects.filter(course=course).aggregate(top=Max("position"))["top"]
        try:
            with transaction.atomic():
                table = Table.objects.create(
                    course=course,
                    name=name,
                    capacity=capacity,
                    position=0 if position is None else position + 1,
                )
        except IntegrityError as error:
            raise _name_taken_error(name) from error
        _seating_announce(course=course, moved_user_ids=[])
    return table


def table_update(
    *,
    table: Table,
    name: str | None = None,
    capacity: int | None = None,
    actor: User | None,
) -> Table:
    """Rename and/or resize a table. The capacity never drops below the number
    of learners seated there."""
    name = _name_clean(name) if name is not None else None
    capacity = _capacity_clean(capacity) if capacity is not None else None
    with transaction.atomic():
        _course_lock(table.course)
        table = Table.objects.filter(pk=table.pk).first()
        if table is None:
            raise NotFoundError(_("Table not found."), code="table_not_found")
        fields: list[str] = []
        if name is not None and name != table.name:
            clash = Table.objects.filter(course_id=table.course_id, name__iexact=name)
            if clash.exclude(pk=table.pk).exists():
                raise _name_taken_error(name)
            table.name = name
            fields.append("name")
        if capacity is not None and capacity != table.capacity:
            members = Seat.objects.filter(table=table).count()
            if capacity < members:
                raise ConflictError(
                    _("%(count)d learners sit at this table: the capacity cannot be lower.")
                    % {"count": members},
                    code="table_over_capacity",
                    details={"capacity": members},
                )
            table.capacity = capacity
            fields.append("capacity")
        if fields:
            try:
                with transaction.atomic():
                    table.save(update_fields=[*fields, "updated_at"])
            except IntegrityError as error:
                raise _name_taken_error(table.name) from error
            _seating_announce(course=table.course, moved_user_ids=[])
    return table


def table_delete(*, table: Table, actor: User | None) -> None:
    """Delete an empty table (move its learners away first)."""
    course = table.course
    with transaction.atomic():
        _course_lock(course)
        if Seat.objects.filter(table_id=table.pk).exists():
            raise ConflictError(
                _("Learners sit at “%(name)s”: move them before deleting the table.")
                % {"name": table.name},
                code="table_not_empty",
            )
        deleted, _counts = Table.objects.filter(pk=table.pk).delete()
        if not deleted:
            raise NotFoundError(_("Table not found."), code="table_not_found")
        _seating_announce(course=course, moved_user_ids=[])


# --- Automatic seating ----------------------------------------------------------------


def _balanced_sizes(count: int, table_size: int) -> list[int]:
    """ceil(count / table_size) sizes that differ by at most one, largest first."""
    if count == 0:
        return []
    tables = math.ceil(count / table_size)
    base, extra = divmod(count, tables)
    return [base + 1 if index < extra else base for index in range(tables)]


def _plan_reseat(
    *, learners: list[User], tables: list[Table], table_size: int, maker: _TableMaker
) -> list[tuple[User, Table | None]]:
    """Everyone, in the given order, into balanced tables: existing tables first
    (by position), new ones when needed. Existing tables beyond the ones needed
    are left empty, not deleted."""
    moves: list[tuple[User, Table | None]] = []
    start = 0
    for index, size in enumerate(_balanced_sizes(len(learners), table_size)):
        if index < len(tables):
            table = tables[index]
            if table.capacity < size:
                table.capacity = size
                table.save(update_fields=["capacity", "updated_at"])
        else:
            table = maker.make(capacity=table_size)
        moves.extend((learner, table) for learner in learners[start : start + size])
        start += size
    return moves


def _plan_fill(
    *,
    learners: list[User],
    tables: list[Table],
    seats: dict[int, Seat],
    table_size: int,
    maker: _TableMaker,
) -> list[tuple[User, Table | None]]:
    """Unseated learners, by name, each into the least-full table with room;
    a new table when every table is full."""
    tables = list(tables)
    counts = {table.pk: 0 for table in tables}
    for seat in seats.values():
        counts[seat.table_id] = counts.get(seat.table_id, 0) + 1
    moves: list[tuple[User, Table | None]] = []
    for learner in learners:
        if learner.pk in seats:
            continue
        open_tables = [table for table in tables if counts[table.pk] < table.capacity]
        if open_tables:
            table = min(open_tables, key=lambda table: (counts[table.pk], table.position, table.pk))
        else:
            table = maker.make(capacity=table_size)
            tables.append(table)
            counts[table.pk] = 0
        counts[table.pk] += 1
        moves.append((learner, table))
    return moves


def seating_auto(
    *,
    course: Course,
    method: str,
    actor: User | None,
    table_size: int = TABLE_CAPACITY_DEFAULT,
    seed: int | None = None,
) -> SeatingResult:
    """Seat the course's active learners automatically.

    AUTO_BALANCED reseats everyone by name into ceil(n / table_size) tables whose
    sizes differ by at most one; AUTO_RANDOM does the same in a random order
    (`seed` makes it repeatable, for tests); AUTO_FILL keeps every seat and
    fills unseated learners in. Seats held by people who are no longer active
    learners are given up in every method."""
    if method not in AUTO_METHODS:
        raise ValidationError(
            details={"method": _("Choose balanced, random or fill.")}, code="invalid_method"
        )
    table_size = _capacity_clean(table_size, field="table_size")
    with transaction.atomic():
        _course_lock(course)
        learners = course_learner_list(course=course)
        learner_ids = {learner.pk for learner in learners}
        seats = {
            seat.user_id: seat for seat in Seat.objects.filter(course=course).select_related("user")
        }
        stale = [seat for user_id, seat in seats.items() if user_id not in learner_ids]
        moves: list[tuple[User, Table | None]] = [(seat.user, None) for seat in stale]
        learner_seats = {user_id: seat for user_id, seat in seats.items() if user_id in learner_ids}
        tables = _tables_ordered(course)
        maker = _TableMaker(course, tables)
        if method == SeatingChange.Method.AUTO_FILL:
            moves += _plan_fill(
                learners=learners,
                tables=tables,
                seats=learner_seats,
                table_size=table_size,
                maker=maker,
            )
        else:
            if method == SeatingChange.Method.AUTO_RANDOM:
                rng = random.Random(seed) if seed is not None else random.SystemRandom()  # noqa: S311
                rng.shuffle(learners)
            moves += _plan_reseat(
                learners=learners, tables=tables, table_size=table_size, maker=maker
            )
        moved = _seats_apply(course=course, moves=moves, seats=seats, method=method, actor=actor)
        if moved or maker.created:
            _seating_announce(course=course, moved_user_ids=moved)
    return SeatingResult(moved_user_ids=tuple(moved), created_tables=tuple(maker.created))


# --- CSV seating plan -----------------------------------------------------------------


@dataclass
class _PlanRow:
    line: int
    user: User
    table_key: str  # casefolded table name
    table_name: str


def _csv_rows(text: str) -> Iterable[tuple[int, list[str] | None, str | None]]:
    """(line number of the row's first line, cells or None, csv error or None)
    for every non-blank row; the header is line 1."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    first_line = text.split("\n", 1)[0]
    delimiter = next((sep for sep in (",", ";", "\t") if sep in first_line), ",")
    # strict: an unterminated quote is an error, not a cell that swallows
    # the rest of the file.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    read_until = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield read_until + 1, None, str(error)
            read_until = reader.line_num
            continue
        line, read_until = read_until + 1, reader.line_num
        if any(cell.strip() for cell in row):
            yield line, [cell.strip() for cell in row], None


def _header_ok(cells: list[str] | None) -> bool:
    return (
        cells is not None
        and len(cells) == 2
        and cells[0].casefold() in CSV_LEARNER_HEADERS
        and cells[1].casefold() == CSV_TABLE_HEADER
    )


def _member_index(course: Course) -> dict[str, list[Enrollment]]:
    """Casefolded username and email → enrolments of this course (any role)."""
    index: dict[str, list[Enrollment]] = {}
    for enrollment in Enrollment.objects.filter(course=course).select_related("user"):
        keys = {enrollment.user.username.casefold(), enrollment.user.email.casefold()} - {""}
        for key in keys:
            index.setdefault(key, []).append(enrollment)
    return index


def _csv_plan_read(*, course: Course, csv_text: str) -> tuple[list[_PlanRow], list[dict[str, Any]]]:
    """Parse and check every row against the course; nothing is written."""
    errors: list[dict[str, Any]] = []

    def fail(line: int, message: str) -> None:
        errors.append({"line": line, "error": message})

    rows = _csv_rows(csv_text)
    header = next(iter(rows), None)
    if header is None or header[0] != 1 or not _header_ok(header[1]):
        fail(1, _("The first line must be the header “learner,table”."))
        return [], errors

    members = _member_index(course)
    plan: list[_PlanRow] = []
    first_line_of: dict[int, int] = {}
    for line, cells, csv_error in rows:
        if csv_error is not None or cells is None:
            fail(line, _("Not valid CSV: %(error)s.") % {"error": csv_error})
            continue
        if len(cells) != 2:
            fail(
                line,
                _("Expected 2 columns (learner, table), found %(count)d.") % {"count": len(cells)},
            )
            continue
        key, table_name = cells[0], " ".join(cells[1].split())
        if not key:
            fail(line, _("The learner is empty."))
            continue
        matches = {enrollment.user_id: enrollment for enrollment in members.get(key.casefold(), [])}
        if not matches:
            fail(line, _("Unknown learner “%(learner)s”.") % {"learner": key})
            continue
        if len(matches) > 1:
            fail(line, _("“%(learner)s” matches more than one person.") % {"learner": key})
            continue
        enrollment = next(iter(matches.values()))
        if enrollment.role != Role.LEARNER or not enrollment.is_active:
            fail(line, _("“%(learner)s” is not a learner of this course.") % {"learner": key})
            continue
        if enrollment.user_id in first_line_of:
            fail(
                line,
                _("“%(learner)s” is already in the plan on line %(first)d.")
                % {"learner": key, "first": first_line_of[enrollment.user_id]},
            )
            continue
        name_error = _name_error(table_name)
        if name_error:
            fail(line, name_error)
            continue
        first_line_of[enrollment.user_id] = line
        plan.append(_PlanRow(line, enrollment.user, table_name.casefold(), table_name))
    return plan, errors


def seating_csv_import(*, course: Course, csv_text: str, actor: User | None) -> SeatingResult:
    """Apply a seating plan: header `learner,table` (or `email`/`username` first),
    then one learner (username or email) and table name per line.

    Every row is checked first; if any is bad, ValidationError
    `seating_csv_invalid` lists them all ({"rows": [{"line", "error"}]}) and
    nothing is written. Tables named in the plan are created (capacity 6) or
    grown up to 10 to hold what the plan puts there. Learners not in the plan
    keep their seats."""
    if len(csv_text) > CSV_MAX_CHARACTERS:
        raise ValidationError(
            _("The seating plan is too large (at most %(max)d characters).")
            % {"max": CSV_MAX_CHARACTERS},
            code="seating_csv_too_large",
        )
    with transaction.atomic():
        _course_lock(course)
        plan, errors = _csv_plan_read(course=course, csv_text=csv_text)
        tables = _tables_ordered(course)
        by_key: dict[str, Table] = {}
        for table in tables:
            by_key.setdefault(table.name.casefold(), table)
        seats = {seat.user_id: seat for seat in Seat.objects.filter(course=course)}

        # Who sits where once the plan is applied: everyone not in the plan stays.
        planned = {row.user.pk for row in plan}
        counts: dict[str, int] = {key: 0 for key in by_key}
        table_key_of = {table.pk: table.name.casefold() for table in tables}
        for user_id, seat in seats.items():
            if user_id not in planned:
                counts[table_key_of[seat.table_id]] += 1
        fitting: list[_PlanRow] = []
        for row in plan:
            counts[row.table_key] = counts.get(row.table_key, 0) + 1
            if counts[row.table_key] > TABLE_CAPACITY_MAX:
                errors.append(
                    {
                        "line": row.line,
                        "error": _("Table “%(table)s” would seat more than %(max)d learners.")
                        % {"table": row.table_name, "max": TABLE_CAPACITY_MAX},
                    }
                )
            else:
                fitting.append(row)
        if errors:
            raise ValidationError(
                _("The seating plan has errors; nothing was changed."),
                code="seating_csv_invalid",
                details={"rows": sorted(errors, key=lambda error: error["line"])},
            )

        maker = _TableMaker(course, tables)
        for row in fitting:
            if row.table_key not in by_key:
                by_key[row.table_key] = maker.make(
                    name=row.table_name,
                    capacity=max(TABLE_CAPACITY_DEFAULT, counts[row.table_key]),
                )
        for key, table in by_key.items():
            if counts.get(key, 0) > table.capacity:
                table.capacity = counts[key]
                table.save(update_fields=["capacity", "updated_at"])
        moved = _seats_apply(
            course=course,
            moves=[(row.user, by_key[row.table_key]) for row in fitting],
            seats=seats,
            method=SeatingChange.Method.CSV,
            actor=actor,
        )
        if moved or maker.created:
            _seating_announce(course=course, moved_user_ids=moved)
    return SeatingResult(moved_user_ids=tuple(moved), created_tables=tuple(maker.created))


# --- By hand --------------------------------------------------------------------------


def seat_move(
    *,
    course: Course,
    user: User,
    table: Table,
    actor: User | None,
    live_session: LiveSession | None = None,
) -> SeatingResult:
    """Move one learner to `table` (also during a live session: pass it, and the
    change is recorded against it)."""
    if table.course_id != course.pk:
        raise NotFoundError(_("Table not found."), code="table_not_found")
    if live_session is not None and live_session.course_id != course.pk:
        raise ValidationError(
            _("The session belongs to another course."), code="session_not_in_course"
        )
    with transaction.atomic():
        _course_lock(course)
        if not _is_active_learner(course=course, user=user):
            raise ValidationError(
                _("%(name)s is not a learner of this course.") % {"name": user.name},
                code="not_a_learner",
            )
        table = Table.objects.filter(pk=table.pk, course=course).first()
        if table is None:
            raise NotFoundError(_("Table not found."), code="table_not_found")
        seats = {seat.user_id: seat for seat in Seat.objects.filter(course=course, user=user)}
        if user.pk in seats and seats[user.pk].table_id == table.pk:
            return SeatingResult()
        if Seat.objects.filter(table=table).count() >= table.capacity:
            raise ConflictError(
                _("“%(name)s” is full (%(capacity)d seats).")
                % {"name": table.name, "capacity": table.capacity},
                code="table_full",
            )
        moved = _seats_apply(
            course=course,
            moves=[(user, table)],
            seats=seats,
            method=SeatingChange.Method.MANUAL,
            actor=actor,
            live_session=live_session,
        )
        _seating_announce(course=course, moved_user_ids=moved)
    return SeatingResult(moved_user_ids=tuple(moved))
