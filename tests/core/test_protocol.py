"""The client-frame envelope and the REST API's JSON parser refuse what no
column can store, and what is not JSON, with a clear error."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.protocol import client_frame_parse, frame_int

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"ping","data":{"a":' + "[" * 1000 + "]" * 1000 + "}}",
        '{"type":"seek","data":{"position_ms":1e999}}',
        '{"type":"seek","data":{"position_ms":-1e999}}',
        '{"type":"seek","data":{"position_ms":NaN}}',
        '{"type":"ping","data":{"t":Infinity}}',
        r'{"type":"chat.send","data":{"body":"\ud800"}}',
        r'{"type":"chat.send","data":{"body":"\uDFFF tail"}}',
        r'{"type":"chat.send","data":{"\u0000":"key"}}',
        r'{"type":"chat.send","id":"x\ud800"}',
    ],
)
def test_frames_no_column_can_store_are_malformed(raw):
    with pytest.raises(ValidationError) as error:
        client_frame_parse(raw, None)
    assert error.value.code == "malformed_frame"


def test_a_surrogate_pair_is_one_ordinary_character():
    frame = client_frame_parse(r'{"type":"chat.send","data":{"body":"\ud83d\ude00"}}', None)
    assert frame["data"]["body"] == "\U0001f600"


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**400, True, "1", 1.5, None])
def test_frame_int_refuses_what_a_column_cannot_hold(value):
    with pytest.raises(ValidationError) as error:
        frame_int({"n": value}, "n")
    assert error.value.code == "invalid"


def test_frame_int_with_numbers_truncates_finite_floats():
    assert frame_int({"n": 12.9}, "n", numbers=True) == 12
    with pytest.raises(ValidationError):
        frame_int({"n": 1e300}, "n", numbers=True)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"username": 1e999}', "out of range"),
        ('{"username": NaN}', "not JSON"),
        (r'{"username": "\ud800"}', "unpaired surrogates"),
        (r'{"username": "a\u0000"}', "NUL"),
    ],
)
def test_the_api_answers_unusable_json_with_400_even_at_the_token_endpoint(client, body, fragment):
    response = client.post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_a_bank_question_with_an_unpaired_surrogate_is_refused_and_not_stored(
    client, course, instructor
):
    from classroom.models import BankQuestion

    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/questions/",
        r'{"kind":"single","prompt":"p","definition":{"options":[{"text":"\ud800"},{"text":"b"}]}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not BankQuestion.objects.exists()
    assert client.get(f"/api/courses/{course.pk}/questions/").status_code == 200
