"""WebSocket authentication from the Django session cookie, resolved once.

Channels' `AuthMiddlewareStack` keeps, for every open socket, a session
object, a lazy user, a wrapper around `send` (to save a modified session on
HTTP responses) and three copies of the scope. A WebSocket here never changes
the session, so this middleware reads the session and the user once, at the
handshake, and leaves only `scope["user"]`: about 2 KB less per idle
connection (docs/performance.md). The rules are Django's own
(`django.contrib.auth.get_user`: the session's auth hash must match, so a
password change or logout elsewhere locks the socket out on its next
connect)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from core.asyncdb import db_call
from core.errors import CLOSE_TRY_AGAIN, ServerBusyError


def _user_for_session(session_key: str | None):
    if not session_key:
        return AnonymousUser()
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))


class SessionAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookie = b""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookie = value
                break
        key = parse_cookie(cookie.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
        try:
            user = await db_call(_user_for_session)(key)
        except ServerBusyError as error:
            await _refuse_busy(receive, send, error)
            return None
        return await self.inner({**scope, "user": user}, receive, send)


async def _refuse_busy(receive, send, error: ServerBusyError) -> None:
    """The database could not say who this is: accept, send the `server_busy`
    error frame the consumers send, and close with 4503 (try again later). A
    refused handshake would tell the client nothing."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    frame = {"type": "error", "id": None, "data": error.as_dict()}
    await send({"type": "websocket.send", "text": json.dumps(frame)})
    await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
