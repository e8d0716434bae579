"""Per-process fan-out of encoded frames to local WebSocket consumers.

Channels' Redis layer stores one copy of a group message per recipient and its
receiver pops them one Redis round trip, one decode and one dispatch each: with
150 learners per change that per-recipient work is the ceiling of a Daphne
process (docs/performance.md). Live and playback frames are
encoded once, so they travel differently:

- a publish is one Redis `PUBLISH` per group, whatever the number of
  recipients and processes;
- each event loop has one `Hub`: one pub/sub connection subscribed to the
  groups its local consumers follow, and the local members of each group;
- the hub hands the text to each local member in turn (`frame_deliver`), which
  writes it to its socket: no per-recipient decode, copy or Redis call;
- under Daphne, a frame is also WebSocket-framed once (`wire_frame`) and the
  same bytes are written to each local socket's transport, past the ASGI
  `send` chain (a dict, three coroutine calls, a UTF-8 encode and autobahn's
  framing per recipient). Other servers, and tests, use the ASGI `send`.

Pub/sub is at-most-once, like the channel layer. Sequenced frames are also in
the resync buffer (core/realtime.py); when the hub's Redis connection breaks it
resubscribes and asks every local member to resync from its last seq.

Without Redis (the embedded default, most unit tests) a publish goes to the
hubs of this process directly, in order, through each hub's queue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from core import kv
from core.errors import ApplicationError, ServerBusyError, ValidationError
from core.protocol import client_frame_parse

logger = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 5.0
IDLE_UNSUBSCRIBE_SECONDS = 30.0  # a group without members keeps its subscription this long
RECONNECT_DELAY = 0.5


class Member(Protocol):
    async def frame_deliver(self, event: dict[str, Any]) -> None: ...
    async def frames_resync(self) -> None: ...


def _namespace() -> str:
    from core.realtime import _namespace as namespace

    return namespace()


def _channel(group: str) -> str:
    return f"roundtable:fan:{_namespace()}:{group}"


def _payload(seq: int | None, control: str | None, text: str) -> bytes:
    return f"{seq or ''}|{control or ''}|{text}".encode()


def _event(payload: bytes) -> dict[str, Any]:
    seq, control, text = payload.decode().split("|", 2)
    return {"text": text, "seq": int(seq) if seq else None, "control": control or None}


class Hub:
    """The fan-out of one event loop (one per Daphne process)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.members: dict[str, set[Member]] = {}
        self.empty_since: dict[str, float] = {}
        self.local: asyncio.Queue = asyncio.Queue()  # (groups, event) without Redis
        self.prefix = _channel("")
        self._subscribed: dict[str, asyncio.Future] = {}
        self._pubsub = None
        self._reader: asyncio.Task | None = None
        self._dispatcher: asyncio.Task | None = None
        self._reconnecting: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._sweeper: asyncio.TimerHandle | None = None

    # --- Membership ------------------------------------------------------------------

    async def follow(self, member: Member, groups: list[str]) -> None:
        """Deliver the frames of `groups` to `member` from now on. With Redis,
        returns once the subscriptions are confirmed, so a snapshot read after
        this call misses no frame published after it."""
        for group in groups:
            self.members.setdefault(group, set()).add(member)
            self.empty_since.pop(group, None)
        if kv.redis_url():
            await self._subscribe(groups)
        else:
            self._ensure_dispatcher()

    def unfollow(self, member: Member, groups: list[str]) -> None:
        now = time.monotonic()
        for group in groups:
            members = self.members.get(group)
            if members is None:
                continue
            members.discard(member)
            if not members:
                del self.members[group]
                self.empty_since[group] = now
        self._schedule_sweep()

    # --- Delivery ----------------------------------------------------------------------

    async def deliver(self, group: str, event: dict[str, Any]) -> None:
        for member in list(self.members.get(group, ())):
            try:
                await member.frame_deliver(event)
            except Exception:  # one broken socket must not stop the others
                logger.exception("frame delivery to a member of %s failed", group)

    def deliver_local(self, groups: list[str], event: dict[str, Any]) -> None:
        self.local.put_nowait((groups, event))
        self._ensure_dispatcher()

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = self.loop.create_task(self._dispatch_local())

    async def _dispatch_local(self) -> None:
        while True:
            groups, event = await self.local.get()
            for group in groups:
                await self.deliver(group, event)

    # --- Redis pub/sub -------------------------------------------------------------------

    async def _subscribe(self, groups: list[str]) -> None:
        """Subscribe to the channels of `groups` not subscribed yet, in one
        command (a lock keeps concurrent callers off one half-made
        connection), and wait until Redis confirmed every one."""
        channels = [self.prefix + group for group in groups]
        async with self._lock:
            new = [channel for channel in channels if channel not in self._subscribed]
            if new:
                for channel in new:
                    self._subscribed[channel] = self.loop.create_future()
                try:
                    await self._connect()
                    await self._pubsub.subscribe(*new)
                except Exception:
                    for channel in new:
                        self._subscribed.pop(channel, None)
                    raise
                if self._reader is None or self._reader.done():
                    # Started after the first SUBSCRIBE: redis-py refuses to
                    # read a pub/sub that has none.
                    self._reader = self.loop.create_task(self._read(self._pubsub))
            waits = [asyncio.shield(self._subscribed[channel]) for channel in channels]
        await asyncio.wait_for(asyncio.gather(*waits), SUBSCRIBE_TIMEOUT)

    async def _connect(self) -> None:
        if self._pubsub is not None:
            return
        from django.conf import settings

        from core.redisconf import async_client

        client = async_client(settings.REDIS_TARGET, socket_keepalive=True)
        self._pubsub = client.pubsub()

    async def _read(self, pubsub) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "fan-out: Redis pub/sub connection lost; resubscribing", exc_info=True
                )
                self._reader = None
                self._reconnecting = self.loop.create_task(self._reconnect(pubsub))
                return
            if message is None:
                continue
            kind = message["type"]
            channel = message["channel"].decode()
            if kind == "message":
                await self.deliver(channel[len(self.prefix) :], _event(message["data"]))
            elif kind == "subscribe":
                confirmed = self._subscribed.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(True)

    async def _reconnect(self, broken) -> None:
        """Frames published while the connection was down are lost: after
        resubscribing, every member resyncs from the buffer."""
        self._pubsub = None
        self._subscribed.clear()
        try:
            await broken.aclose()
        except Exception:  # already broken: nothing to close cleanly
            logger.debug("fan-out: closing the broken pub/sub failed", exc_info=True)
        while True:
            await asyncio.sleep(RECONNECT_DELAY)
            try:
                await self._subscribe(list(self.members))
                break
            except Exception:
                logger.warning("fan-out: resubscribe failed; retrying", exc_info=True)
                self._pubsub = None
                self._subscribed.clear()
        members = {member for group in self.members.values() for member in group}
        for member in members:
            self.loop.create_task(member.frames_resync())

    def _schedule_sweep(self) -> None:
        if self._sweeper is None and self.empty_since:
            self._sweeper = self.loop.call_later(
                IDLE_UNSUBSCRIBE_SECONDS, lambda: self.loop.create_task(self._sweep())
            )

    async def _sweep(self) -> None:
        self._sweeper = None
        cutoff = time.monotonic() - IDLE_UNSUBSCRIBE_SECONDS
        idle = [
            g for g, since in self.empty_since.items() if since <= cutoff and g not in self.members
        ]
        for group in idle:
            del self.empty_since[group]
        async with self._lock:
            channels = [self.prefix + g for g in idle if self.prefix + g in self._subscribed]
            if channels and self._pubsub is not None:
                for channel in channels:
                    del self._subscribed[channel]
                try:
                    await self._pubsub.unsubscribe(*channels)
                except Exception:
                    logger.warning("fan-out: unsubscribe failed", exc_info=True)
        self._schedule_sweep()

    def close(self) -> None:
        for task in (self._reader, self._dispatcher, self._reconnecting):
            if task is not None and not task.done():
                task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The hub of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(loop)
    return found


