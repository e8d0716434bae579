"""Who may read which analytics endpoint and export (docs/analytics.md#access),
and what the streamed exports hold."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from django.test import Client

from courses.models import Program, Role
from insights.services import rollups_course_rebuild
from tests.factories import EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db

STAFF = "staff"  # 200 for course staff, program admins, superusers


def _endpoints(h) -> dict[str, str]:
    c, s = h.course.pk, h.session.pk
    base = "/api/insights/"
    return {
        "report": f"{base}sessions/{s}/report/",
        "live": f"{base}sessions/{s}/live/",
        "session_csv": f"{base}sessions/{s}/export.csv",
        "dashboard": f"{base}courses/{c}/dashboard/",
        "matrix": f"{base}courses/{c}/matrix/",
        "trends": f"{base}courses/{c}/trends/",
        "at_risk": f"{base}courses/{c}/at-risk/",
        "tables": f"{base}courses/{c}/tables/",
        "timeline_ana": f"{base}courses/{c}/learners/{h.ana.pk}/timeline/",
        "timeline_ben": f"{base}courses/{c}/learners/{h.ben.pk}/timeline/",
        "progress": f"{base}courses/{c}/progress/",
        "course_csv": f"{base}courses/{c}/export.csv",
        "xapi": f"{base}courses/{c}/xapi.jsonl",
        "rollups_sessions": f"{base}courses/{c}/rollups/sessions/",
        "rollups_recordings": f"{base}courses/{c}/rollups/recordings/",
        "rollups_learners": f"{base}courses/{c}/rollups/learners/",
        "program": f"{base}programs/{h.program.pk}/",
        "lrs": f"{base}lrs/status/",
    }


@pytest.fixture
def h(history, other_course):
    rollups_course_rebuild(course_id=history.course.pk)
    history.program = Program.objects.create(name="Sciences")
    history.program.courses.add(history.course)
    history.program_admin = UserFactory()
    history.program.admins.add(history.program_admin)
    history.other_ta = EnrollmentFactory(course=other_course, role=Role.TA).user
    history.nobody = UserFactory()
    return history


def _get(user, url):
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def _expect(h, user, expected: dict[str, int]) -> None:
    urls = _endpoints(h)
    assert set(expected) == set(urls), "every endpoint has an expectation"
    wrong = {}
    for name, url in urls.items():
        response, body = _get(user, url)
        if response.status_code != expected[name]:
            wrong[name] = (response.status_code, body[:120])
    assert wrong == {}


def _staff_view(*, program: int, progress: int = 403, lrs: int = 403) -> dict[str, int]:
    codes = dict.fromkeys(
        [
            "report",
            "live",
            "session_csv",
            "dashboard",
            "matrix",
            "trends",
            "at_risk",
            "tables",
            "timeline_ana",
            "timeline_ben",
            "course_csv",
            "xapi",
            "rollups_sessions",
            "rollups_recordings",
            "rollups_learners",
        ],
        200,
    )
    return {**codes, "progress": progress, "program": program, "lrs": lrs}


def test_the_courses_instructor(h, instructor):
    _expect(h, instructor, _staff_view(program=404))


def test_a_program_admin_sees_the_programs_courses(h):
    _expect(h, h.program_admin, _staff_view(program=200))


def test_a_superuser_sees_everything(h, platform_admin):
    _expect(h, platform_admin, _staff_view(program=200, lrs=200))


def test_a_learner_sees_only_themselves(h):
    expected = dict.fromkeys(_endpoints(h), 403)
    expected.update(
        {
            "timeline_ana": 200,
            "progress": 200,
            "rollups_sessions": 200,
            "rollups_recordings": 200,
            "rollups_learners": 200,
            "program": 404,
        }
    )
    _expect(h, h.ana, expected)
    _response, body = _get(h.ana, _endpoints(h)["rollups_sessions"])
    rows = json.loads(body)["results"]
    assert [row["user"] for row in rows] == [h.ana.pk]


def test_a_ta_of_another_course_and_an_outsider_see_nothing(h):
    expected = dict.fromkeys(_endpoints(h), 404)
    expected["lrs"] = 403
    _expect(h, h.other_ta, expected)
    _expect(h, h.nobody, expected)


def test_anonymous_visitors_must_log_in(h):
    expected = dict.fromkeys(_endpoints(h), 403)
    _expect(h, None, expected)
    response, body = _get(None, _endpoints(h)["course_csv"])
    assert json.loads(body)["error"]["code"] == "not_authenticated"


def test_bad_filters_are_a_400(h, instructor):
    url = _endpoints(h)["matrix"]
    for query in ("?status=maybe", "?since=yesterday", "?table=x", "?colour=red"):
        response, body = _get(instructor, url + query)
        assert response.status_code == 400, query
        assert json.loads(body)["error"]["code"] == "invalid"


def test_the_session_csv_streams_one_row_per_learner(h, instructor):
    response, body = _get(instructor, _endpoints(h)["session_csv"])
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    by_name = {row["name"]: row for row in rows}
    assert sorted(by_name) == ["Ana", "Ben", "Cid", "Dee"]
    ana = by_name["Ana"]
    assert ana["online_time_s"] == "2580.0"  # 43 minutes
    assert ana["talk_time_s"] == "5.5"
    assert (ana["messages"], ana["poll_votes"], ana["raised_hands"]) == ("1", "1", "0")
    assert ana["activity_score"] == "72.7"
    assert by_name["Ben"]["status"] == "watched_later"


def test_the_course_csv_streams_per_learner_or_per_session(h, instructor):
    response, body = _get(instructor, _endpoints(h)["course_csv"])
    assert isinstance(response, StreamingHttpResponse)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert {r["name"]: r["sessions_watched_later"] for r in rows}["Ben"] == "1"
    response, body = _get(instructor, _endpoints(h)["course_csv"] + "?detail=sessions")
    assert len(list(csv.DictReader(io.StringIO(body.decode())))) == 4


def test_the_xapi_export_is_one_statement_per_event(h, instructor):
    from analytics.selectors import event_list

    response, body = _get(instructor, _endpoints(h)["xapi"])
    lines = body.decode().splitlines()
    assert len(lines) == event_list(course_id=h.course.pk).count()
    assert all(json.loads(line)["version"] == "1.0.3" for line in lines)


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_csv_streams_asynchronously(h, instructor):
    """Daphne serves through Django's ASGI handler, which would read a
    synchronous iterator whole before sending: the export is async there."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    client = AsyncClient()
    await client.aforce_login(instructor)
    response = await client.get(_endpoints(h)["session_csv"])
    assert response.status_code == 200
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert sorted(r["name"] for r in rows) == ["Ana", "Ben", "Cid", "Dee"]
    _sync, body = await sync_to_async(_get)(instructor, _endpoints(h)["session_csv"])
    assert b"".join(chunks) == body
