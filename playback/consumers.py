"""The playback-room WebSocket: /ws/playback/<room_id>/ (docs/realtime.md,
"Playback rooms").

The room kernel (core/rooms/consumer.py) runs the socket; this module
supplies the playback room's access, snapshot, membership, clock pings, the
wake-ups its state asks for (a poll stop, the end of a wait) and its action
table: one handler per client frame type, each a call of a service."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from core.asyncdb import db_call
from core.rooms.actions import Action
from core.rooms.consumer import RoomConsumer
from playback import events
from playback.access import access_playback_room
from playback.models import PlaybackClientAction
from playback.selectors import room_seq_get, room_snapshot_get
from playback.services import notes, progress, rooms
from playback.services.answers import playback_poll_answer

logger = logging.getLogger(__name__)

TICK_MARGIN_S = 0.03


# --- Handlers: run in a worker thread (inside the idempotent transaction) --------------


def play(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_play(
        room_id=room.room_id, actor=room.access.user, may_participate=room.access.may_participate
    )


def pause(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_pause(
        room_id=room.room_id, actor=room.access.user, may_participate=room.access.may_participate
    )


def seek(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_seek(
        room_id=room.room_id,
        actor=room.access.user,
        may_participate=room.access.may_participate,
        is_staff=room.access.is_staff,
        position_ms=data.get("position_ms"),
    )


def rate(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_rate_set(
        room_id=room.room_id,
        actor=room.access.user,
        may_participate=room.access.may_participate,
        rate=data.get("rate"),
    )


def resume(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_resume(
        room_id=room.room_id, actor=room.access.user, may_participate=room.access.may_participate
    )


def ready(room: PlaybackRoomConsumer, data: dict) -> dict:
    return rooms.room_ready(room_id=room.room_id, user=room.access.user, state_seq=data.get("seq"))


def poll_answer(room: PlaybackRoomConsumer, data: dict) -> dict:
    return playback_poll_answer(
        room_id=room.room_id,
        user=room.access.user,
        may_participate=room.access.may_participate,
        table_id=room.access.table_id,
        poll_id=data.get("poll_id"),
        answer=data.get("answer"),
    )


def note_add(room: PlaybackRoomConsumer, data: dict) -> dict:
    note = notes.note_add(
        recording=room.access.recording,
        user=room.access.user,
        table_id=room.access.table_id,
        body=data.get("body"),
        visibility=data.get("visibility", "private"),
        media_ms=data.get("media_ms"),
        room_id=room.room_id,
        may_participate=room.access.may_participate,
    )
    return {"note_id": note.pk}


def note_update(room: PlaybackRoomConsumer, data: dict) -> dict:
    note = notes.note_update(
        user=room.access.user,
        note_id=data.get("note_id"),
        table_id=room.access.table_id,
        body=data.get("body"),
        visibility=data.get("visibility"),
        room_id=room.room_id,
        may_participate=room.access.may_participate,
    )
    return {"note_id": note.pk}


def note_delete(room: PlaybackRoomConsumer, data: dict) -> None:
    notes.note_delete(user=room.access.user, note_id=data.get("note_id"), room_id=room.room_id)


def chat_send(room: PlaybackRoomConsumer, data: dict) -> dict:
    message = rooms.room_chat_send(
        room_id=room.room_id,
        user=room.access.user,
        may_participate=room.access.may_participate,
        body=data.get("body"),
        media_ms=data.get("media_ms", 0),
    )
    return {"message_id": message.pk}


def reaction_send(room: PlaybackRoomConsumer, data: dict) -> None:
    rooms.room_reaction_send(
        room_id=room.room_id,
        user=room.access.user,
        may_participate=room.access.may_participate,
        kind=data.get("kind"),
        media_ms=data.get("media_ms", 0),
    )


def heartbeat(room: PlaybackRoomConsumer, data: dict) -> dict:
    return progress.progress_heartbeat(
        recording=room.access.recording,
        user=room.access.user,
        from_ms=data.get("from_ms"),
        to_ms=data.get("to_ms"),
        room=room.access.room,
    )


def room_control(room: PlaybackRoomConsumer, data: dict) -> None:
    rooms.room_control_set(
        room_id=room.room_id, actor=room.access.user, control=data.get("control")
    )


def room_invite(room: PlaybackRoomConsumer, data: dict) -> dict:
    return {
        "invited": rooms.room_invite(
            room_id=room.room_id, actor=room.access.user, user_ids=data.get("user_ids")
        )
    }


ACTIONS: dict[str, Action] = {
    "play": Action(play),
    "pause": Action(pause),
    "seek": Action(seek),
    "rate": Action(rate),
    "resume": Action(resume),
    "ready": Action(ready, once=False),
    "poll.answer": Action(poll_answer),
    "note.add": Action(note_add),
    "note.update": Action(note_update),
    "note.delete": Action(note_delete),
    "chat.send": Action(chat_send),
    "reaction.send": Action(reaction_send, once=False),
    "heartbeat": Action(heartbeat, once=False),
    "room.control": Action(room_control),
    "room.invite": Action(room_invite),
}


class PlaybackRoomConsumer(RoomConsumer):
    url_kwarg = "room_id"
    connection_prefix = "playback"
    streams = events.STREAMS
    actions = ACTIONS
    client_actions = PlaybackClientAction
    scope_field = "room"
    join_before_snapshot = False  # the snapshot first; the join's frames follow it
    actions_in_worker = True  # a slow write never delays a pong (the clock samples)

    tick_handle: asyncio.TimerHandle | None = None
    next_check: int | None = None

    def access_get(self, user, room_id: int):
        return access_playback_room(user=user, room_id=room_id)

    def snapshot_get(self, access) -> dict:
        return room_snapshot_get(access=access)

    def head_seq(self, room_id: int) -> int | None:
        return room_seq_get(room_id)

    async def member_join(self) -> None:
        self.seen_written = time.monotonic()
        await db_call(rooms.room_join)(
            room_id=self.room_id, user=self.access.user, channel=self.connection_id
        )

    async def member_leave(self) -> None:
        # When the database is down, a connection not seen for 45 s stops
        # counting as present (rooms.PRESENCE_STALE_SECONDS).
        await db_call(rooms.room_leave)(
            room_id=self.room_id, user=self.access.user, channel=self.connection_id
        )

    def pong_data(self, data: dict) -> dict:
        now = time.time()
        return {"server_time": now, "server_ms": now * 1000, "t": data.get("t")}

    async def pong_sent(self, data: dict) -> None:
        if self.joined and time.monotonic() - self.seen_written > rooms.SEEN_WRITE_SECONDS:
            self.seen_written = time.monotonic()
            await self.run_later(self._seen)
        if self.next_check is not None and self.next_check <= rooms.now_ms():
            # The timer should have fired: wake the room (a process restart, a lost frame).
            await self._tick()

    async def _seen(self) -> None:
        """The socket is alive (from pings)."""
        await db_call(rooms.room_seen)(room_id=self.room_id, channel=self.connection_id)

    def snapshot_taken(self, data: dict) -> None:
        self._schedule_tick(data["state"])

    async def on_control(self, event: dict) -> None:
        if event["control"] == events.STATE_CONTROL:
            frame = json.loads(event["text"])
            self._schedule_tick(frame.get("data"))

    async def connection_closed(self) -> None:
        if self.tick_handle is not None:
            self.tick_handle.cancel()

    # --- Waking the room ---------------------------------------------------------------

    def _schedule_tick(self, state: dict | None) -> None:
        """Every member's socket wakes the room when its state says something
        is due; the first to act changes it, the others find nothing to do."""
        if self.tick_handle is not None:
            self.tick_handle.cancel()
            self.tick_handle = None
        self.next_check = rooms.next_check_ms(state) if state else None
        if self.next_check is None:
            return
        delay = max(0.0, (self.next_check - rooms.now_ms()) / 1000) + TICK_MARGIN_S
        loop = asyncio.get_running_loop()
        self.tick_handle = loop.call_later(delay, lambda: asyncio.ensure_future(self._tick()))

    async def _tick(self) -> None:
        try:
            await db_call(rooms.room_tick)(room_id=self.room_id)
        except Exception:  # a failed wake-up must not kill the socket; the next ping retries
            logger.exception("room tick failed for room %s", self.room_id)
