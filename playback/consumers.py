"""The playback-room WebSocket: /ws/playback/<room_id>/ (docs/realtime.md,
"Playback rooms").

Authenticate, check access, join groups, send a snapshot (or the missed
frames), answer clock pings, dispatch client frames to services, forward
group frames, and wake the room when its state says something is due (a poll
stop, the end of a wait). No rules and no group_send here."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from core.asyncdb import db_call
from core.errors import CLOSE_TRY_AGAIN, ApplicationError, ServerBusyError, close_code_for
from core.fanout import FrameMember
from core.protocol import frame_int
from playback import events
from playback.access import RoomAccess, access_playback_room
from playback.selectors import room_snapshot_get
from playback.services import notes, progress, rooms
from playback.services.answers import playback_poll_answer

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
REACTIONS_DELAY = 0.5
TICK_MARGIN_S = 0.03


@dataclass(frozen=True)
class Action:
    handler: str
    once: bool = True  # claim the client frame id so a retry applies once
    coalesce: str | None = None


SEEN = Action("seen", once=False)  # internal: the socket is alive (from pings)
ACTIONS: dict[str, Action] = {
    "play": Action("play"),
    "pause": Action("pause"),
    "seek": Action("seek"),
    "rate": Action("rate"),
    "resume": Action("resume"),
    "ready": Action("ready", once=False),
    "poll.answer": Action("poll_answer"),
    "note.add": Action("note_add"),
    "note.update": Action("note_update"),
    "note.delete": Action("note_delete"),
    "chat.send": Action("chat_send"),
    "reaction.send": Action("reaction_send", once=False, coalesce="reactions"),
    "heartbeat": Action("heartbeat", once=False),
    "room.control": Action("room_control"),
    "room.invite": Action("room_invite"),
}


def _int(data: dict, key: str) -> int:
    return frame_int(data, key, numbers=True)


class PlaybackRoomConsumer(FrameMember, AsyncWebsocketConsumer):
    """Frames reach this consumer through the process's fan-out hub
    (core/fanout.py), not the channel layer: it has no channel of its own."""

    channel_layer_alias = "roundtable.no-channel-layer"
    access: RoomAccess | None = None

    # --- Connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        self.connection_id = f"playback.{uuid.uuid4().hex}"
        self.last_seq = 0
        self.tick_handle: asyncio.TimerHandle | None = None
        self.next_check: int | None = None
        self.seen_written = time.monotonic()
        # Actions run one after another in a task of their own, so a slow
        # write never delays a pong (the clock samples) or a forwarded frame.
        self.actions: asyncio.Queue = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        try:
            self.access = await db_call(access_playback_room)(
                user=self.scope["user"], room_id=self.room_id
            )
        except ApplicationError as error:
            await self.accept()
            await self._send_error(None, error)
            await self.close(
                code=close_code_for(error, forbidden=CLOSE_FORBIDDEN, not_found=CLOSE_NOT_FOUND)
            )
            return
        access = self.access
        self.frames_hold()
        try:
            await self.frames_follow(
                events.groups_for_member(
                    room_id=self.room_id, user_id=access.user.pk, table_id=access.table_id
                )
            )
        except ConnectionError:
            # The fan-out hub could not subscribe (Redis unreachable): the
            # client reconnects in a moment.
            logger.warning("playback room %s: fan-out unavailable", self.room_id)
            self.access = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        await self.accept()
        try:
            await self._send_initial(self._query_seq())
            await self.frames_release(self.last_seq)
            await db_call(rooms.room_join)(
                room_id=self.room_id, user=access.user, channel=self.connection_id
            )
        except ServerBusyError as error:
            # The database cannot serve now: say so and close with "try again
            # later"; the client reconnects (with ?seq=) as after any drop.
            await self._send_error(None, error)
            self.frames_unfollow()
            self.access = None
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        self.worker = asyncio.create_task(self._work())

    async def disconnect(self, code: int) -> None:
        if self.tick_handle is not None:
            self.tick_handle.cancel()
        if self.worker is not None:
            self.worker.cancel()
        if self.access is None:
            return
        self.frames_unfollow()
        try:
            await db_call(rooms.room_leave)(
                room_id=self.room_id, user=self.access.user, channel=self.connection_id
            )
        except ServerBusyError:
            # The database is down: a connection not seen for 45 s stops
            # counting as present (rooms.PRESENCE_STALE_SECONDS).
            pass

    def _query_seq(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["seq"][0]) if "seq" in query else None
        except ValueError:
            return None

    # --- Snapshot and resync -----------------------------------------------------------------

    async def _send_initial(self, last_seq: int | None) -> None:
        if last_seq is not None:
            missed = await db_call(self._missed_frames)(last_seq)
            if missed is not None:
                for seq, text in missed:
                    self.last_seq = max(self.last_seq, seq)
                    await self.send(text_data=text)
                await self._send_json(
                    {"type": "resync.done", "data": {"from": last_seq, "count": len(missed)}}
                )
                return
        data = await db_call(room_snapshot_get)(access=self.access)
        self.last_seq = data["seq"]
        self._schedule_tick(data["state"])
        await self._send_json({"type": "snapshot", "seq": data["seq"], "data": data})

    def _missed_frames(self, last_seq: int) -> list[tuple[int, str]] | None:
        from playback.models import PlaybackRoom

        head = PlaybackRoom.objects.filter(pk=self.room_id).values_list("seq", flat=True).first()
        if head is None or last_seq > head or last_seq < 0:
            return None
        if last_seq == head:
            return []
        frames = events.buffered_since(self.room_id, last_seq)
        if not frames or frames[0][0] != last_seq + 1 or frames[-1][0] < head:
            return None  # the buffer no longer reaches back, or lacks the newest
        if any(later[0] != earlier[0] + 1 for earlier, later in pairwise(frames)):
            return None  # a frame missing inside (its append failed: Redis was down)
        access = self.access
        return [
            (seq, text)
            for seq, stream, text in frames
            if events.stream_visible(stream, user_id=access.user.pk, table_id=access.table_id)
        ]

    # --- Client frames -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.access is None:
            return
        routed = await self.frames_receive(text_data, bytes_data, ACTIONS)
        if routed is None:
            return
        action, client_id, data = routed
        await self.actions.put((action, client_id, data))

    async def _work(self) -> None:
        while True:
            action, client_id, data = await self.actions.get()
            try:
                await self._apply(action, client_id, data)
            except ServerBusyError as error:  # the database is down: the client retries
                await self._send_error(client_id, error)
            except Exception:  # a bug in one action must not stop the next ones
                logger.exception(
                    "playback action %s failed in room %s", action.handler, self.room_id
                )
                await self._send_error(
                    client_id, ApplicationError("Something went wrong.", code="server_error")
                )

    async def _apply(self, action: Action, client_id: str | None, data: dict) -> None:
        if action.handler == "seen":
            await db_call(rooms.room_seen)(room_id=self.room_id, channel=self.connection_id)
            return
        handler = getattr(self, f"do_{action.handler}")
        try:
            if action.once:
                applied, result = await db_call(rooms.client_action_apply)(
                    room_id=self.room_id,
                    user=self.access.user,
                    client_id=client_id,
                    service=handler,
                    data=data,
                )
            else:
                applied, result = True, await db_call(handler)(data)
        except ApplicationError as error:
            await self._send_error(client_id, error)
            return
        ack: dict[str, Any] = {"type": "ack", "id": client_id}
        if not applied:
            ack["duplicate"] = True
        elif result is not None:
            ack["data"] = result
        await self._send_json(ack)
        if applied and action.coalesce == "reactions":
            room_id = self.room_id
            await events.coalesce(
                f"playback-reactions:{room_id}", REACTIONS_DELAY, lambda: _reactions_flush(room_id)
            )

    async def _pong(self, client_id: str | None, data: dict) -> None:
        """Answer at once, before any database work: the clock sample's
        round trip must measure the network, not us."""
        now = time.time()
        await self._send_json(
            {
                "type": "pong",
                "id": client_id,
                "data": {"server_time": now, "server_ms": now * 1000, "t": data.get("t")},
            }
        )
        # Slow clients: under Daphne every write checks the socket's buffer
        # (FrameMember); elsewhere the seq the client reports decides.
        await self.frames_lag_report(data.get("seq"))
        if time.monotonic() - self.seen_written > rooms.SEEN_WRITE_SECONDS:
            self.seen_written = time.monotonic()
            await self.actions.put((SEEN, None, {}))
        if self.next_check is not None and self.next_check <= rooms.now_ms():
            # The timer should have fired: wake the room (a process restart, a lost frame).
            await self._tick()

    # --- Handlers: run in a worker thread (inside client_action_apply's transaction) --------

    @property
    def _user(self):
        return self.access.user

    def do_play(self, data: dict) -> dict:
        return rooms.room_play(
            room_id=self.room_id, actor=self._user, may_participate=self.access.may_participate
        )

    def do_pause(self, data: dict) -> dict:
        return rooms.room_pause(
            room_id=self.room_id, actor=self._user, may_participate=self.access.may_participate
        )

    def do_seek(self, data: dict) -> dict:
        return rooms.room_seek(
            room_id=self.room_id,
            actor=self._user,
            may_participate=self.access.may_participate,
            is_staff=self.access.is_staff,
            position_ms=data.get("position_ms"),
        )

    def do_rate(self, data: dict) -> dict:
        return rooms.room_rate_set(
            room_id=self.room_id,
            actor=self._user,
            may_participate=self.access.may_participate,
            rate=data.get("rate"),
        )

    def do_resume(self, data: dict) -> dict:
        return rooms.room_resume(
            room_id=self.room_id, actor=self._user, may_participate=self.access.may_participate
        )

    def do_ready(self, data: dict) -> dict:
        return rooms.room_ready(room_id=self.room_id, user=self._user, state_seq=data.get("seq"))

    def do_poll_answer(self, data: dict) -> dict:
        return playback_poll_answer(
            room_id=self.room_id,
            user=self._user,
            may_participate=self.access.may_participate,
            table_id=self.access.table_id,
            poll_id=data.get("poll_id"),
            answer=data.get("answer"),
        )

    def do_note_add(self, data: dict) -> dict:
        note = notes.note_add(
            recording=self.access.recording,
            user=self._user,
            table_id=self.access.table_id,
            body=data.get("body"),
            visibility=data.get("visibility", "private"),
            media_ms=data.get("media_ms"),
            room_id=self.room_id,
            may_participate=self.access.may_participate,
        )
        return {"note_id": note.pk}

    def do_note_update(self, data: dict) -> dict:
        note = notes.note_update(
            user=self._user,
            note_id=data.get("note_id"),
            table_id=self.access.table_id,
            body=data.get("body"),
            visibility=data.get("visibility"),
            room_id=self.room_id,
            may_participate=self.access.may_participate,
        )
        return {"note_id": note.pk}

    def do_note_delete(self, data: dict) -> None:
        notes.note_delete(user=self._user, note_id=data.get("note_id"), room_id=self.room_id)

    def do_chat_send(self, data: dict) -> dict:
        message = rooms.room_chat_send(
            room_id=self.room_id,
            user=self._user,
            may_participate=self.access.may_participate,
            body=data.get("body"),
            media_ms=data.get("media_ms", 0),
        )
        return {"message_id": message.pk}

    def do_reaction_send(self, data: dict) -> None:
        rooms.room_reaction_send(
            room_id=self.room_id,
            user=self._user,
            may_participate=self.access.may_participate,
            kind=data.get("kind"),
            media_ms=data.get("media_ms", 0),
        )

    def do_heartbeat(self, data: dict) -> dict:
        return progress.progress_heartbeat(
            recording=self.access.recording,
            user=self._user,
            from_ms=data.get("from_ms"),
            to_ms=data.get("to_ms"),
            room=self.access.room,
        )

    def do_room_control(self, data: dict) -> None:
        rooms.room_control_set(room_id=self.room_id, actor=self._user, control=data.get("control"))

    def do_room_invite(self, data: dict) -> dict:
        return {
            "invited": rooms.room_invite(
                room_id=self.room_id, actor=self._user, user_ids=data.get("user_ids")
            )
        }

    # --- Waking the room -------------------------------------------------------------------------

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

    # --- Group frames ------------------------------------------------------------------------------

    async def frame_forward(self, event: dict) -> None:
        if event.get("seq"):
            self.last_seq = max(self.last_seq, event["seq"])
        await self.frames_write(event)
        if event.get("control") == events.STATE_CONTROL:
            frame = json.loads(event["text"])
            self._schedule_tick(frame.get("data"))

    def frames_last_seq(self) -> int:
        return self.last_seq

    # --- Output --------------------------------------------------------------------------------------

    async def _send_json(self, frame: dict) -> None:
        await self.send(text_data=events.encode(frame))

    async def _send_error(self, client_id: str | None, error: ApplicationError) -> None:
        await self._send_json({"type": "error", "id": client_id, "data": error.as_dict()})


async def _reactions_flush(room_id: int) -> None:
    from django.utils import timezone

    counts = await db_call(rooms.reaction_burst_take)(room_id)
    if counts:
        await events.forward_now(
            [events.group_all(room_id)],
            {"type": "reactions.burst", "data": {"counts": counts, "at": timezone.now()}},
        )
