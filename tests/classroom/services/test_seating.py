from __future__ import annotations

import json
import math

import pytest

from analytics.models import LearningEvent
from classroom.models import Seat, SeatingChange, SessionState, Table
from classroom.services.seating import (
    _balanced_sizes,
    seat_move,
    seating_auto,
    seating_csv_import,
    table_create,
    table_delete,
    table_update,
)
from core import realtime
from core.errors import ConflictError, NotFoundError, ValidationError
from courses.models import Role
from tests.factories import EnrollmentFactory, LiveSessionFactory

pytestmark = pytest.mark.django_db

BALANCED = SeatingChange.Method.AUTO_BALANCED
RANDOM = SeatingChange.Method.AUTO_RANDOM
FILL = SeatingChange.Method.AUTO_FILL


@pytest.fixture(autouse=True)
def frames(monkeypatch):
    """A fresh in-memory frame buffer per test: session ids repeat across test
    databases, so a shared buffer could hold another test's frames."""
    buffer = realtime.MemoryFrameBuffer()
    monkeypatch.setattr(realtime, "_frame_buffer", buffer)
    return buffer


def make_learners(course, count, *, prefix="Learner"):
    """`count` active learners named "<prefix> 01", "<prefix> 02"…"""
    return [
        EnrollmentFactory(
            course=course,
            role=Role.LEARNER,
            user__display_name=f"{prefix} {number:02d}",
            user__password=None,  # no password hashing: many users per test
        ).user
        for number in range(1, count + 1)
    ]


def seating_of(course):
    """{table name: sorted member names}."""
    result: dict[str, list[str]] = {
        name: [] for name in Table.objects.filter(course=course).values_list("name", flat=True)
    }
    for seat in Seat.objects.filter(course=course).select_related("table", "user"):
        result[seat.table.name].append(seat.user.name)
    return {name: sorted(members) for name, members in result.items()}


def written(course):
    """Everything a seating service writes, to assert that nothing was."""
    return (
        list(Table.objects.filter(course=course).values_list("pk", "name", "capacity")),
        sorted(Seat.objects.filter(course=course).values_list("user_id", "table_id")),
        SeatingChange.objects.count(),
        LearningEvent.objects.filter(verb="seated").count(),
    )


def frame_types(session, frames):
    return [
        (stream, json.loads(text)["type"])
        for _seq, stream, text in frames.since(f"live.{session.pk}", 0)
    ]


# --- Tables ---------------------------------------------------------------------------


def test_table_create_appends_after_the_last_table(course, instructor):
    first = table_create(course=course, name="  Red  ", actor=instructor)
    second = table_create(course=course, name="Blue", capacity=8, actor=instructor)
    assert (first.name, first.capacity, first.position) == ("Red", 6, 0)
    assert (second.name, second.capacity, second.position) == ("Blue", 8, 1)


def test_table_names_are_unique_per_course_ignoring_case(course, other_course, instructor):
    table_create(course=course, name="Red", actor=instructor)
    with pytest.raises(ConflictError) as caught:
        table_create(course=course, name="red", actor=instructor)
    assert caught.value.code == "table_name_taken"
    assert table_create(course=other_course, name="Red", actor=instructor).name == "Red"
    assert Table.objects.filter(course=course).count() == 1


@pytest.mark.parametrize("capacity", [1, 11, 0, "6", True])
def test_table_capacity_must_be_2_to_10(course, instructor, capacity):
    with pytest.raises(ValidationError) as caught:
        table_create(course=course, name="Red", capacity=capacity, actor=instructor)
    assert "capacity" in caught.value.details
    assert not Table.objects.exists()


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 61, "\u200b", "\u200b\u200d", "Ta\x00ble", "\x1b[31m", "\u202eRed"]
)
def test_table_name_must_be_1_to_60_visible_characters(course, instructor, name):
    with pytest.raises(ValidationError) as caught:
        table_create(course=course, name=name, actor=instructor)
    assert "name" in caught.value.details
    assert not Table.objects.exists()


def test_table_update_renames_and_resizes(course, instructor):
    table = table_create(course=course, name="Red", actor=instructor)
    table_update(table=table, name="Crimson", capacity=10, actor=instructor)
    table.refresh_from_db()
    assert (table.name, table.capacity) == ("Crimson", 10)