def publish(
    groups: list[str], text: str, seq: int | None = None, control: str | None = None
) -> None:
    """Send an encoded frame to every member of `groups`, in every process.
    Callable from any thread; never raises (the frame is logged as lost)."""
    try:
        client = kv.sync_client()
        if client is not None:
            payload = _payload(seq, control, text)
            if len(groups) == 1:
                client.publish(_channel(groups[0]), payload)
            else:
                pipe = client.pipeline(transaction=False)
                for group in groups:
                    pipe.publish(_channel(group), payload)
                pipe.execute()
            return
        event = {"text": text, "seq": seq, "control": control}
        for loop, found in list(_hubs.items()):
            if not loop.is_closed():
                loop.call_soon_threadsafe(found.deliver_local, groups, event)
    except Exception:  # a broadcast must never break the write that caused it
        logger.exception("publish to %s failed", groups)


async def publish_async(
    groups: list[str], text: str, seq: int | None = None, control: str | None = None
) -> None:
    """`publish` for code on the event loop."""
    try:
        client = kv.async_client()
        if client is not None:
            payload = _payload(seq, control, text)
            pipe = client.pipeline(transaction=False)
            for group in groups:
                pipe.publish(_channel(group), payload)
            await pipe.execute()
            return
    except Exception:
        logger.exception("publish to %s failed", groups)
        return
    publish(groups, text, seq, control)


