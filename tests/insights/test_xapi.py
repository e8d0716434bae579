"""Every event of the hand-built history as an xAPI statement, validated by
an independent implementation (ralph-malph's pydantic models)."""

from __future__ import annotations

import json

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement
from ralph.models.xapi.video.statements import (
    VideoCompleted,
    VideoPaused,
    VideoPlayed,
    VideoSeeked,
)

from analytics.selectors import event_list
from insights.xapi import statement_from_event, statements_jsonl
from tests.insights.conftest import at

pytestmark = pytest.mark.django_db

VIDEO_MODELS = {
    "played": VideoPlayed,
    "paused": VideoPaused,
    "seeked": VideoSeeked,
    "completed": VideoCompleted,
}


def _playback_acts(history):
    pb = {
        "object_type": "recording",
        "object_id": history.recording.pk,
        "recording_id": history.recording.pk,
        "mode": "playback",
    }
    room = {"room_id": 1, "room_kind": "solo"}
    history.record("paused", history.ben, 24 * 60 + 10, media_time_ms=12_000, extensions=room, **pb)
    history.record(
        "seeked",
        history.ben,
        24 * 60 + 11,
        media_time_ms=14_000,
        extensions={**room, "from_ms": 12_000, "to_ms": 14_000},
        **pb,
    )
    history.record(
        "review.answered",
        history.ana,
        3 * 24 * 60,
        mode="review",
        object_type="poll",
        object_id=history.poll.pk,
        live_session_id=None,
        success=True,
        extensions={"question_key": f"poll:{history.poll.pk}", "source": "practice"},
    )


def test_every_event_is_a_valid_statement(history):
    _playback_acts(history)
    lines = list(statements_jsonl(event_list(course_id=history.course.pk)))
    assert len(lines) == event_list(course_id=history.course.pk).count()
    verbs = set()
    for line in lines:
        statement = json.loads(line)
        verb = statement["verb"]["display"]["en-US"]
        is_video = statement["object"]["definition"]["type"].endswith("activity-type/video")
        model = VIDEO_MODELS[verb] if is_video and verb in VIDEO_MODELS else BaseXapiStatement
        model.model_validate(statement)
        verbs.add((verb, model.__name__))
    assert {
        ("played", "VideoPlayed"),
        ("paused", "VideoPaused"),
        ("seeked", "VideoSeeked"),
        ("completed", "VideoCompleted"),
        ("answered", "BaseXapiStatement"),
    } <= verbs


def test_video_statements_carry_the_profile_extensions(history):
    _playback_acts(history)
    events = {
        e["verb"]: e
        for e in event_list(recording_id=history.recording.pk).values(
            *__import__("insights.xapi", fromlist=["EVENT_FIELDS"]).EVENT_FIELDS
        )
    }
    lengths = {history.recording.pk: 50 * 60_000}
    seeked = statement_from_event(events["seeked"], lengths=lengths)
    ext = seeked["result"]["extensions"]
    assert ext["https://w3id.org/xapi/video/extensions/time-from"] == 12.0
    assert ext["https://w3id.org/xapi/video/extensions/time-to"] == 14.0
    completed = statement_from_event(events["completed"], lengths=lengths)
    ext = completed["result"]["extensions"]
    assert ext["https://w3id.org/xapi/video/extensions/played-segments"] == "0.000[.]2400.000"
    assert ext["https://w3id.org/xapi/video/extensions/progress"] == 80.0  # 2400 of 3000 s
    assert completed["result"]["completion"] is True
    assert (
        completed["context"]["extensions"]["https://w3id.org/xapi/video/extensions/length"]
        == 3000.0
    )
    # Deterministic: the statement id is the event id.
    assert completed["id"] == str(events["completed"]["event_id"])
    assert statement_from_event(events["completed"], lengths=lengths) == completed
    assert at(0).isoformat()[:4] == "2026"
