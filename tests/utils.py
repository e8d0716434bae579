"""Helpers for WebSocket tests."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore


@database_sync_to_async
def session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Client:
    """A WebSocket client of the live classroom, as a browser would be."""

    def __init__(self, communicator: WebsocketCommunicator, name: str = "") -> None:
        self.communicator = communicator
        self.name = name
        self._ids = 0
        # Frames that arrived before a request's reply (a broadcast may beat
        # its ack): kept for the next receive, as a real client would.
        self.pending: list[dict] = []

    @classmethod
    async def connect(
        cls,
        application,
        path: str,
        user=None,
        name: str = "",
        origin: bytes = b"http://localhost",
        host: bytes | None = None,
        headers: list[tuple[bytes, bytes]] = (),
        scheme: str = "ws",
    ):
        # A browser sends the page's origin and the Host it connects to (by
        # default the page's own); the Origin check compares both
        # (core/wsorigin.py). `scheme` is the socket's: ws, or wss over TLS.
        host = host if host is not None else urlsplit(origin.decode()).netloc.encode()
        headers = [(b"origin", origin), (b"host", host), *headers]
        if user is not None:
            headers.append((b"cookie", (await session_cookie(user)).encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        communicator.scope["scheme"] = scheme
        connected, code = await communicator.connect(timeout=10)
        client = cls(communicator, name)
        client.connected = connected
        client.close_code = code
        return client

    async def send(
        self, frame_type: str, data: dict | None = None, frame_id: str | None = None
    ) -> str:
        self._ids += 1
        frame_id = frame_id or f"{self.name}-{self._ids}"
        await self.communicator.send_json_to(
            {"type": frame_type, "id": frame_id, "data": data or {}}
        )
        return frame_id

    async def receive(self, timeout: float = 3.0) -> dict:
        if self.pending:
            return self.pending.pop(0)
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def receive_until(self, predicate, timeout: float = 5.0) -> tuple[dict, list[dict]]:
        """The first frame matching predicate, and the frames seen before it."""
        seen = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name}: no matching frame; saw {[f.get('type') for f in seen]}"
                )
            frame = await self.receive(timeout=remaining)
            if predicate(frame):
                return frame, seen
            seen.append(frame)

    async def request(
        self, frame_type: str, data: dict | None = None, frame_id: str | None = None
    ) -> dict:
        """Send and wait for this frame's ack or error."""
        sent = await self.send(frame_type, data, frame_id)
        reply, before = await self.receive_until(
            lambda f: f.get("type") in ("ack", "error") and f.get("id") == sent
        )
        self.pending.extend(before)
        return reply

    async def drain(self, timeout: float = 0.3) -> list[dict]:
        """Every frame that arrives until `timeout` passes in silence.
        (receive_from's timeout would cancel the application; this does not.)"""
        frames, self.pending = self.pending, []
        while not await self.communicator.receive_nothing(timeout=timeout):
            frames.append(await self.receive())
        return frames

    async def close(self) -> None:
        await self.communicator.disconnect()


def page_origin(socket_url: str) -> str:
    """The Origin a browser sends for a socket its page opened: the same
    host and port (the Origin check compares scheme, host and port)."""
    parts = urlsplit(socket_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