def test_table_update_refuses_a_taken_name(course, instructor):
    table_create(course=course, name="Red", actor=instructor)
    blue = table_create(course=course, name="Blue", actor=instructor)
    with pytest.raises(ConflictError) as caught:
        table_update(table=blue, name="RED", actor=instructor)
    assert caught.value.code == "table_name_taken"
    blue.refresh_from_db()
    assert blue.name == "Blue"


def test_table_capacity_cannot_drop_below_its_members(course, instructor):
    learners = make_learners(course, 3)
    table = table_create(course=course, name="Red", actor=instructor)
    for learner in learners:
        seat_move(course=course, user=learner, table=table, actor=instructor)
    with pytest.raises(ConflictError) as caught:
        table_update(table=table, capacity=2, actor=instructor)
    assert caught.value.code == "table_over_capacity"
    table.refresh_from_db()
    assert table.capacity == 6
    table_update(table=table, capacity=3, actor=instructor)
    table.refresh_from_db()
    assert table.capacity == 3


def test_table_delete_only_when_empty(course, instructor, learner):
    empty = table_create(course=course, name="Empty", actor=instructor)
    used = table_create(course=course, name="Used", actor=instructor)
    seat_move(course=course, user=learner, table=used, actor=instructor)
    table_delete(table=empty, actor=instructor)
    with pytest.raises(ConflictError) as caught:
        table_delete(table=used, actor=instructor)
    assert caught.value.code == "table_not_empty"
    assert list(Table.objects.filter(course=course).values_list("name", flat=True)) == ["Used"]


# --- Automatic seating ----------------------------------------------------------------


def test_balanced_seats_only_active_learners_by_name(course, instructor, ta, observer):
    learners = make_learners(course, 14)
    EnrollmentFactory(course=course, role=Role.LEARNER, is_active=False)
    result = seating_auto(course=course, method=BALANCED, actor=instructor, table_size=6)
    names = [learner.name for learner in learners]
    assert seating_of(course) == {
        "Table 1": names[0:5],
        "Table 2": names[5:10],
        "Table 3": names[10:14],
    }
    assert result.moved == 14
    assert [table.name for table in result.created_tables] == ["Table 1", "Table 2", "Table 3"]
    assert [table.capacity for table in result.created_tables] == [6, 6, 6]


@pytest.mark.parametrize("table_size", range(2, 11))
def test_balanced_sizes_differ_by_at_most_one(table_size):
    for count in range(0, 61):
        sizes = _balanced_sizes(count, table_size)
        assert len(sizes) == math.ceil(count / table_size)
        assert sum(sizes) == count
        if sizes:
            assert max(sizes) - min(sizes) <= 1 and max(sizes) <= table_size


@pytest.mark.parametrize(("count", "table_size"), [(1, 6), (7, 6), (13, 4), (25, 6), (23, 10)])
def test_balanced_seating_has_balanced_tables(course, instructor, count, table_size):
    make_learners(course, count)
    seating_auto(course=course, method=BALANCED, actor=instructor, table_size=table_size)
    sizes = [len(members) for members in seating_of(course).values()]
    assert sizes == _balanced_sizes(count, table_size)


def test_balanced_reuses_tables_by_position_and_names_new_ones_without_collisions(
    course, instructor
):
    make_learners(course, 18)
    table_create(course=course, name="Red", capacity=4, actor=instructor)
    table_create(course=course, name="Table 3", actor=instructor)
    result = seating_auto(course=course, method=BALANCED, actor=instructor, table_size=6)
    tables = list(Table.objects.filter(course=course).values_list("name", "capacity"))
    # Red grows to hold its share; the third table skips the taken "Table 3".
    assert tables == [("Red", 6), ("Table 3", 6), ("Table 4", 6)]
    assert [table.name for table in result.created_tables] == ["Table 4"]
    assert [len(members) for members in seating_of(course).values()] == [6, 6, 6]


def test_balanced_leaves_surplus_tables_empty(course, instructor):
    make_learners(course, 4)
    for name in ["A", "B", "C"]:
        table_create(course=course, name=name, actor=instructor)
    seating_auto(course=course, method=BALANCED, actor=instructor, table_size=6)
    assert [len(members) for members in seating_of(course).values()] == [4, 0, 0]


def test_balanced_twice_moves_nobody_the_second_time(course, instructor):
    make_learners(course, 9)
    seating_auto(course=course, method=BALANCED, actor=instructor)
    before = written(course)
    result = seating_auto(course=course, method=BALANCED, actor=instructor)
    assert (result.moved, result.created_tables) == (0, ())
    assert written(course) == before


