"""Positions from a playback socket are refused when they are not in the
recording (never clamped and acked), through the routed ASGI app."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from playback.access import access_recording
from playback.models import Note, PlaybackRoom, RoomMessage
from playback.services import rooms
from tests.playback.conftest import MEDIA_SECONDS
from tests.playback.test_consumer import join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]

DURATION_MS = MEDIA_SECONDS * 1000
NONSENSE = [2**63, 2**63 - 1, 2**64, -1, -(2**63), DURATION_MS + 1, 1e300, "10", None, True]


@pytest.fixture
def room(recording, tables):
    opened, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    return opened


def _state(room_id: int) -> tuple:
    found = PlaybackRoom.objects.get(pk=room_id)
    return found.seq, found.position_ms, found.state


async def test_seek_to_a_position_outside_the_recording_is_refused(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    await ann.receive_until(lambda f: f["type"] == "room.members_changed")  # her joining
    before = await database_sync_to_async(_state)(room.pk)
    for index, position in enumerate(NONSENSE):
        reply = await ann.request("seek", {"position_ms": position}, frame_id=f"s{index}")
        assert reply["type"] == "error", (position, reply)
        assert reply["data"]["code"] == "invalid", (position, reply)
    assert await database_sync_to_async(_state)(room.pk) == before
    # The ends of the recording are positions; the socket still steers.
    for index, position in enumerate((0, DURATION_MS, 1500.5)):
        reply = await ann.request("seek", {"position_ms": position}, frame_id=f"ok{index}")
        assert reply["type"] == "ack", (position, reply)
    assert reply["data"]["position_ms"] == 1500
    await ann.close()


async def test_notes_chat_and_reactions_at_nonsense_positions_are_refused(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    for index, position in enumerate(NONSENSE):
        for kind, data in (
            ("note.add", {"body": "a note", "visibility": "private"}),
            ("chat.send", {"body": "a comment"}),
            ("reaction.send", {"kind": "clap"}),
        ):
            reply = await ann.request(
                kind, {**data, "media_ms": position}, frame_id=f"{kind}{index}"
            )
            assert reply["type"] == "error", (kind, position, reply)
            assert reply["data"]["code"] == "invalid", (kind, position, reply)
    assert await database_sync_to_async(Note.objects.count)() == 0
    assert await database_sync_to_async(RoomMessage.objects.count)() == 0
    reply = await ann.request("note.add", {"body": "fine", "media_ms": DURATION_MS})
    assert reply["type"] == "ack"
    await ann.close()
