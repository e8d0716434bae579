"""The room kernel's routing (core/rooms/streams.py): the live room's staff
see every table, playback rooms have no staff stream."""

from __future__ import annotations

import pytest

from core.rooms.streams import Streams

LIVE = Streams("live", staff=True)
PLAYBACK = Streams("playback")


def test_live_routing_and_membership():
    assert LIVE.groups_for_stream(7, "all") == ["live.7"]
    assert LIVE.groups_for_stream(7, "staff") == ["live.7.staff"]
    assert LIVE.groups_for_stream(7, "table.3") == ["live.7.table.3", "live.7.staff"]
    assert LIVE.groups_for_stream(7, "user.5") == ["live.7.user.5"]
    assert LIVE.groups_for_member(7, user_id=5, table_id=3, is_staff=False) == [
        "live.7",
        "live.7.user.5",
        "live.7.learners",
        "live.7.table.3",
    ]
    assert LIVE.groups_for_member(7, user_id=1, table_id=None, is_staff=True) == [
        "live.7",
        "live.7.user.1",
        "live.7.staff",
    ]
    assert LIVE.visible("table.3", user_id=1, table_id=None, is_staff=True)
    assert not LIVE.visible("table.3", user_id=5, table_id=4, is_staff=False)
    assert not LIVE.visible("staff", user_id=5, table_id=3, is_staff=False)
    assert not LIVE.visible("user.6", user_id=5, table_id=3, is_staff=True)


def test_playback_routing_has_no_staff_stream():
    assert PLAYBACK.groups_for_stream(2, "table.3") == ["playback.2.table.3"]
    with pytest.raises(ValueError):
        PLAYBACK.groups_for_stream(2, "staff")
    assert PLAYBACK.groups_for_member(2, user_id=5, table_id=3, is_staff=True) == [
        "playback.2",
        "playback.2.user.5",
        "playback.2.table.3",
    ]
    assert not PLAYBACK.visible("staff", user_id=5, table_id=3, is_staff=True)
    assert not PLAYBACK.visible("table.4", user_id=5, table_id=3, is_staff=True)
    assert PLAYBACK.scope(2) == "playback.2"
