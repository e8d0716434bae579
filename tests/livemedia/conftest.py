from __future__ import annotations

import pytest

from classroom.models import LiveSession, RoomMode, Seat, SessionState, Table
from courses.models import Role
from tests.conftest import require
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory


def require_janus() -> None:
    from tests.livemedia.lab import janus_available

    require(
        janus_available(),
        "Janus is not installed (apt-get install -y janus janus-tools) or not root "
        "(the media lab creates a network namespace)",
    )


@pytest.fixture
def lab(tmp_path, transactional_db):
    """Janus and Daphne in a fresh network namespace, stopped and deleted after."""
    require_janus()
    from tests.livemedia.lab import MediaLab, patch_aioice

    patch_aioice()
    media_lab = MediaLab(tmp_path).start()
    try:
        yield media_lab
    finally:
        media_lab.stop()
        print("--- janus.log ---\n" + media_lab.log("janus")[-3000:])
        print("--- daphne.log ---\n" + media_lab.log("daphne")[-5000:])


@pytest.fixture
def classroom(transactional_db):
    """A live session in table talk: Ann, Ben at Table 1; Cleo, Dan at Table 2."""
    course = CourseFactory(title="Acoustics", code="PHY-210")
    teacher = EnrollmentFactory(course=course, role=Role.INSTRUCTOR, user__display_name="Maya").user
    tables = [Table.objects.create(course=course, name=f"Table {n}", position=n) for n in (1, 2)]
    people = {"teacher": teacher}
    for key, table in (("ann", 0), ("ben", 0), ("cleo", 1), ("dan", 1)):
        user = EnrollmentFactory(
            course=course, role=Role.LEARNER, user__display_name=key.title()
        ).user
        Seat.objects.create(course=course, table=tables[table], user=user)
        people[key] = user
    session = LiveSessionFactory(course=course, title="Resonance")
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.LIVE, mode=RoomMode.TABLE_TALK
    )
    session.refresh_from_db()
    return {"course": course, "session": session, "tables": tables, **people}
