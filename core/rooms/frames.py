"""Encoding, numbering and the typed-frame registry of every room.

Sequenced frames (`emit`) get the room's next `seq`, the `prev` seq of their
stream, are kept in the resync buffer and sent after commit. Ephemeral frames
(`send_now`) carry no seq. Every frame type a room can send is declared once
with `frame_type` (its payload TypedDict, its old name if renamed): the
registry is what docs/realtime.md is checked against (tests/core)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from core import realtime, rows
from core.rooms.streams import STREAM_ALL, Streams


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


@dataclass(frozen=True)
class FrameType:
    room: str  # "live", "playback", ...
    name: str
    payload: type  # a TypedDict describing `data`
    sequenced: bool
    old_name: str | None = None  # still accepted by the browser clients (deprecated)


REGISTRY: dict[tuple[str, str], FrameType] = {}


def frame_type(
    room: str, name: str, payload: type, *, sequenced: bool = True, old_name: str | None = None
) -> str:
    """Declare a frame type a room sends; returns its name for the emitters."""
    REGISTRY[(room, name)] = FrameType(room, name, payload, sequenced, old_name)
    return name


def frame_types(room: str) -> dict[str, FrameType]:
    return {name: found for (kind, name), found in REGISTRY.items() if kind == room}


def emit(
    row,
    streams: Streams,
    name: str,
    data: dict[str, Any],
    stream: str = STREAM_ALL,
    control: str | None = None,
    saving: tuple[str, ...] = (),
) -> int:
    """Number, keep and send (after commit) one frame of the room whose row
    (with `seq` and `stream_heads`) is `row`.

    `saving` names fields of `row` the caller changed and wants stored with
    the new seq, in the same UPDATE (a mode switch: one statement, not two).

    Precondition: the caller holds the row lock (`row` came from
    `select_for_update` in the current transaction)."""
    row.seq += 1
    heads = dict(row.stream_heads or {})
    prev = heads.get(stream, 0)
    heads[stream] = row.seq
    row.stream_heads = heads
    rows.row_update(
        row, ("seq", "stream_heads", *(row._meta.get_field(name).attname for name in saving))
    )
    frame = {"type": name, "seq": row.seq, "stream": stream, "prev": prev, "data": data}
    realtime.frame_publish_on_commit(
        scope=streams.scope(row.pk),
        seq=row.seq,
        stream=stream,
        text=encode(frame),
        groups=streams.groups_for_stream(row.pk, stream),
        control=control,
    )
    return row.seq


def emitter(streams: Streams):
    """`emit` bound to one kind of room's streams (each events module's `emit`)."""

    def emit_bound(
        row,
        name: str,
        data: dict[str, Any],
        stream: str = STREAM_ALL,
        control: str | None = None,
        saving: tuple[str, ...] = (),
    ) -> int:
        return emit(row, streams, name, data, stream, control, saving)

    return emit_bound


def forward_on_commit(groups: list[str], name: str, data: dict[str, Any]) -> None:
    """An unsequenced frame, sent after commit."""
    realtime.forward_on_commit(groups, encode({"type": name, "data": data}))


async def send_now(groups: list[str], name: str, data: dict[str, Any]) -> None:
    """An ephemeral (unsequenced) frame, sent at once."""
    await realtime.forward_now(groups, encode({"type": name, "data": data}))


def buffered_since(streams: Streams, room_id: int, after_seq: int) -> list[tuple[int, str, str]]:
    return realtime.frame_buffer().since(streams.scope(room_id), after_seq)
