from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from classroom.models import LiveSession, SessionState
from courses.models import Course, Enrollment, Role, User

pytestmark = pytest.mark.django_db


def _counts():
    return (
        User.objects.count(),
        Course.objects.count(),
        Enrollment.objects.count(),
        LiveSession.objects.count(),
    )


def test_seed_demo_is_idempotent_and_prints_logins(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    output = capsys.readouterr().out
    assert "instructor / roundtable-demo" in output and "learner24" in output


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


def test_seed_demo_refuses_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert _counts() == (0, 0, 0, 0)