def reset_for_tests() -> None:
    for found in list(_hubs.values()):
        if not found.loop.is_closed():
            found.loop.call_soon_threadsafe(found.close)
    _hubs.clear()


class Wire:
    """Daphne's WebSocket protocol under a consumer's ASGI `send`: writes a
    frame framed once for every recipient (autobahn's `PreparedMessage`).

    Daphne calls an application with `send=partial(server.handle_reply,
    protocol)`; that shape is checked, not assumed, and anything else (another
    server, a middleware wrapping `send`, a test communicator) gets no wire.
    `write` does what `handle_reply` does for `websocket.send` on an open
    socket: nothing once Daphne counts the connection as gone."""

    __slots__ = ("connections", "protocol")

    def __init__(self, connections: dict, protocol: Any) -> None:
        self.connections = connections
        self.protocol = protocol

    @classmethod
    def under(cls, send: Any) -> Wire | None:
        if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
            return None
        server = getattr(send.func, "__self__", None)
        protocol = send.args[0]
        connections = getattr(server, "connections", None)
        if (
            getattr(send.func, "__name__", "") != "handle_reply"
            or not isinstance(connections, dict)
            or not hasattr(protocol, "sendPreparedMessage")
            or not hasattr(protocol, "STATE_OPEN")
        ):
            return None
        return cls(connections, protocol)

    def write(self, event: dict[str, Any]) -> None:
        details = self.connections.get(self.protocol)
        if details is None or details.get("disconnected"):
            return
        if self.protocol.state != self.protocol.STATE_OPEN:
            return
        self.protocol.sendPreparedMessage(wire_frame(event))


def wire_frame(event: dict[str, Any]):
    """The WebSocket frame of an event's text, built once per event (the hub
    hands one event dict to all its members)."""
    prepared = event.get("wire")
    if prepared is None:
        from autobahn.websocket.protocol import PreparedMessage

        # Server frames are not masked; never compressed (Daphne does not
        # negotiate permessage-deflate, and an uncompressed frame is valid
        # where it is negotiated).
        prepared = event["wire"] = PreparedMessage(
            event["text"].encode(), isBinary=False, applyMask=False, doNotCompress=True
        )
    return prepared


