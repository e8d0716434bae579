"""playback/selectors.py: the cost of a room's snapshot, read on every
socket connect and resync; it must not grow with the room's members."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from playback.access import access_playback_room, access_recording
from playback.models import RoomKind
from playback.selectors import room_snapshot_get
from playback.services import rooms

pytestmark = pytest.mark.django_db

# Today's number (docs/performance.md, "Query budgets").
ROOM_SNAPSHOT_QUERIES = 10


@pytest.fixture
def room(recording, tables):
    room, _created = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk),
        kind=RoomKind.TABLE,
    )
    rooms.room_join(room_id=room.pk, user=tables["ann"], channel="c-ann")
    return room


def _snapshot(user, room) -> tuple[int, dict]:
    access = access_playback_room(user=user, room_id=room.pk)
    with CaptureQueriesContext(connection) as queries:
        snapshot = room_snapshot_get(access=access)
    return len(queries), snapshot


def test_the_room_snapshot_stays_within_its_budget(room, tables, django_assert_max_num_queries):
    access = access_playback_room(user=tables["ann"], room_id=room.pk)
    with django_assert_max_num_queries(ROOM_SNAPSHOT_QUERIES):
        snapshot = room_snapshot_get(access=access)
    assert snapshot


def test_the_room_snapshot_costs_the_same_with_more_members(room, tables):
    alone, _ = _snapshot(tables["ann"], room)
    rooms.room_join(room_id=room.pk, user=tables["bob"], channel="c-bob")
    together, snapshot = _snapshot(tables["ann"], room)
    assert together == alone
    assert str(tables["bob"].pk) in str(snapshot)
