"""core/wsauth.py: who a WebSocket is, from the Django session cookie, by
Django's own rules. (The busy database path is in tests/core/test_dbfailure.py.)"""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from core import wsauth

pytestmark = pytest.mark.django_db


def _session_key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.session.session_key


def test_a_logged_in_session_is_its_user(learner):
    assert wsauth._user_for_session(_session_key(learner)) == learner


@pytest.mark.parametrize("key", [None, "", "no-such-session-key"])
def test_no_or_an_unknown_session_is_anonymous(key):
    assert wsauth._user_for_session(key).is_anonymous


def test_a_password_change_elsewhere_locks_the_old_session_out(learner):
    key = _session_key(learner)
    learner.set_password("another-horse-battery")
    learner.save()
    assert wsauth._user_for_session(key).is_anonymous


async def test_the_middleware_reads_the_session_cookie_and_hands_on_only_the_user(monkeypatch):
    asked = []
    user = object()

    def resolve(key):
        asked.append(key)
        return user

    monkeypatch.setattr(wsauth, "_user_for_session", resolve)
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)
        await receive()
        await send({"type": "websocket.accept"})

    cookie = f"other=1; {settings.SESSION_COOKIE_NAME}=the-key; csrftoken=z".encode()
    communicator = WebsocketCommunicator(
        wsauth.SessionAuthMiddleware(inner), "/ws/live/1/", headers=[(b"cookie", cookie)]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert asked == ["the-key"]
    assert seen["user"] is user
    assert "session" not in seen
    await communicator.disconnect()
