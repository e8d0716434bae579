"""Schemathesis against /api/schema/: every operation, every check, as an
instructor and as a learner (token auth), on a seeded course.

The app runs in process (WSGI, the test's database transaction); path ids
are the seeded course's, so positive cases reach the views instead of
404ing. Each operation gets positive (schema-valid) and negative
(schema-invalid) cases, derandomized so a run is reproducible. A failure
lists every operation and check that failed, with the curl line to
reproduce it.

Every check Schemathesis has is run. Two judge more than one request:
`use_after_free` and `ensure_resource_availability`; they run on every
response here and on linked sequences in test_stateful_sequences (see there
for what they can judge in this API)."""

from __future__ import annotations

import shutil
import traceback
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.modes import GenerationMode

from classroom.models import (
    BankQuestion,
    LiveSession,
    Poll,
    PollKind,
    PollState,
    Seat,
    SessionPlanItem,
    SessionState,
    Table,
)
from courses.models import Role
from playback.access import access_recording
from playback.media import synthetic_media_write
from playback.models import Recording, RecordingSource, RecordingStatus
from playback.services.rooms import room_open
from reinforcement.models import ReinforcementSettings, ReviewCard
from reinforcement.scheduling import new_card_fields
from reinforcement.services.planning import followups_plan
from tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

load_all_checks()
ALL_CHECKS = [CHECKS.get_one(name) for name in CHECKS.get_all_names()]
MAX_EXAMPLES = 10

# Where `positive_data_acceptance` cannot apply to generated data: the rule
# that decides is not one JSON Schema can state, so a schema-valid random
# body is rightly a 400 (with `details` naming the field). Every other check
# still runs on these operations, and each is tested with data that meets
# its rule in test_operations_with_rules_beyond_the_schema_accept_good_data.
RULES_BEYOND_THE_SCHEMA = {
    # random usernames and passwords are not an account
    "POST /api/auth/token/",
    # a question's definition must fit its kind (docs/polls.md: options with
    # unique ids, correct answers among them, a scale's bounds in order, …)
    "POST /api/courses/{course_id}/questions/",
    # the bytes must be a video or audio file PyAV can read
    "POST /api/courses/{course_id}/recordings/upload/",
    # a session ends after it starts (two fields compared)
    "POST /api/courses/{course_id}/sessions/schedule/",
    # every item of this session's plan exactly once (ids in the database)
    "POST /api/sessions/{session_id}/plan/reorder/",
    # a note's position lies within this recording's length (in the database)
    "POST /api/recordings/{recording_id}/notes/create/",
    # an answer fits its card's question, and the card is due (reinforcement)
    "POST /api/review/cards/{card_id}/answer/",
    # a graded question of one of the course's sessions
    "POST /api/courses/{course_id}/review/practice/",
    # a graded question of this session; a plan changes only until it is sent
    "POST /api/sessions/{session_id}/followup-plan/drop/",
    "POST /api/sessions/{session_id}/followup-plan/hold/",
    "POST /api/sessions/{session_id}/followup-plan/message/",
    # kinds are those registered, each with its own channels; quiet hours
    # start and end at different times (two fields compared)
    "PATCH /api/notifications/preferences/",
    # a search holds a letter or digit and at most 20 words (docs/search.md)
    "GET /api/courses/{course_id}/transcripts/search/",
}


@pytest.fixture(scope="session")
def sample_media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-media")
    return synthetic_media_write(
        folder / "sample.webm", seconds=2, kind="webm", width=64, height=48, fps=5
    )


