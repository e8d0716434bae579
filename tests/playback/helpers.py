"""Shared helpers of the playback tests."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from classroom.models import Poll, PollKind, PollState
from core import realtime
from playback.models import RecordingSpan


def frames(room_id: int) -> list[dict]:
    """Every sequenced frame of the room kept for resync, decoded."""
    return [
        json.loads(text)
        for _seq, _stream, text in realtime.frame_buffer().since(f"playback.{room_id}", 0)
    ]


def frame_types(room_id: int) -> list[str]:
    return [frame["type"] for frame in frames(room_id)]


def add_quiz_poll(
    recording, session, *, at_seconds: float, prompt: str = "Pick b", **fields
) -> Poll:
    """A closed quiz poll opened `at_seconds` after the recording started
    (the recording has one span from the session start)."""
    if not RecordingSpan.objects.filter(recording=recording).exists():
        RecordingSpan.objects.create(
            recording=recording,
            started_at=session.started_at,
            ended_at=session.started_at + timedelta(hours=1),
            media_offset_ms=0,
        )
    opened = session.started_at + timedelta(seconds=at_seconds)
    defaults = {
        "kind": PollKind.SINGLE,
        "prompt": prompt,
        "definition": {
            "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
            "correct": ["b"],
        },
        "is_quiz": True,
        "state": PollState.CLOSED,
        "opened_at": opened,
        "closed_at": opened + timedelta(seconds=20),
    }
    defaults.update(fields)
    return Poll.objects.create(session=session, **defaults)


def seen_now(room_id: int) -> None:
    from playback.models import PlaybackConnection

    PlaybackConnection.objects.filter(room_id=room_id).update(seen_at=timezone.now())
