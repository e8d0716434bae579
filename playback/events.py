"""Typed realtime frames of playback rooms: the only caller of core.realtime
for this app. docs/realtime.md ("Playback rooms") lists every frame.

A room numbers its frames exactly like a live session (`seq`, `stream`,
`prev`, a resync buffer): streams are `all`, `table.<id>` (members of that
table in the room) and `user.<id>`. Frames meant for other rooms of the same
recording (a note shared with the course) are sent there unsequenced."""

from __future__ import annotations

from typing import Any, TypedDict

from django.utils import timezone

from core.asyncdb import db_call
from core.rooms import frames
from core.rooms.frames import encode, frame_type
from core.rooms.streams import STREAM_ALL, Streams, stream_table, stream_user
from playback.models import Note, PlaybackRoom, RoomMessage

STATE_CONTROL = "state"  # consumers schedule their room checks from this frame
ROOM = "playback"
STREAMS = Streams("playback")
__all__ = ["STREAM_ALL", "encode", "stream_table", "stream_user"]


def group_all(room_id: int) -> str:
    return STREAMS.group_all(room_id)


# Number, keep and send one frame (core/rooms/frames.py); the caller holds the row lock.
emit = frames.emitter(STREAMS)


def forward_on_commit(groups: list[str], frame: dict[str, Any]) -> None:
    """An unsequenced frame, sent after commit (other rooms of the recording)."""
    frames.forward_on_commit(groups, frame["type"], frame["data"])


# --- Frame types and their payloads -------------------------------------------------


class UserRef(TypedDict):
    id: int
    name: str


class StateData(TypedDict):
    state: str
    position_ms: int
    rate: float
    at_ms: int
    until_ms: int | None
    waiting: dict[str, Any] | None
    cause: str
    by: UserRef | None


class ReadyData(TypedDict):
    state_seq: int
    ready: list[int]


class MembersData(TypedDict):
    members: list[dict[str, Any]]


class SettingsData(TypedDict):
    control: str
    host: dict[str, int] | None


class MessageData(TypedDict):
    id: int
    author: UserRef | None
    body: str
    media_ms: int
    created_at: Any


class NoteData(TypedDict):
    id: int
    author: UserRef
    visibility: str
    table_id: int | None
    media_ms: int
    body: str
    created_at: Any
    updated_at: Any


class IdData(TypedDict):
    id: int


class ProgressData(TypedDict):
    poll_id: int
    answered: list[int]  # empty for an anonymous poll: counts only
    pending: list[int]
    answered_count: int
    pending_count: int


class ReactionsData(TypedDict):
    counts: dict[str, int]
    at: Any


class PongData(TypedDict):
    server_time: float
    server_ms: float
    t: Any


ROOM_STATE = frame_type(ROOM, "room.state_changed", StateData, old_name="room.state")
ROOM_READY = frame_type(ROOM, "room.ready_changed", ReadyData, old_name="room.ready")
ROOM_MEMBERS = frame_type(ROOM, "room.members_changed", MembersData, old_name="room.members")
ROOM_SETTINGS = frame_type(ROOM, "room.settings_changed", SettingsData, old_name="room.settings")
POLL_PROGRESS = frame_type(ROOM, "poll.progress_changed", ProgressData, old_name="poll.progress")
POLL_ANSWERED = frame_type(ROOM, "poll.answered", dict)
CHAT_POSTED = frame_type(ROOM, "chat.posted", MessageData)
NOTE_ADDED = frame_type(ROOM, "note.added", NoteData)
NOTE_CHANGED = frame_type(ROOM, "note.changed", NoteData)
NOTE_DELETED = frame_type(ROOM, "note.deleted", IdData)
PROGRESS_COMPLETED = frame_type(ROOM, "progress.completed", dict)
REACTIONS_BURST = frame_type(
    ROOM, "reactions.sent", ReactionsData, sequenced=False, old_name="reactions.burst"
)
PONG = frame_type(ROOM, "pong", PongData, sequenced=False)


# --- Payloads (shared by frames and the snapshot) -----------------------------------


def user_payload(user) -> dict[str, Any]:
    return {"id": user.pk, "name": user.name}


def _poll_review(room: PlaybackRoom) -> bool:
    # A real cycle: the playback services import this module.
    from playback.services.rooms import poll_review

    return poll_review(room)


def state_payload(room: PlaybackRoom, *, cause: str = "", by=None) -> dict[str, Any]:
    """Where the room's media is: at server time `at_ms` (epoch ms) the position
    is `position_ms`; while playing it advances at `rate`, up to `until_ms`."""
    waiting = None
    if room.state == "waiting":
        ready = list(room.waiting_ready or [])
        # Who has answered an anonymous poll is not shown, only how many
        # (docs/polls.md): a member would see when a table mate answered.
        hidden = (
            room.waiting_reason == "poll"
            and room.waiting_poll_id is not None
            and room.waiting_poll.is_anonymous
        )
        waiting = {
            "reason": room.waiting_reason,
            "poll_id": room.waiting_poll_id,
            "deadline_ms": room.waiting_deadline_ms,
            "ready": [] if hidden else ready,
            "ready_count": len(ready),
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
    return STREAMS.groups_for_stream(room_id, _note_stream(note))


# --- Frames -----------------------------------------------------------------------------


def room_state_changed(room: PlaybackRoom, *, cause: str, by=None) -> int:
    seq = emit(
        room, "room.state_changed", state_payload(room, cause=cause, by=by), control=STATE_CONTROL
    )
    room.state_seq = seq
    PlaybackRoom.objects.filter(pk=room.pk).update(state_seq=seq)
    return seq


def room_members_changed(room: PlaybackRoom, members: list[dict[str, Any]]) -> None:
    emit(room, "room.members_changed", {"members": members})


def room_settings_changed(room: PlaybackRoom) -> None:
    emit(
        room,
        "room.settings_changed",
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
    emit(room, "poll.progress_changed", data)


def poll_answered(room: PlaybackRoom, user_id: int, data: dict[str, Any]) -> None:
    emit(room, "poll.answered", data, stream_user(user_id))


def progress_completed(room: PlaybackRoom, user_id: int, data: dict[str, Any]) -> None:
    emit(room, "progress.completed", data, stream_user(user_id))


async def reactions_burst_flush(room_id: int) -> None:
    # A real cycle: the playback services import this module.
    from playback.services.rooms import reaction_burst_take

    counts = await db_call(reaction_burst_take)(room_id)
    if counts:
        await frames.send_now(
            [group_all(room_id)], REACTIONS_BURST, {"counts": counts, "at": timezone.now()}
        )
