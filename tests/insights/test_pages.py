"""The insights pages and the console panel's JSON (insights/views.py): who
may open each one, and what they show on the hand-built history of
tests/insights/conftest.py (rollups built by the real rebuild)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.services import event_record
from classroom.models import Attendance, SessionState
from courses.models import Program, Role
from insights.services import rollups_course_rebuild
from tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    SeatFactory,
    TableFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(history):
    rollups_course_rebuild(course_id=history.course.pk)
    return history


@pytest.fixture
def program(built):
    program = Program.objects.create(name="Life Sciences BSc")
    program.courses.add(built.course)
    program.admins.add(UserFactory(display_name="Prof. Admin"))
    return program


@pytest.fixture
def actors(built, ta, instructor, outsider, program):
    """Everyone of the permission matrix, by name (None: anonymous)."""
    return {
        "learner": built.ana,
        "other_learner": built.dee,
        "ta": ta,
        "instructor": instructor,
        "other_instructor": outsider,  # instructor of another course
        "program_admin": program.admins.get(),
        "stranger": UserFactory(),
        "anonymous": None,
    }


def _get(client, user, url, **extra):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.get(url, **extra)


def _pages(built, program):
    course, session, ana = built.course.pk, built.session.pk, built.ana.pk
    return {
        "home": "/insights/",
        "dashboard": f"/courses/{course}/insights/",
        "drill_down": f"/courses/{course}/insights/learners/{ana}/",
        "progress": f"/courses/{course}/progress/",
        "report": f"/sessions/{session}/report/",
        "program": f"/programs/{program.pk}/insights/",
    }


# Expected status per (page, actor). 302 for the learner's drill-down into
# herself is the redirect to her progress page; for anonymous, to the login.
EXPECTED = {
    "home": dict(
        learner=200,
        other_learner=200,
        ta=200,
        instructor=200,
        other_instructor=200,
        program_admin=200,
        stranger=200,
        anonymous=302,
    ),
    "dashboard": dict(
        learner=403,
        other_learner=403,
        ta=200,
        instructor=200,
        other_instructor=404,
        program_admin=200,
        stranger=404,
        anonymous=302,
    ),
    "drill_down": dict(
        learner=302,
        other_learner=403,
        ta=200,
        instructor=200,
        other_instructor=404,
        program_admin=200,
        stranger=404,
        anonymous=302,
    ),
    "progress": dict(
        learner=200,
        other_learner=200,
        ta=403,
        instructor=403,
        other_instructor=404,
        program_admin=403,
        stranger=404,
        anonymous=302,
    ),
    "report": dict(
        learner=403,
        other_learner=403,
        ta=200,
        instructor=200,
        other_instructor=404,
        program_admin=200,
        stranger=404,
        anonymous=302,
    ),
    "program": dict(
        learner=404,
        other_learner=404,
        ta=404,
        instructor=404,
        other_instructor=404,
        program_admin=200,
        stranger=404,
        anonymous=302,
    ),
}


def test_every_page_answers_each_role_as_the_matrix_says(client, built, program, actors):
    pages = _pages(built, program)
    seen = {
        page: {name: _get(client, user, url).status_code for name, user in actors.items()}
        for page, url in pages.items()
    }
    assert seen == EXPECTED
    # The redirects go where they should.
    learner_self = _get(client, actors["learner"], pages["drill_down"])
    assert learner_self["Location"] == pages["progress"]
    assert _get(client, None, pages["dashboard"])["Location"].startswith("/accounts/login/")


def test_the_console_panels_data_is_for_staff_only(client, built, program, actors):
    """The panel reads the insights API (its own tests cover it in depth)."""
    url = f"/api/insights/sessions/{built.session.pk}/live/"
    seen = {name: _get(client, user, url).status_code for name, user in actors.items()}
    assert seen == dict(
        learner=403,
        other_learner=403,
        ta=200,
        instructor=200,
        other_instructor=404,
        program_admin=200,
        stranger=404,
        anonymous=403,  # DRF without credentials, as every API view here
    )


def test_a_platform_admin_opens_every_staff_page(client, built, program, platform_admin):
    pages = _pages(built, program)
    for page in ("home", "dashboard", "drill_down", "report", "program"):
        assert _get(client, platform_admin, pages[page]).status_code == 200, page


def test_the_dashboard_shows_each_learner_in_each_session_across_live_and_playback(
    client, built, instructor
):
    page = _get(client, instructor, f"/courses/{built.course.pk}/insights/").content.decode()
    for name in ("Ana", "Ben", "Cid", "Dee"):
        assert f">{name}</a>" in page
    # Ana present live, Ben caught up in playback, Cid absent and not caught up.
    assert page.count("Present, ") == 2  # Ana and Dee (the visually hidden label)
    assert page.count("Watched later, watched 80% of the recording") == 1  # Ben: 40 of 50 min
    assert page.count('<span class="visually-hidden">Absent, not caught up</span>') == 1
    assert f'href="/sessions/{built.session.pk}/report/"' in page
    assert 'id="chart-trends"' in page and "Show the data as a table" in page
    assert "2026-W10" in page  # the week of 2 March 2026, in the chart's table


def _matrix(client, user, url) -> str:
    page = _get(client, user, url).content.decode()
    return page.split('id="matrix-title"')[1].split("</section>")[0]


def test_the_dashboards_filters_come_from_the_url(client, built, instructor):
    base = f"/courses/{built.course.pk}/insights/"
    absent = _matrix(client, instructor, base + "?status=absent")
    assert ">Cid</a>" in absent and ">Ana</a>" not in absent and ">Ben</a>" not in absent
    by_table = _matrix(client, instructor, base + f"?table={built.table.pk}")
    assert ">Ana</a>" in by_table and ">Dee</a>" in by_table and ">Cid</a>" not in by_table
    by_name = _get(client, instructor, base + "?q=be").content.decode()
    matrix = by_name.split('id="matrix-title"')[1].split("</section>")[0]
    assert ">Ben</a>" in matrix and ">Ana</a>" not in matrix
    # The form shows what is applied, so the address can be shared as it is.
    assert 'value="be"' in by_name
    assert "No learner matches these filters" in _matrix(client, instructor, base + "?q=zzz")
    later = _matrix(client, instructor, base + "?since=2026-04-01")
    assert "No session in these dates" in later


def test_the_matrix_pages_its_learners_and_the_pages_keep_the_filters(client, built, instructor):
    base = f"/courses/{built.course.pk}/insights/"
    first = _matrix(client, instructor, base + "?per_page=2")
    assert ">Ana</a>" in first and ">Ben</a>" in first and ">Cid</a>" not in first
    assert "Page 1 of 2 · 4 learners" in first
    assert 'href="?per_page=2&amp;page=2#matrix"' in first
    second = _matrix(client, instructor, base + "?per_page=2&page=2")
    assert ">Cid</a>" in second and ">Dee</a>" in second and ">Ana</a>" not in second
    assert 'href="?per_page=2&amp;page=1#matrix"' in second


def test_a_filter_that_does_not_parse_is_a_400_that_says_why_and_shows_everyone(
    client, built, instructor
):
    base = f"/courses/{built.course.pk}/insights/"
    response = _get(client, instructor, base + "?since=yesterday&table=abc")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid date." in page and "Select a valid choice." in page
    assert ">Ana</a>" in page and ">Cid</a>" in page
    reversed_range = _get(client, instructor, base + "?since=2026-03-10&until=2026-03-01")
    assert reversed_range.status_code == 400
    assert "The end date is before the start date." in reversed_range.content.decode()


def test_the_session_report_has_attendance_participation_polls_and_follow_up(
    client, built, instructor
):
    page = _get(client, instructor, f"/sessions/{built.session.pk}/report/").content.decode()
    assert "43.0 min" in page  # Ana: 18 + 25 minutes
    assert "50.0 min" in page  # Dee
    assert "46.5 min" in page  # the class median of those present: (43 + 50) / 2
    assert "Ana: 0:02:00" not in page and "Ana: 2:00–20:00, 25:00–50:00 after the start" in page
    assert "2+2?" in page and "Mood?" in page and "Anonymous: counts only" in page
    # Who needs follow-up: Cid was absent and did not watch; Ben caught up.
    assert "Absent and has not watched the recording" in page
    follow_up = page.split('id="follow-title"')[1].split("</section>")[0]
    assert ">Cid</a>" in follow_up and ">Ben</a>" not in follow_up
    assert "Class median (present)" in page


def test_an_anonymous_polls_answers_never_appear_per_person(client, built, instructor):
    page = _get(client, instructor, f"/sessions/{built.session.pk}/report/").content.decode()
    participation = page.split('id="participation-title"')[1].split("</section>")[0]
    # Ana answered the named quiz (1 of the 1 named poll); the anonymous poll
    # is not counted for anyone.
    ana_row = participation.split(">Ana</a>")[1].split("</tr>")[0]
    assert "1 / 1" in ana_row


def test_the_drill_down_lists_what_the_learner_did_and_filters_by_mode(client, built, instructor):
    base = f"/courses/{built.course.pk}/insights/learners/{built.ben.pk}/"
    page = _get(client, instructor, base).content.decode()
    assert "Played the recording" in page and "Took a note · at 25:00" in page
    assert "Answered a poll · right · at 5:00" in page
    live_only = _get(client, instructor, base + "?mode=live").content.decode()
    assert "Played the recording" not in live_only and "Nothing matches these filters." in live_only
    ana = _get(client, instructor, f"/courses/{built.course.pk}/insights/learners/{built.ana.pk}/")
    assert "Spoke (0:04)" in ana.content.decode()
    assert (
        _get(
            client, instructor, f"/courses/{built.course.pk}/insights/learners/{instructor.pk}/"
        ).status_code
        == 404
    )


def test_my_progress_shows_only_my_own_numbers(client, built):
    page = _get(client, built.ana, f"/courses/{built.course.pk}/progress/").content.decode()
    assert "My progress in" in page
    assert "71.7%" in page  # Ana's attendance: 43 of 60 scheduled minutes
    for classmate in ("Ben", "Cid", "Dee"):
        assert classmate not in page
    assert 'id="chart-my-sessions"' in page
    ben = _get(client, built.ben, f"/courses/{built.course.pk}/progress/").content.decode()
    assert "Watched later" in ben and "80%" in ben
    assert f'href="/recordings/{built.recording.pk}/">Replay</a>' in ben


def test_the_program_page_lists_its_courses(client, built, program):
    page = _get(client, program.admins.get(), f"/programs/{program.pk}/insights/").content.decode()
    assert built.course.code in page and f'href="/courses/{built.course.pk}/insights/"' in page
    assert 'id="chart-program"' in page


def test_empty_course_pages_say_so(client, db):
    course = CourseFactory()
    teacher = EnrollmentFactory(course=course, role=Role.INSTRUCTOR).user
    newcomer = EnrollmentFactory(course=course, role=Role.LEARNER).user
    dashboard = _get(client, teacher, f"/courses/{course.pk}/insights/").content.decode()
    assert "No sessions held yet" in dashboard and "Nobody is at risk right now." in dashboard
    assert "Nothing to draw yet." in dashboard
    progress = _get(client, newcomer, f"/courses/{course.pk}/progress/").content.decode()
    assert "Your progress appears here after your first session." in progress
    hub = _get(client, UserFactory(), "/insights/").content.decode()
    assert "Nothing to show yet" in hub


def test_the_course_page_and_the_hub_link_to_the_right_pages(client, built, instructor):
    course = built.course.pk
    staff_page = _get(client, instructor, f"/courses/{course}/").content.decode()
    assert f'href="/courses/{course}/insights/"' in staff_page
    assert f'href="/sessions/{built.session.pk}/report/"' in staff_page
    learner_page = _get(client, built.ana, f"/courses/{course}/").content.decode()
    assert f'href="/courses/{course}/progress/"' in learner_page
    assert "/insights/" not in learner_page.replace('href="/insights/"', "")
    assert "/report/" not in learner_page
    hub = _get(client, built.ana, "/insights/").content.decode()
    assert f'href="/courses/{course}/progress/"' in hub


def test_the_console_has_the_panel_for_staff_only(client, built, instructor):
    url = f"/sessions/{built.session.pk}/live/"
    staff = _get(client, instructor, url).content.decode()
    assert "data-live-insights" in staff
    assert f'data-url="/api/insights/sessions/{built.session.pk}/live/"' in staff
    assert "data-live-insights" not in _get(client, built.ana, url).content.decode()


def test_the_api_gives_the_console_panel_what_its_script_reads(client, course, instructor):
    """static/insights/live_panel.js reads these keys; the numbers are the
    selector's (tested with the API)."""
    now = timezone.now()
    session = LiveSessionFactory(
        course=course,
        state=SessionState.LIVE,
        scheduled_start=now - timedelta(minutes=30),
        scheduled_end=now + timedelta(minutes=30),
        started_at=now - timedelta(minutes=30),
    )
    table = TableFactory(course=course, name="Table Blue")
    people = {}
    for name in ("Ines", "Jon", "Kai"):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        SeatFactory(course=course, table=table, user=user)
        Attendance.objects.create(
            session=session,
            user=user,
            connection=f"c-{name}",
            joined_at=now - timedelta(minutes=25),
        )
        people[name] = user
    for name, seconds in (("Ines", 50), ("Jon", 5)):
        event_record(
            verb="spoke",
            object_type="live_session",
            object_id=session.pk,
            actor=people[name],
            course=course,
            live_session_id=session.pk,
            duration_ms=seconds * 1000,
            occurred_at=now - timedelta(minutes=3),
        )
    data = _get(client, instructor, f"/api/insights/sessions/{session.pk}/live/").json()
    assert data["present"] == 3 and isinstance(data["at"], str)
    assert [person["name"] for person in data["silent"]] == ["Kai"]
    [dominated] = data["dominated_tables"]
    assert (dominated["name"], dominated["user"], round(100 * dominated["share"])) == (
        "Table Blue",
        "Ines",
        91,
    )
    assert data["polls"] == []
