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
import os
import time
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from autobahn.websocket.protocol import PreparedMessage
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from twisted.internet.tcp import Server as _TCP_SERVER

from core import kv
from core.errors import ApplicationError, ServerBusyError, ValidationError
from core.namespace import deployment_namespace
from core.protocol import client_frame_parse
from core.redisconf import async_client

logger = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 5.0
IDLE_UNSUBSCRIBE_SECONDS = 30.0  # a group without members keeps its subscription this long
RECONNECT_DELAY = 0.5
# Slow clients (docs/realtime.md). Daphne has no write backpressure: what a
# socket does not read piles up in its transport's buffer, in this process.
SLOW_CLIENT_MAX_BYTES = 1024 * 1024  # waiting to be written to one socket
SLOW_CLIENT_LAG = 300  # without a measurable buffer: frames the client is behind
CLOSE_TOO_SLOW = 4008
RESUBSCRIBE_RETRY = 0.2  # a follow whose connection broke tries again this often


def _is_connection_error(error: BaseException) -> bool:
    return isinstance(error, RedisConnectionError | RedisTimeoutError)


async def _close_quietly(pubsub) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # already broken: nothing to close cleanly
        logger.debug("fan-out: closing the broken pub/sub failed", exc_info=True)


class Member(Protocol):
    async def frame_deliver(self, event: dict[str, Any]) -> None: ...
    async def frames_resync(self) -> None: ...