def test_random_is_balanced_and_repeatable_with_a_seed(course, other_course, instructor):
    make_learners(course, 20)
    seating_auto(course=course, method=RANDOM, actor=instructor, table_size=6, seed=7)
    first = seating_of(course)
    assert sorted(len(members) for members in first.values()) == [5, 5, 5, 5]
    seating_auto(course=course, method=BALANCED, actor=instructor, table_size=6)
    assert seating_of(course) != first  # the random plan is not the alphabetical one
    seating_auto(course=course, method=RANDOM, actor=instructor, table_size=6, seed=7)
    assert seating_of(course) == first


def test_random_without_a_seed_seats_everyone(course, instructor):
    make_learners(course, 11)
    seating_auto(course=course, method=RANDOM, actor=instructor, table_size=4)
    assert sorted(len(members) for members in seating_of(course).values()) == [3, 4, 4]


def test_fill_keeps_seats_and_puts_newcomers_in_the_least_full_tables(course, instructor):
    make_learners(course, 8, prefix="Early")
    seating_auto(course=course, method=BALANCED, actor=instructor, table_size=6)  # 4 + 4
    red = Table.objects.get(name="Table 1")
    seat_move(
        course=course,
        user=Seat.objects.filter(table=red).first().user,
        table=Table.objects.get(name="Table 2"),
        actor=instructor,
    )  # 3 + 5
    before = dict(Seat.objects.filter(course=course).values_list("user_id", "table_id"))
    newcomers = make_learners(course, 3, prefix="Late")
    result = seating_auto(course=course, method=FILL, actor=instructor, table_size=6)
    after = dict(Seat.objects.filter(course=course).values_list("user_id", "table_id"))
    assert {user_id: after[user_id] for user_id in before} == before
    assert [after[user.pk] for user in newcomers] == [
        red.pk,
        red.pk,
        red.pk,
    ]  # 3→4→5, then tie 5/5 → first
    assert (result.moved, result.created_tables) == (3, ())


def test_fill_adds_a_table_when_all_are_full(course, instructor):
    make_learners(course, 4, prefix="Early")
    seating_auto(course=course, method=BALANCED, actor=instructor, table_size=2)  # 2 full tables
    late = make_learners(course, 3, prefix="Late")
    result = seating_auto(course=course, method=FILL, actor=instructor, table_size=2)
    assert [(table.name, table.capacity) for table in result.created_tables] == [
        ("Table 3", 2),
        ("Table 4", 2),
    ]
    assert seating_of(course)["Table 3"] == [late[0].name, late[1].name]
    assert seating_of(course)["Table 4"] == [late[2].name]


def test_auto_seating_gives_up_seats_of_people_no_longer_learners(course, instructor):
    learners = make_learners(course, 3)
    seating_auto(course=course, method=BALANCED, actor=instructor)
    table = Table.objects.get()
    learners[0].enrollments.update(is_active=False)
    result = seating_auto(course=course, method=FILL, actor=instructor)
    assert result.moved_user_ids == (learners[0].pk,)
    assert not Seat.objects.filter(user=learners[0]).exists()
    change = SeatingChange.objects.filter(user=learners[0]).last()
    assert (change.from_table_id, change.to_table_id, change.method) == (table.pk, None, FILL)


def test_auto_seating_rejects_unknown_methods_and_sizes(course, instructor, learner):
    with pytest.raises(ValidationError):
        seating_auto(course=course, method=SeatingChange.Method.CSV, actor=instructor)
    with pytest.raises(ValidationError) as caught:
        seating_auto(course=course, method=BALANCED, actor=instructor, table_size=11)
    assert "table_size" in caught.value.details
    assert not Seat.objects.exists() and not Table.objects.exists()


def test_every_move_is_recorded_with_actor_and_method(course, instructor):
    learners = make_learners(course, 3)
    seating_auto(course=course, method=BALANCED, actor=instructor)
    table = Table.objects.get()
    changes = list(SeatingChange.objects.order_by("user_id"))
    assert [
        (change.user_id, change.from_table_id, change.to_table_id, change.method, change.actor_id)
        for change in changes
    ] == [(learner.pk, None, table.pk, BALANCED, instructor.pk) for learner in learners]
    assert all(change.created_at is not None for change in changes)
    events = list(LearningEvent.objects.filter(verb="seated").order_by("actor_id"))
    assert [
        (event.actor_id, event.object_type, event.object_id, event.course_id) for event in events
    ] == [(learner.pk, "table", str(table.pk), course.pk) for learner in learners]
    assert events[0].extensions == {
        "method": "auto_balanced",
        "by": instructor.pk,
        "from_table": None,
    }


