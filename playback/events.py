"""Typed realtime frames of playback rooms: the only caller of core.realtime
for this app. docs/realtime.md ("Playback rooms") lists every frame.

A room numbers its frames exactly like a live session (`seq`, `stream`,
`prev`, a resync buffer): streams are `all`, `table.<id>` (members of that
table in the room) and `user.<id>`. Frames meant for other rooms of the same
recording (a note shared with the course) are sent there unsequenced."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from core import realtime
from playback.models import Note, PlaybackRoom, RoomMessage

STREAM_ALL = "all"
STATE_CONTROL = "state"  # consumers schedule their room checks from this frame


def stream_table(table_id: int) -> str:
    return f"table.{table_id}"


def stream_user(user_id: int) -> str:
    return f"user.{user_id}"


def group_all(room_id: int) -> str:
    return f"playback.{room_id}"


def group_table(room_id: int, table_id: int) -> str:
    return f"playback.{room_id}.table.{table_id}"


def group_user(room_id: int, user_id: int) -> str:
    return f"playback.{room_id}.user.{user_id}"


def groups_for_stream(room_id: int, stream: str) -> list[str]:
    if stream == STREAM_ALL:
        return [group_all(room_id)]
    kind, _, ident = stream.partition(".")
    if kind == "table":
        return [group_table(room_id, int(ident))]
    if kind == "user":
        return [group_user(room_id, int(ident))]
    raise ValueError(f"unknown stream {stream!r}")


def groups_for_member(*, room_id: int, user_id: int, table_id: int | None) -> list[str]:
    groups = [group_all(room_id), group_user(room_id, user_id)]
    if table_id is not None:
        groups.append(group_table(room_id, table_id))
    return groups


def stream_visible(stream: str, *, user_id: int, table_id: int | None) -> bool:
    if stream == STREAM_ALL:
        return True
    kind, _, ident = stream.partition(".")
    if kind == "table":
        return table_id is not None and int(ident) == table_id
    if kind == "user":
        return int(ident) == user_id
    return False


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def scope_name(room_id: int) -> str:
    return f"playback.{room_id}"


def emit(
    room: PlaybackRoom,
    frame_type: str,
    data: dict[str, Any],
    stream: str = STREAM_ALL,
    control: str | None = None,
) -> int:
    """Number, keep and send (after commit) one frame of the room.

    Precondition: the caller holds the room row lock (`room` came from
    `select_for_update` in the current transaction)."""
    room.seq += 1
    heads = dict(room.stream_heads or {})
    prev = heads.get(stream, 0)
    heads[stream] = room.seq
    room.stream_heads = heads
    PlaybackRoom.objects.filter(pk=room.pk).update(seq=room.seq, stream_heads=heads)
    frame = {"type": frame_type, "seq": room.seq, "stream": stream, "prev": prev, "data": data}
    realtime.frame_publish_on_commit(
        scope=scope_name(room.pk),
        seq=room.seq,
        stream=stream,
        text=encode(frame),
        groups=groups_for_stream(room.pk, stream),
        control=control,
    )
    return room.seq


def forward_on_commit(groups: list[str], frame: dict[str, Any]) -> None:
    """An unsequenced frame, sent after commit (other rooms of the recording)."""
    realtime.forward_on_commit(groups, encode(frame))


async def forward_now(groups: list[str], frame: dict[str, Any]) -> None:
    await realtime.forward_now(groups, encode(frame))


def buffered_since(room_id: int, after_seq: int) -> list[tuple[int, str, str]]:
    return realtime.frame_buffer().since(scope_name(room_id), after_seq)


async def coalesce(key: str, delay: float, flush) -> bool:
    return await realtime.coalesce(key, delay, flush)


# --- Payloads (shared by frames and the snapshot) -----------------------------------


def user_payload(user) -> dict[str, Any]:
    return {"id": user.pk, "name": user.name}


def _poll_review(room: PlaybackRoom) -> bool:
    from playback.services.rooms import poll_review

    return poll_review(room)


def state_payload(room: PlaybackRoom, *, cause: str = "", by=None) -> dict[str, Any]:
    """Where the room's media is: at server time `at_ms` (epoch ms) the position
    is `position_ms`; while playing it advances at `rate`, up to `until_ms`."""
    waiting = None
    if room.state == "waiting":
        waiting = {
            "reason": room.waiting_reason,
            "poll_id": room.waiting_poll_id,
            "deadline_ms": room.waiting_deadline_ms,
            "ready": list(room.waiting_ready or []),
            "resume_playing": room.resume_playing,
            "review": _poll_review(room),
        }
    return {
        "state": room.state,
        "position_ms": room.position_ms,
        "rate": room.rate,
        "at_ms": room.reference_ms,
        "until_ms": room.until_ms,
        "waiting": waiting,
        "cause": cause,
        "by": user_payload(by) if by is not None else None,
    }


def message_payload(message: RoomMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": user_payload(message.author) if message.author else None,
        "body": message.body,
        "media_ms": message.media_ms,
        "created_at": message.created_at,
    }


def note_payload(note: Note) -> dict[str, Any]:
    return {
        "id": note.pk,
        "author": user_payload(note.author),
        "visibility": note.visibility,
        "table_id": note.table_id,
        "media_ms": note.media_ms,
        "body": note.body,
        "created_at": note.created_at,
        "updated_at": note.updated_at,
    }


def _note_stream(note: Note) -> str:
    if note.visibility == "course":
        return STREAM_ALL
    if note.visibility == "table":
        return stream_table(note.table_id)
    return stream_user(note.author_id)


def _note_groups(room_id: int, note: Note) -> list[str]:
    return groups_for_stream(room_id, _note_stream(note))


# --- Frames -----------------------------------------------------------------------------


def room_state_changed(room: PlaybackRoom, *, cause: str, by=None) -> int:
    seq = emit(room, "room.state", state_payload(room, cause=cause, by=by), control=STATE_CONTROL)
    room.state_seq = seq
    PlaybackRoom.objects.filter(pk=room.pk).update(state_seq=seq)
    return seq


def room_members_changed(room: PlaybackRoom, members: list[dict[str, Any]]) -> None:
    emit(room, "room.members", {"members": members})


def room_settings_changed(room: PlaybackRoom) -> None:
    emit(
        room,
        "room.settings",
        {"control": room.control, "host": {"id": room.host_id} if room.host_id else None},
    )


def chat_posted(room: PlaybackRoom, message: RoomMessage) -> None:
    emit(room, "chat.posted", message_payload(message))


def note_changed(
    room: PlaybackRoom | None,
    note: Note,
    *,
    frame_type: str,
    other_room_ids: list[int],
    previous: Note | None = None,
) -> None:
    """`note.added` / `note.changed` / `note.deleted` to whoever may read the
    note: sequenced in the room it was written in, unsequenced in the other
    open rooms of the recording. When a note's visibility narrows, readers who
    lose it get `note.deleted`."""
    if previous is not None and _note_stream(previous) != _note_stream(note):
        # Readers of the old version forget it first; then readers of the new
        # one (the author among them, in order) get it again.
        gone = {"id": note.pk}
        if room is not None:
            emit(room, "note.deleted", gone, _note_stream(previous))
        for room_id in other_room_ids:
            forward_on_commit(
                _note_groups(room_id, previous), {"type": "note.deleted", "data": gone}
            )
    data = {"id": note.pk} if frame_type == "note.deleted" else note_payload(note)
    if room is not None:
        emit(room, frame_type, data, _note_stream(note))
    for room_id in other_room_ids:
        forward_on_commit(_note_groups(room_id, note), {"type": frame_type, "data": data})


def poll_progress(room: PlaybackRoom, data: dict[str, Any]) -> None:
    emit(room, "poll.progress", data)


def poll_answered(room: PlaybackRoom, user_id: int, data: dict[str, Any]) -> None:
    emit(room, "poll.answered", data, stream_user(user_id))


def progress_completed(room: PlaybackRoom, user_id: int, data: dict[str, Any]) -> None:
    emit(room, "progress.completed", data, stream_user(user_id))
