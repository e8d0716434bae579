"""docs/realtime.md against the code, both ways: every frame type the typed
registry (core/rooms/frames.py) says a room sends is documented, and every
documented server frame is in the registry; renamed frames are the same in
the registry, the browser clients and the doc."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from classroom import events as live_events
from core.rooms.frames import frame_types
from notifications import events as notification_events
from playback import events as playback_events

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "realtime.md").read_text()
ROW = re.compile(r"^\| `([a-z_.]+)`(?: / `([a-z_.]+)`)?", re.M)


def _section(start: str, end: str, after: str | None = None) -> str:
    begin = DOC.index(start, DOC.index(after) if after else 0)
    return DOC[begin : DOC.index(end, begin)]


def documented(room: str) -> set[str]:
    if room == "live":
        section = _section("## Server frames", "## Client frames")
    elif room == "notifications":
        section = _section(
            "Server frames (sequenced):", "Client frames:", after="## Notification socket"
        )
    else:
        section = _section(
            "Server frames (sequenced):", "Client frames:", after="## Playback rooms"
        )
    return {name for pair in ROW.findall(section) for name in pair if name}


def registered(room: str) -> set[str]:
    return set(frame_types(room))


ROOMS = ["live", "playback", "notifications"]
CASES = [
    (room, name, way)
    for room in ROOMS
    for way, names in (("code", registered(room)), ("doc", documented(room)))
    for name in sorted(names)
]


def test_both_sets_are_read():
    for room in ROOMS:
        least = 3 if room == "notifications" else 10
        assert len(registered(room)) >= least and len(documented(room)) >= least, room


@pytest.mark.parametrize(("room", "name", "way"), CASES)
def test_frame_type_in_doc_and_code(room, name, way):
    if way == "code":
        assert name in documented(room), f"{room} sends {name!r}; docs/realtime.md omits it"
    else:
        assert name in registered(room), f"docs/realtime.md lists {room} {name!r}; no code sends it"


EMIT = re.compile(r"\b(?:emit|send_now|forward_on_commit)\(\s*[\w.\[\]()]+,\s*\"([a-z_.]+)\"")


@pytest.mark.parametrize(
    ("room", "paths"),
    [
        ("live", ["classroom/events.py"]),
        ("playback", ["playback/events.py", "playback/services/rooms.py"]),
        ("notifications", ["notifications/events.py"]),
    ],
)
def test_every_literal_frame_sent_is_registered(room, paths):
    """A frame type written out at an emit call must be a registered one."""
    sent = {name for path in paths for name in EMIT.findall((ROOT / path).read_text())}
    assert sent, paths
    assert sent <= registered(room), sent - registered(room)


def test_renames_match_the_clients_and_the_doc():
    source = (ROOT / "static" / "core" / "room_connection.js").read_text()
    body = source[source.index("FRAME_RENAMES = {") + len("FRAME_RENAMES = ") :]
    body = body[: body.index("};") + 1]
    in_js = json.loads(re.sub(r",\s*}", "}", body))
    in_code = {
        found.old_name: found.name
        for room in ROOMS
        for found in frame_types(room).values()
        if found.old_name
    }
    assert in_js == in_code
    table = _section("## Renamed frames", "## Media signalling")
    in_doc = dict(re.findall(r"^\| ([a-z_.]+) \| ([a-z_.]+) \|", table, re.M))
    assert in_doc == in_code
    assert live_events.ROOM == "live" and playback_events.ROOM == "playback"
    assert notification_events.ROOM == "notifications"
