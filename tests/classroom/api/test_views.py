from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token

from classroom.models import LiveSession
from tests.factories import PASSWORD, LiveSessionFactory

pytestmark = pytest.mark.django_db


def test_token_authentication_lists_my_courses_with_roles(client, course, other_course, instructor):
    response = client.post(
        "/api/auth/token/", {"username": instructor.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=instructor).key == token
    response = client.get("/api/courses/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": course.pk,
            "title": course.title,
            "code": course.code,
            "term": course.term,
            "time_zone": "UTC",
            "role": "instructor",
        }
    ]


def test_course_detail_shows_members_to_staff_only(client, course, ta, learner):
    client.force_login(ta)
    members = client.get(f"/api/courses/{course.pk}/").json()["members"]
    assert {member["user"]["username"] for member in members} == {ta.username, learner.username}
    client.force_login(learner)
    assert client.get(f"/api/courses/{course.pk}/").json()["members"] is None


def test_outsider_gets_404_for_course_and_sessions(client, course, outsider):
    client.force_login(outsider)
    for url in (f"/api/courses/{course.pk}/", f"/api/courses/{course.pk}/sessions/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "course_not_found"


def test_staff_schedule_learners_are_refused(client, course, instructor, learner):
    payload = {
        "title": "Extra",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T11:00:00Z",
    }
    client.force_login(learner)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/", payload, content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"
    assert not LiveSession.objects.exists()
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/", payload, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["state"] == "scheduled"
    listed = client.get(f"/api/courses/{course.pk}/sessions/").json()
    assert [session["title"] for session in listed] == ["Extra"]


def test_end_before_start_is_a_clear_400(client, course, instructor):
    client.force_login(instructor)
    payload = {
        "title": "Backwards",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T09:00:00Z",
    }
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/", payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert "scheduled_end" in response.json()["error"]["details"]


def test_openapi_schema_and_local_docs(client, learner):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/courses/{course_id}/sessions/schedule/" in document["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_session_list_is_ordered_by_start(client, course, learner):
    later = LiveSessionFactory(course=course, title="B")
    LiveSessionFactory(
        course=course, title="A", scheduled_start=later.scheduled_start - timedelta(days=30)
    )
    client.force_login(learner)
    titles = [s["title"] for s in client.get(f"/api/courses/{course.pk}/sessions/").json()]
    assert titles == ["A", "B"]


def test_a_body_nested_too_deep_is_a_400_not_a_500(client, course, instructor):
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/",
        "[" * 100_000 + "]" * 100_000,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]
    assert not LiveSession.objects.exists()