def _channel(group: str) -> str:
    return f"roundtable:fan:{deployment_namespace()}:{group}"


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
        self._lock = asyncio.Lock()  # one writer of (un)subscribe commands
        self._pending: dict[str, asyncio.Future] = {}  # channels to SUBSCRIBE
        self._sender: asyncio.Task | None = None
        self.generation = 0  # of the pub/sub connection: see `confirmed`
        self._sweeper: asyncio.TimerHandle | None = None
        self.client_name = f"roundtable-fanout-{os.getpid()}-{id(self):x}"

    # --- Membership ------------------------------------------------------------------

    async def follow(self, member: Member, groups: list[str]) -> None:
        """Deliver the frames of `groups` to `member` from now on. With Redis,
        returns once the subscriptions are confirmed, so a snapshot read after
        this call misses no frame published after it."""
        for group in groups:
            self.members.setdefault(group, set()).add(member)
            self.empty_since.pop(group, None)
        if kv.redis_url():
            try:
                await self._subscribe(groups)
            except BaseException:
                self.unfollow(member, groups)
                raise
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
                # Most frames to most members need nothing awaited (a write
                # to the socket's transport): no coroutine per recipient.
                now = getattr(member, "frame_deliver_now", None)
                if now is not None and now(event):
                    continue
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
    #
    # Every pub/sub connection has a generation number. A subscription is
    # confirmed with the generation of the connection that confirmed it, and
    # `_subscribed` only holds subscriptions of the current connection: when
    # it breaks they are all dropped (the ones still waiting fail), so
    # `confirmed(groups)` is true only while every group is subscribed on the
    # live connection. A member whose state (snapshot or resync) was read
    # while that held for the current generation has missed nothing.

    def confirmed(self, groups: list[str] | tuple[str, ...]) -> bool:
        """Every group is subscribed, and confirmed, on the current connection
        (always true without Redis: local delivery loses nothing)."""
        if not kv.redis_url():
            return True
        for group in groups:
            found = self._subscribed.get(self.prefix + group)
            if (
                found is None
                or not found.done()
                or found.cancelled()
                or found.exception() is not None
                or found.result() != self.generation
            ):
                return False
        return True

    async def _subscribe(self, groups: list[str]) -> None:
        """Subscribe to the channels of `groups` not subscribed yet, in one
        command (a lock keeps concurrent callers off one half-made
        connection), and wait until Redis confirmed every one. A connection
        that breaks meanwhile is replaced and the subscription tried again,
        for up to SUBSCRIBE_TIMEOUT seconds."""
        deadline = self.loop.time() + SUBSCRIBE_TIMEOUT
        while True:
            try:
                await self._subscribe_once(groups, deadline)
                return
            except (TimeoutError, ConnectionError, OSError) as error:
                failure = error
            except Exception as error:  # redis.exceptions.ConnectionError and friends
                if not _is_connection_error(error):
                    raise
                failure = error
            if self.loop.time() + RESUBSCRIBE_RETRY >= deadline:
                raise ConnectionError(f"fan-out: cannot subscribe: {failure}") from failure
            await asyncio.sleep(RESUBSCRIBE_RETRY)

    async def _subscribe_once(self, groups: list[str], deadline: float) -> None:
        """Register the channels not subscribed yet and wait for Redis to
        confirm every one. The SUBSCRIBE commands go out from one task
        (`_send_subscribes`): a class connecting at once shares a few
        commands instead of queueing 150 of them one by one behind a lock
        (measured: half a second of a join storm's wait)."""
        channels = [self.prefix + group for group in groups]
        new = [channel for channel in channels if channel not in self._subscribed]
        for channel in new:
            future = self._subscribed[channel] = self.loop.create_future()
            self._pending[channel] = future
        if new and (self._sender is None or self._sender.done()):
            self._sender = self.loop.create_task(self._send_subscribes())
        waits = [asyncio.shield(self._subscribed[channel]) for channel in channels]
        await asyncio.wait_for(asyncio.gather(*waits), max(0.01, deadline - self.loop.time()))

    async def _send_subscribes(self) -> None:
        """SUBSCRIBE every registered channel still waiting, in as few
        commands as arrive while one is being written. A failure fails the
        waiting channels' futures (their callers retry: `_subscribe`)."""
        async with self._lock:
            while self._pending:
                batch = [
                    channel
                    for channel, future in self._pending.items()
                    if self._subscribed.get(channel) is future and not future.done()
                ]
                self._pending.clear()
                if not batch:
                    continue
                await self._connect()
                pubsub = self._pubsub
                try:
                    await pubsub.subscribe(*batch)
                except Exception as error:
                    failure = ConnectionError(f"fan-out: subscribe failed: {error}")
                    for channel in batch:
                        future = self._subscribed.pop(channel, None)
                        if future is not None and not future.done():
                            future.set_exception(failure)
                            future.exception()  # retrieved: its caller may have given up
                    if self._reader is None or self._reader.done():
                        # No reader will notice this connection is broken.
                        self._connection_lost(pubsub)
                    continue
                if self._reader is None or self._reader.done():
                    # Started after the first SUBSCRIBE: redis-py refuses to
                    # read a pub/sub that has none.
                    self._reader = self.loop.create_task(self._read(pubsub, self.generation))

    async def _connect(self) -> None:
        if self._pubsub is not None:
            return
        # Named, so that an operator (or a test) can tell this process's hub
        # from the other pub/sub connections in CLIENT LIST.
        client = async_client(
            settings.REDIS_TARGET, socket_keepalive=True, client_name=self.client_name
        )
        self._pubsub = client.pubsub()
        self.generation += 1

    async def _read(self, pubsub, generation: int) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "fan-out: Redis pub/sub connection lost; resubscribing", exc_info=True
                )
                self._connection_lost(pubsub)
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
                    confirmed.set_result(generation)

    def _connection_lost(self, pubsub) -> None:
        """Forget the subscriptions of a broken connection at once (callers
        waiting for a confirmation get an error and try again on a new one),
        then resubscribe and resync every member in the background."""
        if pubsub is not self._pubsub:
            return  # an older connection, already replaced
        self._pubsub = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            reader.cancel()
        for waiting in self._subscribed.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError("fan-out: pub/sub connection lost"))
                waiting.exception()  # retrieved: a waiter may have given up already
        self._subscribed.clear()
        self.loop.create_task(_close_quietly(pubsub))
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = self.loop.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        """Frames published while the connection was down are lost: after
        resubscribing, every member resyncs from the buffer. A member still
        preparing its first snapshot (or another resync) resyncs after it,
        never before, and not at all if that snapshot was read once its
        groups were confirmed on the new connection (FrameMember)."""
        while True:
            await asyncio.sleep(RECONNECT_DELAY)
            try:
                await self._subscribe(list(self.members))
                break
            except Exception:
                logger.warning("fan-out: resubscribe failed; retrying", exc_info=True)
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
            # Checked again: a member may have followed one of them meanwhile.
            channels = [
                self.prefix + g
                for g in idle
                if g not in self.members and self.prefix + g in self._subscribed
            ]
            if channels and self._pubsub is not None:
                for channel in channels:
                    del self._subscribed[channel]
                try:
                    await self._pubsub.unsubscribe(*channels)
                except Exception:
                    logger.warning("fan-out: unsubscribe failed", exc_info=True)
        self._schedule_sweep()

    def close(self) -> None:
        for task in (self._reader, self._dispatcher, self._reconnecting, self._sender):
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


