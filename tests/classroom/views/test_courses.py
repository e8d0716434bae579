from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from classroom.models import LiveSession, SessionState
from tests.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_home_lists_my_courses_with_upcoming_and_past_sessions(
    client, course, other_course, learner
):
    now = timezone.now()
    LiveSessionFactory(course=course, title="Next week", scheduled_start=now + timedelta(days=7))
    LiveSessionFactory(
        course=course,
        title="Last week",
        scheduled_start=now - timedelta(days=7),
        state=SessionState.ENDED,
    )
    LiveSessionFactory(course=other_course, title="Not mine")
    client.force_login(learner)
    html = client.get("/").content.decode()
    assert course.title in html and other_course.title not in html
    assert "Next week" in html and "Last week" in html and "Not mine" not in html
    assert (
        html.index("Upcoming")
        < html.index("Next week")
        < html.index("Past")
        < html.index("Last week")
    )


def test_times_are_shown_in_the_viewers_time_zone(client, course, learner):
    learner.time_zone = "Asia/Tokyo"
    learner.save()
    LiveSessionFactory(course=course, scheduled_start=datetime(2030, 5, 1, 1, 0, tzinfo=UTC))
    client.force_login(learner)
    html = client.get("/").content.decode()
    assert "10:00–11:00" in html  # 01:00 UTC is 10:00 in Tokyo
    assert "Asia/Tokyo" in html


def test_course_page_for_a_member_and_404_for_an_outsider(client, course, learner, outsider):
    client.force_login(learner)
    assert client.get(f"/courses/{course.pk}/").status_code == 200
    client.force_login(outsider)
    assert client.get(f"/courses/{course.pk}/").status_code == 404


def test_staff_see_roster_and_schedule_form_learners_do_not(client, course, instructor, learner):
    client.force_login(instructor)
    html = client.get(f"/courses/{course.pk}/").content.decode()
    assert "Schedule a session" in html and learner.name in html
    client.force_login(learner)
    html = client.get(f"/courses/{course.pk}/").content.decode()
    assert "Schedule a session" not in html and "Roster" not in html


def test_instructor_schedules_a_session_in_their_time_zone(client, course, instructor):
    instructor.time_zone = "Europe/Berlin"
    instructor.save()
    client.force_login(instructor)
    response = client.post(
        f"/courses/{course.pk}/",
        {"title": "Lab review", "scheduled_start": "2030-06-01T14:00", "duration_minutes": "90"},
    )
    assert response.status_code == 302
    session = LiveSession.objects.get(title="Lab review")
    assert session.scheduled_start == datetime(2030, 6, 1, 12, 0, tzinfo=UTC)  # CEST = UTC+2
    assert session.scheduled_end - session.scheduled_start == timedelta(minutes=90)


def test_bad_schedule_input_is_a_400_with_messages_and_nothing_stored(client, course, instructor):
    client.force_login(instructor)
    response = client.post(
        f"/courses/{course.pk}/", {"title": "", "scheduled_start": "soon", "duration_minutes": "0"}
    )
    assert response.status_code == 400
    assert not LiveSession.objects.exists()
    assert b"field__error" in response.content


def test_learner_cannot_schedule(client, course, learner):
    client.force_login(learner)
    response = client.post(
        f"/courses/{course.pk}/",
        {"title": "Mine", "scheduled_start": "2030-06-01T14:00", "duration_minutes": "60"},
    )
    assert response.status_code == 403
    assert not LiveSession.objects.exists()


def test_login_logout_and_password_change_pages(client, learner):
    from tests.factories import PASSWORD

    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": learner.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/accounts/password/change/").status_code == 200
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-better-secret-42",
            "new_password2": "a-much-better-secret-42",
        },
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("a-much-better-secret-42")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_home_counts_active_learners_of_each_course(client, course, instructor):
    from courses.models import Role
    from tests.factories import EnrollmentFactory

    EnrollmentFactory.create_batch(3, course=course, role=Role.LEARNER)
    EnrollmentFactory(course=course, role=Role.LEARNER, is_active=False)
    EnrollmentFactory(course=course, role=Role.TA)
    client.force_login(instructor)
    assert "3 learners" in client.get("/").content.decode()


def test_roster_lists_staff_first(client, course, instructor, ta, learner):
    client.force_login(instructor)
    html = client.get(f"/courses/{course.pk}/").content.decode()
    roster = html[html.index('class="roster"') :]
    assert roster.index(instructor.name) < roster.index(ta.name) < roster.index(learner.name)
