"""`RoomConsumer`: the WebSocket skeleton every room shares.

connect: authenticate (the scope's user) -> access (the room's function;
a refusal is said in an `error` frame, then the socket closes 4403/4404) ->
follow the member's groups on the fan-out hub (frames held) -> join ->
snapshot, or the missed frames + `resync.done` when the client sends
`?seq=` and the buffer still reaches back -> release the held frames.
receive: parse, answer `ping`/`resync` (core/fanout.py), look the type up in
the room's action table, check its permission, apply it once (core/rooms/
actions.py), answer `ack` or `error`. Frames from the hub are forwarded.

A room subclasses it and supplies: `url_kwarg`, `connection_prefix`,
`streams`, `actions`, `client_actions` (the claims model) and `scope_field`,
and the hooks `access_get`, `snapshot_get`, `head_seq`, `member_join`,
`member_leave` and `pong_data` (and, if it needs them, `pong_sent`,
`snapshot_taken`, `on_control`, `connection_closed`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from itertools import pairwise
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from core.asyncdb import DbCallDispatch, db_call
from core.errors import CLOSE_TRY_AGAIN, ApplicationError, ServerBusyError, close_code_for
from core.fanout import FrameMember
from core.rooms.actions import Action, action_apply
from core.rooms.frames import buffered_since, encode
from core.rooms.streams import Streams

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_SERVER_ERROR = 1011  # the snapshot could not be built (a bug, logged)


class RoomConsumer(DbCallDispatch, FrameMember, AsyncWebsocketConsumer):
    """Frames reach a room's consumer through the process's fan-out hub
    (core/fanout.py), not the channel layer: it has no channel of its own."""

    channel_layer_alias = "roundtable.no-channel-layer"

    url_kwarg: ClassVar[str]
    connection_prefix: ClassVar[str]
    streams: ClassVar[Streams]
    actions: ClassVar[Mapping[str, Action]]
    client_actions: ClassVar[Any]  # the model of claimed client frame ids
    scope_field: ClassVar[str]  # its foreign key to the room ("session", "room")
    join_before_snapshot: ClassVar[bool] = True  # the snapshot counts this connection
    actions_in_worker: ClassVar[bool] = False  # actions never delay a pong

    access: Any = None
    joined = False

    # --- Hooks of the room ---------------------------------------------------------

    def access_get(self, user, room_id: int):
        """(Database thread) The member's access, or raise ApplicationError."""
        raise NotImplementedError

    def snapshot_get(self, access) -> dict:
        """(Database thread) The snapshot's data, with its `seq`."""
        raise NotImplementedError

    def head_seq(self, room_id: int) -> int | None:
        """(Database thread) The room's current seq (None: no such room)."""
        raise NotImplementedError

    async def access_load(self, user, room_id: int):
        """`access_get` in a database thread (a room may batch it with other
        members connecting at once)."""
        return await db_call(self.access_get)(user, room_id)

    async def snapshot_load(self, access) -> dict:
        """`snapshot_get` in a database thread (a room may batch it)."""
        return await db_call(self.snapshot_get)(access)

    async def member_join(self) -> None:
        raise NotImplementedError

    async def member_leave(self) -> None:
        raise NotImplementedError

    def pong_data(self, data: dict) -> dict:
        raise NotImplementedError

    async def pong_sent(self, data: dict) -> None:
        """After the pong (database work that must not delay it)."""

    def snapshot_taken(self, data: dict) -> None:
        """Right before the snapshot goes out."""

    async def on_control(self, event: dict) -> None:
        """A forwarded frame carried a control word (after it was written)."""

    async def connection_closed(self) -> None:
        """The socket is gone (before the member leaves)."""

    # --- Connection ----------------------------------------------------------------

    async def connect(self) -> None:
        self.room_id = int(self.scope["url_route"]["kwargs"][self.url_kwarg])
        self.connection_id = f"{self.connection_prefix}.{uuid.uuid4().hex}"
        self.last_seq = 0
        self.jobs: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None
        try:
            self.access = await self.access_load(self.scope["user"], self.room_id)
        except ApplicationError as error:
            # Accept to say why, then close: a bare handshake refusal tells the client nothing.
            await self.accept()
            await self._send_error(None, error)
            await self.close(
                code=close_code_for(error, forbidden=CLOSE_FORBIDDEN, not_found=CLOSE_NOT_FOUND)
            )
            return
        # Frames published from here on wait until the snapshot (or the missed
        # frames) has gone out; the ones it already covers are dropped then.
        self.frames_hold()
        try:
            await self._follow()
        except ConnectionError:
            # The fan-out hub could not subscribe (Redis unreachable for
            # SUBSCRIBE_TIMEOUT): say so; the client reconnects later.
            logger.warning("%s %s: fan-out unavailable", self.connection_prefix, self.room_id)
            self.access = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        await self.accept()
        try:
            if self.join_before_snapshot:
                await self._join()
            await self._send_initial(self._query_seq())
            if not self.join_before_snapshot:
                await self.frames_release(self.last_seq)
                await self._join()
        except ServerBusyError as error:
            # The database cannot serve now: say so and close with "try again
            # later"; the client reconnects (with ?seq=) as after any drop.
            await self._send_error(None, error)
            await self._abandon(CLOSE_TRY_AGAIN)
            return
        except Exception:
            # A snapshot that cannot be built is a bug; leave the room just
            # joined, so that the user does not stay "present" for good.
            logger.exception("snapshot of %s %s failed", self.connection_prefix, self.room_id)
            await self._abandon(CLOSE_SERVER_ERROR)
            return
        if self.join_before_snapshot:
            await self.frames_release(self.last_seq)
        if self.actions_in_worker:
            self.jobs = asyncio.Queue()
            self.worker = asyncio.create_task(self._work())

    async def disconnect(self, code: int) -> None:
        if self.worker is not None:
            self.worker.cancel()
        await self.connection_closed()
        if self.access is None:
            return
        await self._leave()

    async def _join(self) -> None:
        await self.member_join()
        self.joined = True

    async def _leave(self) -> None:
        self.frames_unfollow()
        if not self.joined:
            return
        self.joined = False
        try:
            await self.member_leave()
        except ServerBusyError:
            # The database is down: the room's stale sweep ends this
            # membership at its last sign of life once it is back.
            pass

    async def _abandon(self, code: int) -> None:
        await self._leave()
        self.access = None
        await self.close(code=code)

    async def _follow(self) -> None:
        access = self.access
        await self.frames_follow(
            self.streams.groups_for_member(
                self.room_id,
                user_id=access.user.pk,
                table_id=access.table_id,
                is_staff=access.is_staff,
            )
        )

    def _query_seq(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["seq"][0]) if "seq" in query else None
        except ValueError:
            return None

    # --- Snapshot and resync -------------------------------------------------------

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
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        data = await self.snapshot_load(self.access)
        self.last_seq = data["seq"]
        self.snapshot_taken(data)
        await self._send_json({"type": "snapshot", "seq": data["seq"], "data": data})

    def _missed_frames(self, last_seq: int) -> list[tuple[int, str]] | None:
        """The frames after last_seq this member may see, or None if the buffer
        no longer reaches back that far (then a snapshot is due)."""
        head = self.head_seq(self.room_id)
        if head is None or last_seq > head or last_seq < 0:
            return None
        if last_seq == head:
            return []
        frames = buffered_since(self.streams, self.room_id, last_seq)
        if not frames or frames[0][0] != last_seq + 1 or frames[-1][0] < head:
            return None  # the buffer no longer reaches back, or lacks the newest
        if any(later[0] != earlier[0] + 1 for earlier, later in pairwise(frames)):
            return None  # a frame missing inside (its append failed: Redis was down)
        access = self.access
        return [
            (seq, text)
            for seq, stream, text in frames
            if self.streams.visible(
                stream, user_id=access.user.pk, table_id=access.table_id, is_staff=access.is_staff
            )
        ]

    def frames_last_seq(self) -> int:
        return self.last_seq

    # --- Client frames -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.access is None:
            return
        routed = await self.frames_receive(text_data, bytes_data, self.actions)
        if routed is None:
            return
        action, client_id, data = routed
        if self.jobs is not None:
            await self.jobs.put(lambda: self._dispatch(action, client_id, data))
        else:
            await self._dispatch(action, client_id, data)

    async def run_later(self, job: Callable[[], Awaitable[None]]) -> None:
        """Queue database work behind the actions (or run it now without a worker)."""
        if self.jobs is not None:
            await self.jobs.put(job)
        else:
            await job()

    async def _work(self) -> None:
        """Actions one after another in a task of their own, so a slow write
        never delays a pong (the clock samples) or a forwarded frame."""
        while True:
            job = await self.jobs.get()
            try:
                await job()
            except ServerBusyError as error:  # the database is down: the client retries
                await self._send_error(None, error)
            except Exception:  # a bug in one job must not stop the next ones
                logger.exception("%s %s: a job failed", self.connection_prefix, self.room_id)

    async def _dispatch(self, action: Action, client_id: str | None, data: dict) -> None:
        access = self.access
        result = None
        try:
            if action.permission is not None and not access.course_access.may(action.permission):
                access.require(action.permission)
            if action.asynchronous:
                outcome = await action.handler(self, client_id, data)
                applied, result = outcome if isinstance(outcome, tuple) else (outcome, None)
            elif action.once:
                applied, result = await db_call(action_apply, action.lane)(
                    self.client_actions,
                    scope=(self.scope_field, self.room_id),
                    user=access.user,
                    client_id=client_id,
                    service=functools.partial(action.handler, self),
                    data=data,
                )
            else:
                applied, result = True, await db_call(action.handler, action.lane)(self, data)
        except ApplicationError as error:
            await self._send_error(client_id, error)
            return
        except Exception:
            # A bug in one action must not close the socket (an exception out
            # of receive() kills the consumer before disconnect() can leave
            # the room): log it and answer like the API's 500.
            logger.exception(
                "%s action %s failed in %s", self.connection_prefix, action.name, self.room_id
            )
            await self._send_error(
                client_id,
                ApplicationError("Something went wrong on our side.", code="server_error"),
            )
            return
        ack: dict[str, Any] = {"type": "ack", "id": client_id}
        if not applied:
            ack["duplicate"] = True
        if result is not None:
            ack["data"] = result
        await self._send_json(ack)

    async def _pong(self, client_id: str | None, data: dict) -> None:
        """Answer at once, before any database work: a clock sample's round
        trip must measure the network, not us."""
        await self._send_json({"type": "pong", "id": client_id, "data": self.pong_data(data)})
        # Slow clients: under Daphne every write checks the socket's buffer
        # (FrameMember); elsewhere the seq the client reports decides.
        await self.frames_lag_report(data.get("seq"))
        await self.pong_sent(data)

    # --- Frames from the hub -------------------------------------------------------

    def frame_forward_now(self, event: dict) -> bool:
        # What frame_forward does before its write (no control word here:
        # the hub only asks for frames without one).
        seq = event.get("seq")
        if seq:
            self.last_seq = max(self.last_seq, seq)
        return True

    async def frame_forward(self, event: dict) -> None:
        seq = event.get("seq")
        if seq:
            self.last_seq = max(self.last_seq, seq)
        await self.frames_write(event)
        if event.get("control"):
            await self.on_control(event)

    # --- Output --------------------------------------------------------------------

    async def _send_json(self, frame: dict) -> None:
        await self.send(text_data=encode(frame))

    async def _send_error(self, client_id: str | None, error: ApplicationError) -> None:
        await self._send_json({"type": "error", "id": client_id, "data": error.as_dict()})