def hub_close(loop: asyncio.AbstractEventLoop) -> None:
    """Stop the hub of `loop` (a test's own event loop, before closing it)."""
    found = _hubs.pop(loop, None)
    if found is not None:
        found.close()


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

    def buffered(self) -> int | None:
        """Bytes written to this socket that the client has not taken yet
        (they wait in the transport, in this process), or None when the
        transport does not say."""
        return transport_buffered(getattr(self.protocol, "transport", None))

    def write(self, event: dict[str, Any]) -> None:
        protocol = self.protocol
        details = self.connections.get(protocol)
        if details is None or details.get("disconnected"):
            return
        if protocol.state != protocol.STATE_OPEN:
            return
        prepared = wire_frame(event)
        if getattr(protocol, "_perMessageCompress", None) is None and not getattr(
            protocol, "send_queue", True
        ):
            if _write_now(getattr(protocol, "transport", None), prepared.payloadHybi):
                return
        protocol.sendPreparedMessage(prepared)


def _write_now(transport: Any, data: bytes) -> bool:
    """Hand a frame to the kernel at once when Twisted holds nothing for this
    socket, as asyncio's transports do: Twisted's own `write` buffers it,
    registers the socket for writing (an epoll_ctl), sends on the next turn
    of the loop and unregisters it (another epoll_ctl), for every frame of
    every recipient. A plain TCP connection only (not TLS), in order: with
    anything already waiting, or a send the kernel refuses, Twisted's `write`
    takes the frame (what the kernel did not take of it, or all of it) and
    its own error handling applies. False: the caller writes it as before."""
    if (
        type(transport) is not _TCP_SERVER
        or transport.TLS
        or not transport.connected
        or transport.disconnecting
        or transport._writeDisconnected
        or transport._tempDataLen
        or len(transport.dataBuffer) != transport.offset
    ):
        return False
    try:
        sent = transport.socket.send(data)
    except OSError:  # EAGAIN, or a broken socket: Twisted's path decides
        return False
    if sent < len(data):
        transport.write(data[sent:])
    return True


def transport_buffered(transport: Any) -> int | None:
    """The size of a transport's write buffer: asyncio's
    `get_write_buffer_size()`, or Twisted's (Daphne's, also on its asyncio
    reactor) buffered data: what `doWrite` has not handed to the kernel."""
    if transport is None:
        return None
    size = getattr(transport, "get_write_buffer_size", None)
    if callable(size):
        return size()
    data = getattr(transport, "dataBuffer", None)
    pending = getattr(transport, "_tempDataLen", None)
    if isinstance(data, bytes | bytearray | memoryview) and isinstance(pending, int):
        return len(data) - getattr(transport, "offset", 0) + pending
    return None


