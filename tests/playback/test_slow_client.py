"""Slow-client protection of the playback socket under a real Daphne, as for
live sessions: closed (4008) past SLOW_CLIENT_MAX_BYTES waiting, never a
client that reads (docs/realtime.md)."""

from __future__ import annotations

import pytest

from playback.access import access_recording
from playback.models import RoomMessage
from playback.services import rooms
from tests import slowclient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180), pytest.mark.timing]


def test_a_playback_client_that_stops_reading_is_closed_and_one_that_reads_is_not(
    recording, tables
):
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    # A snapshot carries the room's last 200 comments: about 400 kB each.
    RoomMessage.objects.bulk_create(
        RoomMessage(room=room, author=tables["bob"], body="x" * 2000, media_ms=0)
        for _ in range(200)
    )
    observed = slowclient.run(f"/ws/playback/{room.pk}/", tables["ann"], tables["bob"])
    print(observed | {"pong": None})
    assert observed["snapshot_bytes"] > 400_000
    slowclient.check(observed)