# --- CSV seating plan -----------------------------------------------------------------


def test_csv_plan_seats_by_username_or_email_and_creates_tables(course, instructor):
    ada, ben, cem = make_learners(course, 3)
    red = table_create(course=course, name="Red", actor=instructor)
    seat_move(course=course, user=cem, table=red, actor=instructor)
    plan = f"Learner,Table\r\n{ada.username.upper()},red\r\n{ben.email.upper()},  Blue  Team \r\n"
    result = seating_csv_import(course=course, csv_text=plan, actor=instructor)
    assert seating_of(course) == {"Red": [ada.name, cem.name], "Blue Team": [ben.name]}
    assert [table.name for table in result.created_tables] == ["Blue Team"]
    assert result.moved_user_ids == (ada.pk, ben.pk)
    assert list(SeatingChange.objects.filter(method="csv").values_list("user_id", flat=True)) == [
        ada.pk,
        ben.pk,
    ]
    event = LearningEvent.objects.get(verb="seated", actor=ben)
    assert event.extensions == {"method": "csv", "by": instructor.pk, "from_table": None}


@pytest.mark.parametrize("header", ["email,table", "username,table", "\ufefflearner,table"])
def test_csv_plan_accepts_email_and_username_headers(course, instructor, learner, header):
    seating_csv_import(course=course, csv_text=f"{header}\n{learner.email},Red\n", actor=instructor)
    assert seating_of(course) == {"Red": [learner.name]}


def test_csv_plan_accepts_semicolons(course, instructor, learner):
    seating_csv_import(
        course=course, csv_text=f"learner;table\n{learner.username};Red\n", actor=instructor
    )
    assert seating_of(course) == {"Red": [learner.name]}


def test_csv_plan_keeps_learners_not_in_the_plan_and_grows_tables_up_to_10(course, instructor):
    learners = make_learners(course, 10)
    red = table_create(course=course, name="Red", capacity=4, actor=instructor)
    seat_move(course=course, user=learners[0], table=red, actor=instructor)
    plan = "learner,table\n" + "".join(f"{learner.username},Red\n" for learner in learners[1:8])
    plan += "".join(f"{learner.username},Green\n" for learner in learners[8:])
    seating_csv_import(course=course, csv_text=plan, actor=instructor)
    assert list(Table.objects.filter(course=course).values_list("name", "capacity")) == [
        ("Red", 8),
        ("Green", 6),
    ]
    assert len(seating_of(course)["Red"]) == 8


def test_csv_plan_errors_are_reported_by_line_and_nothing_is_written(
    course, other_course, instructor, ta, observer
):
    ada, ben = make_learners(course, 2)
    stranger = EnrollmentFactory(course=other_course, role=Role.LEARNER).user
    dropped = EnrollmentFactory(course=course, role=Role.LEARNER, is_active=False).user
    red = table_create(course=course, name="Red", actor=instructor)
    seat_move(course=course, user=ben, table=red, actor=instructor)
    before = written(course)
    plan = "\n".join(
        [
            "learner,table",  # 1
            f"{ada.username},Blue",  # 2: fine
            "nobody@example.test,Blue",  # 3: unknown
            "",  # 4: blank lines are skipped
            f"{stranger.username},Blue",  # 5: another course's learner is unknown here
            f"{observer.email},Blue",  # 6
            f"{ta.username},Blue",  # 7
            f"{dropped.username},Blue",  # 8
            f"{ada.email},Red",  # 9: ada again
            f"{ben.username},",  # 10
            f"{ben.username},{'x' * 61}",  # 11
            f"{ben.username},Red,extra",  # 12
            "only-one-column",  # 13
            ",Red",  # 14
        ]
    )
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(course=course, csv_text=plan, actor=instructor)
    error = caught.value
    assert error.code == "seating_csv_invalid"
    assert error.details == {
        "rows": [
            {"line": 3, "error": "Unknown learner “nobody@example.test”."},
            {"line": 5, "error": f"Unknown learner “{stranger.username}”."},
            {"line": 6, "error": f"“{observer.email}” is not a learner of this course."},
            {"line": 7, "error": f"“{ta.username}” is not a learner of this course."},
            {"line": 8, "error": f"“{dropped.username}” is not a learner of this course."},
            {"line": 9, "error": f"“{ada.email}” is already in the plan on line 2."},
            {"line": 10, "error": "The table name is empty."},
            {"line": 11, "error": "The table name is longer than 60 characters."},
            {"line": 12, "error": "Expected 2 columns (learner, table), found 3."},
            {"line": 13, "error": "Expected 2 columns (learner, table), found 1."},
            {"line": 14, "error": "The learner is empty."},
        ]
    }
    assert written(course) == before


