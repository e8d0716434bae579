"""WebSocket authentication from the Django session cookie, resolved once.

Channels' `AuthMiddlewareStack` keeps, for every open socket, a session
object, a lazy user, a wrapper around `send` (to save a modified session on
HTTP responses) and three copies of the scope. A WebSocket here never changes
the session, so this middleware reads the session and the user once, at the
handshake, and leaves only `scope["user"]`: about 2 KB less per idle
connection (docs/performance.md). The rules are Django's own
(`django.contrib.auth.get_user`: the session's auth hash must match, so a
password change or logout elsewhere locks the socket out on its next
connect).

A class connecting at once resolves its cookies in batches (`USERS`, a
group commit: two queries for every session and user that arrived meanwhile).
A batch only answers the plain case, a stored session of the database
engine naming an active user of the model backend whose auth hash matches;
any other cookie (unknown, expired, another backend, a hash to migrate or a
mismatch, whose session Django flushes) goes through `get_user` alone."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from core.asyncdb import db_call
from core.errors import CLOSE_TRY_AGAIN, ServerBusyError
from core.rooms.batching import GroupCommit

_DB_ENGINE = "django.contrib.sessions.backends.db"


def _user_for_session(session_key: str | None):
    if not session_key:
        return AnonymousUser()
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))


def _users_for_sessions(_key, session_keys: list) -> list:
    """The users of several session cookies at once (see the module's text):
    one outcome per key, in order."""
    if len(session_keys) == 1 or settings.SESSION_ENGINE != _DB_ENGINE:
        return [_user_for_session(key) for key in session_keys]
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    stored = dict(
        Session.objects.filter(
            session_key__in={key for key in session_keys if key}, expire_date__gt=timezone.now()
        ).values_list("session_key", "session_data")
    )
    user_model = get_user_model()
    decoded: dict[str, tuple] = {}
    for key, data in stored.items():
        session = SessionStore().decode(data)
        backend = session.get(BACKEND_SESSION_KEY)
        if backend not in settings.AUTHENTICATION_BACKENDS:
            continue
        if import_string(backend) is not ModelBackend:
            continue
        try:
            user_id = user_model._meta.pk.to_python(session[SESSION_KEY])
        except Exception:  # noqa: S112 (a malformed session: get_user decides)
            continue
        decoded[key] = (user_id, session.get(HASH_SESSION_KEY))
    users = {
        user.pk: user
        for user in user_model._default_manager.filter(
            pk__in={user_id for user_id, _hash in decoded.values()}
        )
    }
    backend = ModelBackend()
    outcomes = []
    for key in session_keys:
        found = decoded.get(key)
        user = users.get(found[0]) if found else None
        if (
            user is not None
            and backend.user_can_authenticate(user)
            and found[1]
            and constant_time_compare(found[1], user.get_session_auth_hash())
        ):
            outcomes.append(user)
        else:
            outcomes.append(_user_for_session(key))
    return outcomes


# Cookies of sockets connecting at once, resolved together (a class at 9:00).
USERS = GroupCommit(
    _users_for_sessions,
    max_items=lambda: settings.JOIN_BATCH_MAX if settings.JOIN_BATCH else 1,
)


async def _user_load(session_key: str | None):
    if not session_key:
        return AnonymousUser()
    if not settings.JOIN_BATCH:
        return await db_call(_user_for_session)(session_key)
    return await USERS.call("users", session_key)


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
            user = await _user_load(key)
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