@pytest.fixture
def seeded(settings, tmp_path, sample_media):
    settings.MEDIA_ROOT = tmp_path
    course = CourseFactory()
    people = {
        "instructor": EnrollmentFactory(course=course, role=Role.INSTRUCTOR).user,
        "learner": EnrollmentFactory(course=course, role=Role.LEARNER).user,
    }
    table = Table.objects.create(course=course, name="A")
    Seat.objects.create(course=course, table=table, user=people["learner"])
    start = timezone.now() - timedelta(days=1)
    session = LiveSession.objects.create(
        course=course,
        title="Week 1",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        state=SessionState.ENDED,
        started_at=start,
        ended_at=start + timedelta(minutes=50),
    )
    options = {"options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}], "correct": ["b"]}
    poll = Poll.objects.create(
        session=session,
        kind=PollKind.SINGLE,
        prompt="Pick b",
        definition=options,
        is_quiz=True,
        state=PollState.CLOSED,
        opened_at=start + timedelta(minutes=5),
        closed_at=start + timedelta(minutes=6),
    )
    question = BankQuestion.objects.create(
        course=course, kind=PollKind.SINGLE, prompt="Pick a", definition=options
    )
    item = SessionPlanItem.objects.create(session=session, question=question, position=0)
    (tmp_path / "recordings").mkdir()
    shutil.copy(sample_media, tmp_path / "recordings" / "sample.webm")
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title="Week 1",
        source=RecordingSource.LIVE,
        status=RecordingStatus.READY,
        mime_type="video/webm",
        duration_ms=2000,
        size_bytes=sample_media.stat().st_size,
        video_codec="vp8",
        audio_codec="opus",
        file="recordings/sample.webm",
    )
    ReinforcementSettings.objects.create(course=course, hold_minutes=7 * 24 * 60)
    followups_plan(session_id=session.pk, source="session_ended")  # held for a week
    card = ReviewCard.objects.create(
        user=people["learner"],
        course=course,
        question_key=f"poll:{poll.pk}",
        poll=poll,
        **new_card_fields(start),
    )
    rooms = {}
    for role, user in people.items():
        access = access_recording(user=user, recording_id=recording.pk)
        rooms[role], _created = room_open(access=access, kind="adhoc")
    return {
        "people": people,
        "rooms": rooms,
        "ids": {
            "course_id": course.pk,
            "session_id": session.pk,
            "recording_id": recording.pk,
            "poll_id": poll.pk,
            "item_id": item.pk,
            "card_id": card.pk,
        },
    }


