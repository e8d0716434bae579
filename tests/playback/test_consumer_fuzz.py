"""The frame fuzzing of tests/classroom/test_consumer_fuzz.py against the
playback-room socket: every frame gets a documented answer, the socket never
closes and still works afterwards."""

from __future__ import annotations

import pytest

from playback.access import access_recording
from playback.services import rooms
from tests.classroom.test_consumer_fuzz import EXAMPLES, _fuzz, frame_types

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def test_any_frame_to_the_playback_socket_gets_a_documented_answer(recording, tables):
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    seen = _fuzz(f"/ws/playback/{room.pk}/", tables["ann"], frame_types("playback"), EXAMPLES)
    print(seen)
    assert seen.get("malformed_frame") and seen.get("ack")