def test_csv_plan_more_than_10_at_a_table_is_a_row_error(course, instructor):
    learners = make_learners(course, 12)
    plan = "learner,table\n" + "".join(f"{learner.username},Big\n" for learner in learners)
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(course=course, csv_text=plan, actor=instructor)
    assert caught.value.details["rows"] == [
        {"line": 12, "error": "Table “Big” would seat more than 10 learners."},
        {"line": 13, "error": "Table “Big” would seat more than 10 learners."},
    ]
    assert written(course) == ([], [], 0, 0)


@pytest.mark.parametrize("plan", ["", "ada,Red\n", "learner\nada\n", "\nlearner,table\n"])
def test_csv_plan_without_header_is_refused(course, instructor, plan):
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(course=course, csv_text=plan, actor=instructor)
    assert caught.value.details == {
        "rows": [{"line": 1, "error": "The first line must be the header “learner,table”."}]
    }


def test_csv_plan_quoted_names_and_multiline_rows_keep_line_numbers(course, instructor, learner):
    plan = f'learner,table\n"{learner.username}","Red, the big one"\n"nobody","two\nlines"\nx,y\n'
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(course=course, csv_text=plan, actor=instructor)
    assert [row["line"] for row in caught.value.details["rows"]] == [3, 5]


def test_csv_plan_with_an_unterminated_quote_is_an_error_not_a_swallowed_row(course, instructor):
    """Found by fuzzing: the quote swallowed the next row into a table name."""
    ada, ben = make_learners(course, 2)
    plan = f'learner,table\n{ada.username},"Table 2\n{ben.username},Table 3\n'
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(course=course, csv_text=plan, actor=instructor)
    rows = caught.value.details["rows"]
    assert [row["line"] for row in rows] == [2]
    assert rows[0]["error"].startswith("Not valid CSV")
    assert written(course) == ([], [], 0, 0)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("Ta\x00ble", "The table name contains a control character."),
        ("\u200b", "The table name has no visible character."),
    ],
)
def test_csv_plan_table_names_must_be_visible_text(course, instructor, cell, message):
    (ada,) = make_learners(course, 1)
    with pytest.raises(ValidationError) as caught:
        seating_csv_import(
            course=course, csv_text=f"learner,table\n{ada.username},{cell}\n", actor=instructor
        )
    assert caught.value.details["rows"] == [{"line": 2, "error": message}]
    assert written(course) == ([], [], 0, 0)


# --- By hand ----------------------------------------------------------------------------


def test_seat_move_records_who_moved_whom_during_a_session(
    course, instructor, learner, live_session
):
    red = table_create(course=course, name="Red", actor=instructor)
    blue = table_create(course=course, name="Blue", actor=instructor)
    seat_move(course=course, user=learner, table=red, actor=instructor)
    result = seat_move(
        course=course, user=learner, table=blue, actor=instructor, live_session=live_session
    )
    assert result.moved_user_ids == (learner.pk,)
    change = SeatingChange.objects.last()
    assert (
        change.user_id,
        change.from_table_id,
        change.to_table_id,
        change.method,
        change.actor_id,
        change.live_session_id,
    ) == (learner.pk, red.pk, blue.pk, "manual", instructor.pk, live_session.pk)
    event = LearningEvent.objects.filter(verb="seated").last()
    assert (event.actor_id, event.object_id, event.live_session_id) == (
        learner.pk,
        str(blue.pk),
        live_session.pk,
    )
    assert event.extensions == {"method": "manual", "by": instructor.pk, "from_table": red.pk}


def test_seat_move_to_the_same_table_changes_nothing(course, instructor, learner):
    red = table_create(course=course, name="Red", actor=instructor)
    seat_move(course=course, user=learner, table=red, actor=instructor)
    before = written(course)
    assert seat_move(course=course, user=learner, table=red, actor=instructor).moved == 0
    assert written(course) == before