def wire_frame(event: dict[str, Any]):
    """The WebSocket frame of an event's text, built once per event (the hub
    hands one event dict to all its members)."""
    prepared = event.get("wire")
    if prepared is None:
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
    # The hub's connection generation under which the state last sent to the
    # client was read with every group confirmed (None: not known to be so).
    _covered: int | None = None
    _resync_due = False  # the hub asked for a resync while one was being prepared
    _too_slow = False  # closing with CLOSE_TOO_SLOW: nothing more is written
    _lagging_pings = 0

    def _frames_wire(self) -> Wire | None:
        wire = self._wire
        if wire is False:
            wire = self._wire = Wire.under(getattr(self, "base_send", None))
        return wire

    def frames_buffered(self) -> int | None:
        """Bytes waiting in this process to be written to the socket, or None
        where the server does not expose its transport (not Daphne)."""
        wire = self._frames_wire()
        return None if wire is None else wire.buffered()

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """Every write of the consumer (snapshots, acks, pongs) is counted
        against the slow-client bound, like the hub's frames."""
        if self._too_slow:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        await self._frames_check_buffered()

    async def _frames_check_buffered(self) -> None:
        buffered = self.frames_buffered()
        if buffered is not None and buffered > SLOW_CLIENT_MAX_BYTES:
            await self.frames_close_too_slow(f"{buffered} bytes waiting")

    async def frames_close_too_slow(self, why: str) -> None:
        """Drop a client that does not read what it is sent, before it grows
        this process's memory (it reconnects with ?seq= and catches up from
        the buffer or a snapshot). Daphne drops the connection, and its
        buffer, 1 s after the close frame if the client does not answer."""
        if self._too_slow:
            return
        self._too_slow = True
        logger.warning("closing a slow client (%s) with %s", why, CLOSE_TOO_SLOW)
        await self.close(code=CLOSE_TOO_SLOW)

    async def frames_lag_report(self, applied_seq: Any) -> None:
        """The fallback where the write buffer cannot be measured (servers
        other than Daphne): a client whose pings say it is more than
        SLOW_CLIENT_LAG frames behind what was forwarded, twice in a row, is
        closed as too slow. Under Daphne the buffer decides, not the client."""
        if self.frames_buffered() is not None:
            return
        behind = isinstance(applied_seq, int) and not isinstance(applied_seq, bool)
        if behind and self.frames_last_seq() - applied_seq > SLOW_CLIENT_LAG:
            self._lagging_pings += 1
        else:
            self._lagging_pings = 0
        if self._lagging_pings >= 2:
            await self.frames_close_too_slow(f"{self._lagging_pings} lagging pings")

    async def frames_write(self, event: dict[str, Any]) -> None:
        """Write an event's text to this socket: through Daphne's transport
        when there is one, else through the ASGI `send`. Either way the
        write is in program order with the consumer's other sends (Daphne's
        `handle_reply` writes synchronously too)."""
        if self._too_slow:
            return
        wire = self._frames_wire()
        if wire is not None:
            wire.write(event)
            await self._frames_check_buffered()
        else:
            await self.send(text_data=event["text"])

    async def frames_follow(self, groups: list[str]) -> None:
        current = self.frame_groups
        found = hub()
        found.unfollow(self, [group for group in current if group not in groups])
        await found.follow(self, [group for group in groups if group not in current])
        self.frame_groups = tuple(groups)
        # Callers read their snapshot right after this: it covers every frame
        # published while this connection lasts.
        self._frames_mark_covered()

    def _frames_mark_covered(self) -> None:
        found = hub()
        self._covered = found.generation if found.confirmed(self.frame_groups) else None

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
            if self._resync_due:
                # Asked for while the snapshot (or a resync) was prepared:
                # runs after it, never before.
                self._resync_due = False
                await self.frames_resync()

    def frame_deliver_now(self, event: dict[str, Any]) -> bool:
        """Deliver `event` without awaiting anything, when that is all it
        takes: not held, no control word, a Daphne wire, not closing. Writes
        it as `frame_forward` would (`frame_forward_now`) and returns True;
        False leaves it to `frame_deliver`."""
        if self._held is not None or self._too_slow or event.get("control"):
            return False
        if self._covered_by_sent(event):
            return True
        wire = self._frames_wire()
        if wire is None or not self.frame_forward_now(event):
            return False
        wire.write(event)
        buffered = wire.buffered()
        if buffered is not None and buffered > SLOW_CLIENT_MAX_BYTES:
            # As frames_close_too_slow, with the close itself scheduled.
            self._too_slow = True
            logger.warning(
                "closing a slow client (%s bytes waiting) with %s", buffered, CLOSE_TOO_SLOW
            )
            asyncio.ensure_future(self.close(code=CLOSE_TOO_SLOW))
        return True

    def frame_forward_now(self, event: dict[str, Any]) -> bool:
        """The member's bookkeeping of a frame about to be written straight
        to its socket (a room notes its seq); False: use `frame_forward`."""
        return False

    def _covered_by_sent(self, event: dict[str, Any]) -> bool:
        """A sequenced frame the snapshot or catch-up last sent already holds
        (seq <= its seq). Its PUBLISH can come after the release: a write
        commits, the snapshot is read, and only then does the writer's thread
        publish. Only the sent state's seq counts, not the highest seq
        forwarded: two writes may publish out of seq order, and the client
        orders them by `prev`."""
        seq = event.get("seq")
        return bool(seq) and seq <= self._through

    async def frame_deliver(self, event: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        if self._covered_by_sent(event):
            return
        await self.frame_forward(event)

    async def frames_catch_up(self, after_seq: int | None) -> None:
        """Send what the client missed after `after_seq` (or a snapshot), with
        frames that arrive meanwhile held until it has gone out."""
        self.frames_hold()
        try:
            self._frames_mark_covered()
            await self._send_initial(after_seq)
        finally:
            await self.frames_release(self.frames_last_seq())

    async def frames_resync(self) -> None:
        """Frames may have been lost (the hub's Redis connection broke): send
        what this client missed since the last frame it was given.

        Never before the snapshot: while one (or another resync) is being
        prepared, the resync waits for it (`frames_release`). Not at all when
        the state last sent was read with every group of this socket
        confirmed on the hub's current connection: it misses nothing (a socket
        that connected while the hub resubscribed)."""
        if self._holds > 0:
            self._resync_due = True
            return
        found = hub()
        if self._covered is not None and self._covered == found.generation:
            if found.confirmed(self.frame_groups):
                return
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
