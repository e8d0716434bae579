"""A small asyncio client of Janus's WebSocket API (Django's only link to Janus).

One connection per process (`gateway()`), multiplexing every Janus session the
process owns. Requests carry the API secret; a request answered with `ack` is
resolved by the `event` carrying the same transaction. Other events (webrtcup,
hangup, media, plugin notifications without a transaction) go to the handler
registered for the handle that sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from livemedia.conf import media_conf

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 25  # Janus drops a session after 60 s of silence
RECONNECT_FIRST_DELAY = 0.5  # after Janus went away, probe again after this …
RECONNECT_MAX_DELAY = 5.0  # … doubling up to this
REQUEST_TIMEOUT = 10.0
VIDEOROOM = "janus.plugin.videoroom"

EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


class JanusError(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnavailable(JanusError):
    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)


def plugin_data(reply: dict[str, Any]) -> dict[str, Any]:
    """The plugin's answer in a success/event reply; raise its error, if any."""
    data = (reply.get("plugindata") or {}).get("data") or {}
    if "error_code" in data or data.get("videoroom") == "event" and "error" in data:
        raise JanusError(data.get("error_code"), data.get("error", "plugin error"))
    return data


class JanusConnection:
    """One WebSocket to Janus. Safe to share between coroutines of one loop."""

    def __init__(self, url: str, api_secret: str) -> None:
        self.url = url
        self.api_secret = api_secret
        self._socket = None
        self._pending: dict[str, asyncio.Future] = {}
        self._acked: set[str] = set()
        self._handlers: dict[int, EventHandler] = {}
        self._sessions: set[int] = set()
        self._reader: asyncio.Task | None = None
        self._keepalive: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    @property
    def connected(self) -> bool:
        return self._socket is not None and self._reader is not None and not self._reader.done()

    async def connect(self) -> None:
        async with self._lock:
            if self.connected:
                return
            import websockets

            try:
                self._socket = await asyncio.wait_for(
                    websockets.connect(
                        self.url,
                        subprotocols=["janus-protocol"],
                        max_size=8 * 1024 * 1024,
                        ping_interval=None,
                        open_timeout=5,
                    ),
                    timeout=6,
                )
            except (TimeoutError, OSError, Exception) as error:  # noqa: BLE001
                self._socket = None
                raise JanusUnavailable(f"cannot reach Janus at {self.url}: {error}") from error
            self._reader = asyncio.ensure_future(self._read())
            self._keepalive = asyncio.ensure_future(self._keepalives())

    async def close(self) -> None:
        for task in (self._reader, self._keepalive):
            if task:
                task.cancel()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        self._socket = None
        self._fail_pending(JanusUnavailable("connection closed"))

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                await self._dispatch(message)
        except Exception as error:  # noqa: BLE001
            logger.warning("janus connection lost: %s", error)
        finally:
            self._fail_pending(JanusUnavailable("connection to Janus lost"))
            handlers = list(self._handlers.values())
            self._handlers.clear()
            self._sessions.clear()
            for handler in handlers:
                await _call(handler, {"janus": "gateway_lost"})

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        transaction = message.get("transaction")
        future = self._pending.get(transaction) if transaction else None
        if future is not None:
            if kind == "ack" and transaction in self._acked:
                return  # an asynchronous request: its event follows with the same transaction
            if not future.done():
                future.set_result(message)
            return
        sender = message.get("sender")
        handler = self._handlers.get(sender) if sender else None
        if handler is not None:
            await _call(handler, message)

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            for session_id in list(self._sessions):
                with contextlib.suppress(Exception):
                    await self._send({"janus": "keepalive", "session_id": session_id})

    async def _send(self, message: dict[str, Any]) -> str:
        transaction = message.setdefault("transaction", f"t{next(self._ids)}{secrets.token_hex(4)}")
        message["apisecret"] = self.api_secret
        if self._socket is None:
            raise JanusUnavailable("not connected to Janus")
        await self._socket.send(json.dumps(message))
        return transaction

    async def request(
        self, message: dict[str, Any], *, wait_event: bool = False, timeout: float = REQUEST_TIMEOUT
    ) -> dict[str, Any]:
        """Send and wait for the reply; with wait_event, an `ack` is skipped and
        the asynchronous `event` with the same transaction is the reply."""
        await self.connect()
        loop = asyncio.get_running_loop()
        transaction = f"t{next(self._ids)}{secrets.token_hex(4)}"
        message["transaction"] = transaction
        future = loop.create_future()
        self._pending[transaction] = future
        if wait_event:
            self._acked.add(transaction)
        try:
            await self._send(message)
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError as error:
            raise JanusError(None, f"no answer from Janus to {message.get('janus')}") from error
        finally:
            self._pending.pop(transaction, None)
            self._acked.discard(transaction)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(error.get("code"), error.get("reason", "error"))
        return reply

    # --- Sessions and handles ---------------------------------------------------

    async def session_create(self) -> int:
        reply = await self.request({"janus": "create"})
        session_id = reply["data"]["id"]
        self._sessions.add(session_id)
        return session_id

    async def session_destroy(self, session_id: int) -> None:
        self._sessions.discard(session_id)
        with contextlib.suppress(JanusError):
            await self.request({"janus": "destroy", "session_id": session_id}, timeout=3)

    async def attach(self, session_id: int, handler: EventHandler | None = None) -> int:
        reply = await self.request(
            {"janus": "attach", "session_id": session_id, "plugin": VIDEOROOM}
        )
        handle_id = reply["data"]["id"]
        if handler is not None:
            self._handlers[handle_id] = handler
        return handle_id

    async def detach(self, session_id: int, handle_id: int) -> None:
        self._handlers.pop(handle_id, None)
        with contextlib.suppress(JanusError):
            await self.request(
                {"janus": "detach", "session_id": session_id, "handle_id": handle_id}, timeout=3
            )

    async def message(
        self,
        session_id: int,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        *,
        asynchronous: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A plugin request. Returns (plugin data, jsep or None)."""
        message: dict[str, Any] = {
            "janus": "message",
            "session_id": session_id,
            "handle_id": handle_id,
            "body": body,
        }
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self.request(message, wait_event=asynchronous)
        return plugin_data(reply), reply.get("jsep")

    async def trickle(self, session_id: int, handle_id: int, candidate: dict[str, Any]) -> None:
        await self._send(
            {
                "janus": "trickle",
                "session_id": session_id,
                "handle_id": handle_id,
                "candidate": candidate,
            }
        )

    async def hangup(self, session_id: int, handle_id: int) -> None:
        with contextlib.suppress(JanusError):
            await self.request(
                {"janus": "hangup", "session_id": session_id, "handle_id": handle_id}, timeout=3
            )


async def _call(handler: EventHandler, message: dict[str, Any]) -> None:
    try:
        result = handler(message)
        if asyncio.iscoroutine(result):
            await result
    except Exception:
        logger.exception("janus event handler failed")


class ControlHandle:
    """A process-wide VideoRoom handle for room administration (create, kick,
    list, destroy): it needs the admin key or room secret, never a browser."""

    def __init__(self, connection: JanusConnection) -> None:
        self.connection = connection
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self._lock = asyncio.Lock()

    async def ensure(self) -> tuple[int, int]:
        async with self._lock:
            if (
                self.session_id is None
                or not self.connection.connected
                or self.session_id not in self.connection._sessions
            ):
                self.session_id = await self.connection.session_create()
                self.handle_id = await self.connection.attach(self.session_id)
            return self.session_id, self.handle_id

    async def call(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id, handle_id = await self.ensure()
        data, _jsep = await self.connection.message(session_id, handle_id, body)
        return data


_gateways: dict[int, tuple[JanusConnection, ControlHandle]] = {}


def gateway() -> tuple[JanusConnection, ControlHandle]:
    """The connection (and admin handle) of this process's running event loop."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    found = _gateways.get(key)
    if found is None or found[0]._reader is not None and found[0]._reader.done():
        conf = media_conf()
        connection = JanusConnection(conf.url, conf.api_secret)
        found = (connection, ControlHandle(connection))
        # Drop gateways of loops that are gone (tests create one loop per test).
        for stale in [k for k in _gateways if k != key]:
            _gateways.pop(stale, None)
        _gateways[key] = found
    return found


_recoveries: dict[int, asyncio.Task] = {}


async def gateway_ready() -> None:
    """Return once this process is connected to Janus again. One probe loop per
    process (event loop) serves every waiting connection: a class of 150
    sockets costs one connection attempt per interval, not 150."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    task = _recoveries.get(key)
    if task is None or task.done():
        for stale in [k for k in _recoveries if k != key]:
            _recoveries.pop(stale, None)
        task = _recoveries[key] = loop.create_task(_reconnect())
    await asyncio.shield(task)


async def _reconnect() -> None:
    delay = RECONNECT_FIRST_DELAY
    while True:
        connection, _control = gateway()
        try:
            await connection.connect()
            return
        except JanusUnavailable:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
