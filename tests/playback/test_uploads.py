"""Who may upload, and what an upload body must be: the API and the page, for
every role. Someone who may not upload is refused before the body is read; a
body that is not multipart is a 400 that says so; no file says a file is
required. Nothing is stored on any refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.http.request import HttpRequest
from django.test import Client
from rest_framework.authtoken.models import Token

from courses.models import Role
from playback.models import Recording
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

ALLOWED = (Role.INSTRUCTOR, Role.TA)
REFUSED = (Role.LEARNER, Role.OBSERVER)


def _stored_files(media_root) -> list[Path]:
    folder = Path(media_root) / "recordings"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def body_reads(monkeypatch):
    """Counts every read of a request body (the stream and the form parse)."""
    reads: list[str] = []
    original_read = HttpRequest.read
    original_load = HttpRequest._load_post_and_files

    def read(self, *args, **kwargs):
        reads.append("read")
        return original_read(self, *args, **kwargs)

    def load(self):
        reads.append("form")
        return original_load(self)

    monkeypatch.setattr(HttpRequest, "read", read)
    monkeypatch.setattr(HttpRequest, "_load_post_and_files", load)
    return reads


def _member(course, role):
    return EnrollmentFactory(course=course, role=role).user


def _urls(course) -> dict[str, str]:
    return {
        "api": f"/api/courses/{course.pk}/recordings/upload/",
        "page": f"/courses/{course.pk}/recordings/upload/",
    }


BODIES = {
    "multipart": lambda path: {"file": open(path, "rb"), "title": "Lecture"},  # noqa: SIM115
    "urlencoded": "title=Lecture&file=x",
    "json": '{"title": "Lecture"}',
    "broken multipart": b"--nope\r\nthis is not a form",
}
TYPES = {
    "urlencoded": "application/x-www-form-urlencoded",
    "json": "application/json",
    "broken multipart": "multipart/form-data; boundary=xyz",
}


def _post(client, url, kind, media_files):
    if kind == "multipart":
        data = BODIES[kind](media_files["webm"])
        try:
            return client.post(url, data)
        finally:
            data["file"].close()
    return client.post(url, BODIES[kind], content_type=TYPES[kind])


@pytest.mark.parametrize("surface", ["api", "page"])
@pytest.mark.parametrize("role", REFUSED)
@pytest.mark.parametrize("kind", list(BODIES))
def test_who_may_not_upload_gets_403_before_the_body_is_read(
    client, course, media_files, media_root, body_reads, surface, role, kind
):
    client.force_login(_member(course, role))
    response = _post(client, _urls(course)[surface], kind, media_files)
    assert response.status_code == 403, response.content
    if surface == "api":
        assert response.json()["error"]["code"] == "role_forbidden"
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "Only staff can upload recordings." in response.content.decode()
        assert "Traceback" not in response.content.decode()
    assert body_reads == []
    assert not Recording.objects.exists() and _stored_files(media_root) == []


@pytest.mark.parametrize("surface", ["api", "page"])
def test_other_courses_and_anonymous_never_have_the_body_read(
    client, course, outsider, media_files, body_reads, surface
):
    url = _urls(course)[surface]
    response = _post(client, url, "urlencoded", media_files)  # not logged in
    assert response.status_code in (302, 403)
    client.force_login(outsider)
    response = _post(client, url, "urlencoded", media_files)
    assert response.status_code == 404
    if surface == "api":
        assert response.json()["error"]["code"] == "course_not_found"
    assert body_reads == [] and not Recording.objects.exists()


@pytest.mark.parametrize("surface", ["api", "page"])
@pytest.mark.parametrize("role", ALLOWED)
@pytest.mark.parametrize("kind", ["urlencoded", "json"])
def test_a_body_that_is_not_multipart_is_a_400_that_says_so(
    client, course, media_files, media_root, surface, role, kind
):
    client.force_login(_member(course, role))
    response = _post(client, _urls(course)[surface], kind, media_files)
    assert response.status_code == 400, response.content
    if surface == "api":
        error = response.json()["error"]
        assert error["code"] == "not_multipart"
        assert "multipart/form-data" in error["message"]
    else:
        assert "multipart/form-data" in response.content.decode()
    assert not Recording.objects.exists() and _stored_files(media_root) == []


@pytest.mark.parametrize("role", ALLOWED)
def test_a_broken_multipart_body_is_a_400(client, course, media_files, role):
    client.force_login(_member(course, role))
    api = _post(client, _urls(course)["api"], "broken multipart", media_files)
    # Django finds no part in it: no file.
    assert api.status_code == 400 and api.json()["error"]["details"]["file"]
    page = _post(client, _urls(course)["page"], "broken multipart", media_files)
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
    assert not Recording.objects.exists()


@pytest.mark.parametrize("role", ALLOWED)
def test_no_file_says_a_file_is_required(client, course, role):
    client.force_login(_member(course, role))
    for title in ("", "Lecture"):
        api = client.post(_urls(course)["api"], {"title": title})
        assert api.status_code == 400
        assert api.json()["error"]["details"]["file"] == [
            "A file is required: choose a recording to upload."
        ]
        page = client.post(_urls(course)["page"], {"title": title})
        text = page.content.decode()
        assert page.status_code == 400 and "a file is required" in text
        assert "A title has 1 to 200 characters." not in text
    assert not Recording.objects.exists()


@pytest.mark.parametrize("role", ALLOWED)
def test_staff_upload_through_the_api_and_the_page(client, course, media_files, role):
    client.force_login(_member(course, role))
    api = _post(client, _urls(course)["api"], "multipart", media_files)
    assert api.status_code == 201, api.content
    page = _post(client, _urls(course)["page"], "multipart", media_files)
    assert page.status_code == 302
    assert Recording.objects.filter(course=course).count() == 2


def test_csrf_is_still_checked_once_the_body_may_be_read(course, instructor, media_files):
    """The session's CSRF check waits until the role is known, but it runs."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    api = _post(client, _urls(course)["api"], "multipart", media_files)
    assert api.status_code == 403 and "CSRF" in api.json()["error"]["message"]
    page = _post(client, _urls(course)["page"], "multipart", media_files)
    assert page.status_code == 403
    assert not Recording.objects.exists()
    client.get(f"/courses/{course.pk}/recordings/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    with open(media_files["webm"], "rb") as handle:
        ok = client.post(
            _urls(course)["api"], {"file": handle, "title": "T"}, HTTP_X_CSRFTOKEN=token
        )
    assert ok.status_code == 201, ok.content


def test_a_token_upload_needs_no_csrf(course, instructor, learner, media_files, body_reads):
    client = Client(enforce_csrf_checks=True)
    key = Token.objects.create(user=learner).key
    refused = client.post(
        _urls(course)["api"],
        "title=x",
        content_type=TYPES["urlencoded"],
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert refused.status_code == 403 and body_reads == []
    key = Token.objects.create(user=instructor).key
    with open(media_files["webm"], "rb") as handle:
        ok = client.post(_urls(course)["api"], {"file": handle}, HTTP_AUTHORIZATION=f"Token {key}")
    assert ok.status_code == 201, ok.content


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_through_the_asgi_handler_with_csrf_enforced_as_daphne_serves_it(
    course, media_files, media_root, body_reads
):
    """The path of the original 500: Daphne's ASGI handler, a browser session
    with CSRF enforced, and a urlencoded body (which the CSRF check would read
    as a form, with the token in it, before the view set its upload handler).
    Learners: 403 with nothing read; staff: 400 not_multipart, never a 500."""
    from channels.db import database_sync_to_async as sync_to_async  # gives its connection back
    from django.test import AsyncClient

    urls = _urls(course)
    learner, instructor = [
        await sync_to_async(_member)(course, role) for role in (Role.LEARNER, Role.INSTRUCTOR)
    ]
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(learner)
    for surface in ("api", "page"):
        refused = await client.post(
            urls[surface], "title=x&csrfmiddlewaretoken=abc", content_type=TYPES["urlencoded"]
        )
        assert refused.status_code == 403, (surface, refused.content)
    assert body_reads == []
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(instructor)
    await client.get(f"/courses/{course.pk}/recordings/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    for surface in ("api", "page"):
        answer = await client.post(
            urls[surface],
            f"title=x&csrfmiddlewaretoken={token}",
            content_type=TYPES["urlencoded"],
            HTTP_X_CSRFTOKEN=token,
        )
        assert answer.status_code == 400, (surface, answer.content)
        assert b"multipart/form-data" in answer.content
        assert b"Traceback" not in answer.content
    assert not await sync_to_async(Recording.objects.exists)()
