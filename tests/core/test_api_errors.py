"""Every /api/ error is JSON in the documented shape, including the ones
Django answers itself (an unknown path, a method, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host, CSRF), with DEBUG on or off; pages
keep their HTML."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_unknown_api_paths_are_json_404s_and_pages_stay_html(client, learner, debug):
    client.force_login(learner)
    _shape(client.get("/api/nothing-here/"), 404, "not_found")
    _shape(
        client.post("/api/nothing/here", "{}", content_type="application/json"), 404, "not_found"
    )
    page = client.get("/nothing-here/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_method_the_endpoint_has_not_is_a_json_405(client, learner, debug):
    client.force_login(learner)
    response = client.delete("/api/me/")
    _shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"]
)
def test_a_body_over_djangos_limit_is_a_json_413_before_it_is_read(
    client, instructor, course, settings, debug, content_type
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(instructor)
    body = json.dumps({"title": "x" * 2000}) if content_type == "application/json" else "a" * 2000
    url = f"/api/courses/{course.pk}/sessions/schedule/"
    error = _shape(client.post(url, body, content_type=content_type), 413, "request_too_large")
    assert "too large" in error["message"]


def test_form_fields_over_djangos_limit_in_a_multipart_upload_are_a_json_413(
    client, instructor, course, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(instructor)
    response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"title": "x" * 5000})
    _shape(response, 413, "request_too_large")


def test_a_page_form_over_djangos_limit_is_a_413_page(client, instructor, course, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(instructor)
    response = client.post(
        f"/courses/{course.pk}/seating/",
        "a=" + "x" * 2000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "too large" in response.content.decode()


def test_djangos_own_400_is_json_on_the_api(client, learner, debug):
    client.force_login(learner)
    response = client.get("/api/me/", HTTP_HOST="not-allowed.example")
    _shape(response, 400, "bad_request")
    page = client.get("/", HTTP_HOST="not-allowed.example")
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")


def test_a_csrf_failure_on_the_api_is_json(instructor, course, debug):
    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/", "{}", content_type="application/json"
    )
    error = _shape(response, 403, "permission_denied")
    assert "CSRF" in error["message"]


def test_a_body_type_the_api_does_not_take_is_a_json_415(client, instructor, course):
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/sessions/schedule/",
        "title=x",
        content_type="application/x-www-form-urlencoded",
    )
    _shape(response, 415, "unsupported_media_type")