@pytest.fixture
def in_process_app(request):
    """Django's WSGI handler sharing the test's connection: the request
    signals must not close it (Django's test client does the same)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
        request.addfinalizer(lambda signal=signal: signal.connect(close_old_connections))
    return WSGIHandler()


def _schema(app, key: str, path_parameters: dict | None = None):
    config = {"auth": {"openapi": {"tokenAuth": {"api_key": f"Token {key}"}}}}
    if path_parameters:
        config["parameters"] = {f"path.{name}": value for name, value in path_parameters.items()}
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", app, config=schemathesis.Config.from_dict(config)
    )


def _checks(operation, *, positive: bool) -> list:
    if positive and operation.label in RULES_BEYOND_THE_SCHEMA:
        acceptance = CHECKS.get_one("positive_data_acceptance")
        return [check for check in ALL_CHECKS if check is not acceptance]
    return ALL_CHECKS


def _run(operation, mode: GenerationMode, path_parameters: dict) -> str | None:
    if mode == GenerationMode.NEGATIVE:
        # Negative cases make ids invalid too (a 404 must be documented).
        path_parameters = {}
    checks = _checks(operation, positive=mode == GenerationMode.POSITIVE)

    @given(
        case=operation.as_strategy(
            generation_mode=mode,
            path_parameters={
                name: value for name, value in path_parameters.items() if name in operation.path
            },
        )
    )
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(checks=checks)

    try:
        run()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # Schemathesis raises an ExceptionGroup of failures
        return f"=== {operation.label} ({mode}) ===\n" + "".join(traceback.format_exception(error))
    return None


@pytest.mark.parametrize("role", ["instructor", "learner"])
def test_every_operation_conforms_to_the_schema(seeded, in_process_app, role):
    key = Token.objects.create(user=seeded["people"][role]).key
    schema = _schema(in_process_app, key)
    ids = {**seeded["ids"], "room_id": seeded["rooms"][role].pk}
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if operation.path_parameters or operation.body or operation.query:
            modes.append(GenerationMode.NEGATIVE)  # else there is nothing to make invalid
        for mode in modes:
            failure = _run(operation, mode, ids)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} failing operation runs\n\n" + "\n\n".join(failures)


def test_operations_with_rules_beyond_the_schema_accept_good_data(
    seeded, in_process_app, sample_media
):
    """The operations of RULES_BEYOND_THE_SCHEMA, with data that meets their
    rule, through Schemathesis with every check: accepted, and the answer
    conforms to the schema."""
    from tests.factories import PASSWORD

    instructor = seeded["people"]["instructor"]
    schema = _schema(in_process_app, Token.objects.create(user=instructor).key)
    ids = seeded["ids"]
    start = timezone.now() + timedelta(days=1)
    item_ids = list(
        SessionPlanItem.objects.filter(session_id=ids["session_id"]).values_list("id", flat=True)
    )
    cases = [
        ("/api/auth/token/", {}, {"username": instructor.username, "password": PASSWORD}),
        (
            "/api/courses/{course_id}/questions/",
            {"course_id": ids["course_id"]},
            {
                "kind": "single",
                "prompt": "Which?",
                "definition": {"options": [{"text": "A"}, {"text": "B"}], "correct": []},
            },
        ),
        (
            "/api/courses/{course_id}/recordings/upload/",
            {"course_id": ids["course_id"]},
            {"file": sample_media.read_bytes(), "title": "Uploaded"},
        ),
        (
            "/api/courses/{course_id}/sessions/schedule/",
            {"course_id": ids["course_id"]},
            {
                "title": "Week 2",
                "scheduled_start": start.isoformat(),
                "scheduled_end": (start + timedelta(hours=1)).isoformat(),
            },
        ),
        (
            "/api/sessions/{session_id}/plan/reorder/",
            {"session_id": ids["session_id"]},
            {"items": list(reversed(item_ids))},
        ),
        (
            "/api/recordings/{recording_id}/notes/create/",
            {"recording_id": ids["recording_id"]},
            {"media_ms": 1000, "body": "Key point"},
        ),
        (
            "/api/courses/{course_id}/review/practice/",
            {"course_id": ids["course_id"]},
            {"request_id": "good-practice", "poll_id": ids["poll_id"], "answer": {"option": "b"}},
        ),
        (
            "/api/sessions/{session_id}/followup-plan/drop/",
            {"session_id": ids["session_id"]},
            {"question_key": f"poll:{ids['poll_id']}"},
        ),
        (
            "/api/notifications/preferences/",
            {},
            {
                "kinds": {"notifications.system": {"email": "daily", "in_app": "immediately"}},
                "quiet_hours": {"enabled": True, "start": "22:00", "end": "07:00"},
                "daily_cap": 5,
            },
            "PATCH",
        ),
    ]
    statuses: dict[str, list[int]] = {}
    for path, path_parameters, body, *method in cases:
        operation = schema[path][method[0] if method else "POST"]
        assert operation.label in RULES_BEYOND_THE_SCHEMA
        media_type = "multipart/form-data" if "upload" in path else "application/json"

        # One case from Schemathesis's own strategy (so the token is applied
        # as the schema's tokenAuth), with the body fixed.
        @given(
            case=operation.as_strategy(
                path_parameters=path_parameters, body=body, media_type=media_type
            )
        )
        @settings(max_examples=1, database=None, deadline=None, phases=[Phase.generate])
        def run(case):
            response = case.call_and_validate(checks=ALL_CHECKS)
            statuses.setdefault(case.operation.path, []).append(response.status_code)

        run()
        assert statuses.get(path) and all(200 <= code < 300 for code in statuses[path]), (
            path,
            statuses,
        )


class RequestLog:
    """WSGI middleware that notes (method, path, status) of every request."""

    def __init__(self, app) -> None:
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        def noting(status, headers, *args):
            self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3])))
            return start_response(status, headers, *args)

        return self.app(environ, noting)


@pytest.mark.parametrize("role", ["instructor", "learner"])
def test_stateful_sequences(seeded, in_process_app, role):
    """Sequences that follow the schema's links (core/api/schema.py LINKS,
    and the ones Schemathesis infers), every check on each step: the only
    place `ensure_resource_availability` (a resource a POST just created
    must not be a 404 under its path) can judge anything. `use_after_free`
    runs on every step too but looks for a read *under* a deleted path, and
    no read lives under `/api/recordings/{id}/delete/` or a plan item, so
    test_a_deleted_recording_stays_gone checks that promise directly."""
    key = Token.objects.create(user=seeded["people"][role]).key
    ids = {**seeded["ids"], "room_id": seeded["rooms"][role].pk}
    log = RequestLog(in_process_app)
    schema = _schema(log, key, ids)
    machine = schema.as_state_machine()

    class Machine(machine):
        def validate_response(self, response, case, additional_checks=(), **kwargs):
            case.validate_response(response, checks=_checks(case.operation, positive=True))

    Machine.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert len(log.seen) > 50  # the machine ran sequences, not a single call


def test_a_deleted_recording_stays_gone(seeded, in_process_app):
    instructor = seeded["people"]["instructor"]
    client_key = Token.objects.create(user=instructor).key
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {client_key}")
    recording_id = seeded["ids"]["recording_id"]
    assert client.delete(f"/api/recordings/{recording_id}/delete/").status_code == 204
    for path in ("", "notes/", "progress/", "analytics/"):
        response = client.get(f"/api/recordings/{recording_id}/{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "recording_not_found"
