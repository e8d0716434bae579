from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from classroom.models import LiveSession, Seat, SeatingChange, SessionState, Table
from courses.models import Course, Enrollment, Role, User

pytestmark = pytest.mark.django_db


def _counts():
    return (
        User.objects.count(),
        Course.objects.count(),
        Enrollment.objects.count(),
        LiveSession.objects.count(),
        Table.objects.count(),
        sorted(Seat.objects.values_list("user_id", "table_id")),
        SeatingChange.objects.count(),
    )


def test_seed_demo_is_idempotent_and_prints_logins(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    output = capsys.readouterr().out
    assert "instructor / roundtable-demo" in output and "learner24" in output
    assert "Table 4 (6/6): Sven Olsen, Tara Singh" in output


def test_seed_demo_content():
    call_command("seed_demo")
    course = Course.objects.get()
    roles = list(Enrollment.objects.filter(course=course).values_list("role", flat=True))
    assert (
        roles.count(Role.INSTRUCTOR) == 1
        and roles.count(Role.TA) == 1
        and roles.count(Role.LEARNER) == 24
    )
    states = sorted(LiveSession.objects.values_list("state", flat=True))
    assert states == [SessionState.ENDED, SessionState.SCHEDULED]
    instructor = User.objects.get(username="instructor")
    assert instructor.check_password("roundtable-demo")
    tables = Table.objects.filter(course=course)
    assert [(table.name, table.capacity, table.seats.count()) for table in tables] == [
        (f"Table {number}", 6, 6) for number in range(1, 5)
    ]
    seated = set(Seat.objects.filter(course=course).values_list("user__username", flat=True))
    assert seated == {f"learner{number:02d}" for number in range(1, 25)}


def test_seed_demo_keeps_the_instructors_seating(capsys):
    call_command("seed_demo")
    seat = Seat.objects.get(user__username="learner01")
    seat.table = Table.objects.get(name="Table 4")
    seat.save()
    call_command("seed_demo")
    assert Seat.objects.get(user__username="learner01").table.name == "Table 4"


def test_seed_demo_refuses_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert _counts() == (0, 0, 0, 0, 0, [], 0)