def test_seat_move_into_a_full_table_is_refused_and_nothing_written(
    course, instructor, live_session, frames, django_capture_on_commit_callbacks
):
    live_session.state = SessionState.LIVE
    live_session.save()
    first, second, third = make_learners(course, 3)
    small = table_create(course=course, name="Small", capacity=2, actor=instructor)
    other = table_create(course=course, name="Other", actor=instructor)
    seat_move(course=course, user=first, table=small, actor=instructor)
    seat_move(course=course, user=second, table=small, actor=instructor)
    seat_move(course=course, user=third, table=other, actor=instructor)
    before = written(course)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ConflictError) as caught:
            seat_move(course=course, user=third, table=small, actor=instructor)
    assert caught.value.code == "table_full"
    assert written(course) == before
    assert callbacks == [] and frame_types(live_session, frames) == []


@pytest.mark.parametrize("person", ["ta", "observer", "outsider"])
def test_seat_move_only_seats_active_learners_of_the_course(course, instructor, request, person):
    user = request.getfixturevalue(person)
    red = table_create(course=course, name="Red", actor=instructor)
    with pytest.raises(ValidationError) as caught:
        seat_move(course=course, user=user, table=red, actor=instructor)
    assert caught.value.code == "not_a_learner"
    assert not Seat.objects.exists()


def test_seat_move_refuses_a_table_of_another_course(course, other_course, instructor, learner):
    foreign = table_create(course=other_course, name="Red", actor=instructor)
    with pytest.raises(NotFoundError) as caught:
        seat_move(course=course, user=learner, table=foreign, actor=instructor)
    assert caught.value.code == "table_not_found"
    assert not Seat.objects.exists()


def test_seats_carry_over_to_the_next_session(course, instructor, learner):
    red = table_create(course=course, name="Red", actor=instructor)
    seat_move(course=course, user=learner, table=red, actor=instructor)
    LiveSessionFactory(course=course, state=SessionState.ENDED)
    LiveSessionFactory(course=course)
    assert Seat.objects.get(user=learner).table == red


# --- Realtime ---------------------------------------------------------------------------


def test_a_live_session_gets_the_seat_map_and_moved_users_are_told(
    course, instructor, live_session, frames, django_capture_on_commit_callbacks
):
    live_session.state = SessionState.LIVE
    live_session.save()
    scheduled = LiveSessionFactory(course=course)
    ada, ben = make_learners(course, 2)
    red = table_create(course=course, name="Red", actor=instructor)
    seat_move(course=course, user=ada, table=red, actor=instructor)

    with django_capture_on_commit_callbacks(execute=True):
        seating_auto(course=course, method=FILL, actor=instructor)

    sent = frames.since(live_session.group_name, 0)
    assert [(stream, json.loads(text)["type"]) for _seq, stream, text in sent] == [
        ("staff", "seating.changed"),
        (f"user.{ben.pk}", "seat.moved"),
    ]
    seat_map = json.loads(sent[0][2])["data"]["tables"]
    assert seat_map == [
        {
            "id": red.pk,
            "name": "Red",
            "capacity": 6,
            "members": [{"id": ada.pk, "name": ada.name}, {"id": ben.pk, "name": ben.name}],
        }
    ]
    assert json.loads(sent[1][2])["data"] == {"user_id": ben.pk}
    live_session.refresh_from_db()
    assert live_session.seq == sent[-1][0]
    assert frames.since(scheduled.group_name, 0) == []


def test_table_changes_reach_live_staff_too(
    course, instructor, live_session, frames, django_capture_on_commit_callbacks
):
    live_session.state = SessionState.LIVE
    live_session.save()
    with django_capture_on_commit_callbacks(execute=True):
        table = table_create(course=course, name="Red", actor=instructor)
        table_update(table=table, name="Crimson", actor=instructor)
        table_delete(table=table, actor=instructor)
    assert frame_types(live_session, frames) == [("staff", "seating.changed")] * 3


def test_no_learners_moved_means_no_frames(
    course, instructor, live_session, frames, django_capture_on_commit_callbacks
):
    live_session.state = SessionState.LIVE
    live_session.save()
    with django_capture_on_commit_callbacks(execute=True):
        seating_auto(course=course, method=BALANCED, actor=instructor)
    assert frame_types(live_session, frames) == []