class FrameMember:
    """Mixin for consumers fed by the hub. It follows groups and holds frames
    while a snapshot or resync is being prepared, so that no frame reaches the
    client before the state it applies to, and routes client frames
    (`frames_receive`). Consumers implement `frame_forward(event)`,
    `_send_initial(after_seq)`, `frames_last_seq()`, `_pong(client_id, data)`
    and `_send_error(client_id, error)`."""

    frame_groups: tuple[str, ...] = ()
    _held: list | None = None
    _holds = 0
    _through = 0
    _wire: Wire | None | bool = False  # False: not looked up yet

    async def frames_write(self, event: dict[str, Any]) -> None:
        """Write an event's text to this socket: through Daphne's transport
        when there is one, else through the ASGI `send`. Either way the
        write is in program order with the consumer's other sends (Daphne's
        `handle_reply` writes synchronously too)."""
        wire = self._wire
        if wire is False:
            wire = self._wire = Wire.under(getattr(self, "base_send", None))
        if wire is not None:
            wire.write(event)
        else:
            await self.send(text_data=event["text"])

    async def frames_follow(self, groups: list[str]) -> None:
        current = self.frame_groups
        found = hub()
        found.unfollow(self, [group for group in current if group not in groups])
        await found.follow(self, [group for group in groups if group not in current])
        self.frame_groups = tuple(groups)

    def frames_unfollow(self) -> None:
        if self.frame_groups:
            hub().unfollow(self, list(self.frame_groups))
        self.frame_groups = ()

    def frames_hold(self) -> None:
        """Keep arriving frames until the matching `frames_release` (holds nest)."""
        self._holds += 1
        if self._held is None:
            self._held = []

    async def frames_release(self, through_seq: int | None = None) -> None:
        """Forward what arrived while held, skipping sequenced frames the
        client already has (seq <= through_seq, the seq of what was just sent)."""
        if through_seq is not None:
            self._through = max(self._through, through_seq)
        self._holds = max(0, self._holds - 1)
        # Frames arriving meanwhile join the list, in order; a forwarded frame
        # that holds again (a seat change) stops the loop until its own release.
        while self._holds == 0 and self._held:
            event = self._held.pop(0)
            seq = event.get("seq")
            if seq and seq <= self._through:
                continue
            await self.frame_forward(event)
        if self._holds == 0:
            self._held = None

    async def frame_deliver(self, event: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        await self.frame_forward(event)

    async def frames_catch_up(self, after_seq: int | None) -> None:
        """Send what the client missed after `after_seq` (or a snapshot), with
        frames that arrive meanwhile held until it has gone out."""
        self.frames_hold()
        try:
            await self._send_initial(after_seq)
        finally:
            await self.frames_release(self.frames_last_seq())

    async def frames_resync(self) -> None:
        """Frames may have been lost (the hub's Redis connection broke): send
        what this client missed since the last frame it was given."""
        await self.frames_catch_up(self.frames_last_seq())

    async def frames_receive(
        self, text_data: str | None, bytes_data: bytes | None, actions: Mapping[str, Any]
    ) -> tuple[Any, str | None, dict] | None:
        """The common start of a consumer's `receive`: parse the client frame
        (malformed JSON or a bad shape gets an `error` frame, the socket stays
        open), answer `ping` (the consumer's `_pong`) and `resync`, and look the
        type up in `actions` (an unknown type gets `unknown_type`). Returns
        `(action, client_id, data)`, or None when nothing is left to do."""
        try:
            frame = client_frame_parse(text_data, bytes_data)
        except ApplicationError as error:
            await self._send_error(None, error)
            return None
        frame_type, client_id, data = frame["type"], frame.get("id"), frame.get("data") or {}
        try:
            if frame_type == "ping":
                await self._pong(client_id, data)
                return None
            if frame_type == "resync":
                seq = data.get("seq")
                await self.frames_catch_up(
                    seq if isinstance(seq, int) and not isinstance(seq, bool) else None
                )
                return None
        except ServerBusyError as error:  # the database is down: the client retries
            await self._send_error(client_id, error)
            return None
        action = actions.get(frame_type)
        if action is None:
            await self._send_error(
                client_id,
                ValidationError(f"Unknown frame type '{frame_type}'.", code="unknown_type"),
            )
            return None
        return action, client_id, data

    # Implemented by the consumer:

    async def _pong(self, client_id: str | None, data: dict) -> None:
        raise NotImplementedError

    async def _send_error(self, client_id: str | None, error: Exception) -> None:
        raise NotImplementedError

    async def frame_forward(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _send_initial(self, after_seq: int | None) -> None:
        raise NotImplementedError

    def frames_last_seq(self) -> int:
        raise NotImplementedError
