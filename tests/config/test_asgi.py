"""The WebSocket stack of config/asgi.py: Origin checked, session authenticated."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.urls import path

from config.asgi import websocket_application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class WhoAmI(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        user = self.scope["user"]
        await self.send_json(
            {"authenticated": user.is_authenticated, "username": getattr(user, "username", "")}
        )


application = websocket_application([path("ws/whoami/", WhoAmI.as_asgi())])


@database_sync_to_async
def _session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


async def test_session_cookie_authenticates_the_socket(learner):
    cookie = await _session_cookie(learner)
    assert await _whoami(cookie) == {"authenticated": True, "username": learner.username}


async def test_foreign_origin_is_rejected():
    communicator = WebsocketCommunicator(
        application, "/ws/whoami/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_missing_origin_is_rejected():
    communicator = WebsocketCommunicator(application, "/ws/whoami/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_no_cookie_means_anonymous():
    communicator = WebsocketCommunicator(
        application,
        "/ws/whoami/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
    )
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["authenticated"] is False
    await communicator.disconnect()


async def _whoami(cookie: str) -> dict:
    communicator = WebsocketCommunicator(
        application,
        "/ws/whoami/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", cookie.encode()),
        ],
    )
    connected, _ = await communicator.connect()
    assert connected
    reply = await communicator.receive_json_from()
    await communicator.disconnect()
    return reply


async def test_a_password_change_elsewhere_locks_the_old_session_out(learner):
    cookie = await _session_cookie(learner)

    @database_sync_to_async
    def change_password():
        learner.set_password("a-new-long-passphrase")
        learner.save()

    await change_password()
    assert (await _whoami(cookie))["authenticated"] is False


async def test_an_unknown_or_garbled_session_cookie_is_anonymous():
    name = settings.SESSION_COOKIE_NAME
    assert (await _whoami(f"{name}=nosuchsession"))["authenticated"] is False
    assert (await _whoami(f'{name}="\\x00;;=='))["authenticated"] is False
