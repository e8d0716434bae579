"""A database that cannot serve is answered 503 `server_busy`, never 500, on
every path a failure can take (tests/faults drives a real PostgreSQL)."""

from __future__ import annotations

import json
import sys

import pytest
from channels.testing import WebsocketCommunicator
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from core import dbfailure, wsauth
from core.asyncdb import db_call
from core.errors import ServerBusyError
from core.middleware import DatabaseUnavailableMiddleware
from core.views import server_error

REFUSED = OperationalError("connection to server failed: Connection refused")


def _busy_json(response) -> dict:
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    return json.loads(response.content)["error"]


def test_an_api_view_the_database_cannot_serve_answers_503_server_busy(
    client, learner, monkeypatch
):
    from courses.api import views

    def unreachable(self, request):
        raise REFUSED

    monkeypatch.setattr(views.MeApi, "get", unreachable)
    client.force_login(learner)
    assert _busy_json(client.get("/api/me/"))["code"] == "server_busy"


@pytest.mark.parametrize("path", ["/api/me/", "/"])
def test_loading_the_user_fails_with_503_before_any_view(rf: RequestFactory, path):
    class Unreachable:
        @property
        def is_authenticated(self):
            raise InterfaceError("connection already closed")

    def view(request):
        raise AssertionError("the view must not run")

    request = rf.get(path)
    request.user = Unreachable()
    response = DatabaseUnavailableMiddleware(view)(request)
    assert response.status_code == 503
    if path.startswith("/api/"):
        assert _busy_json(response)["code"] == "server_busy"
    else:
        assert response["Content-Type"].startswith("text/html")
        assert b"Try again" in response.content


def test_a_page_view_the_database_cannot_serve_answers_a_503_page(rf):
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/courses/1/"), REFUSED)
    assert response.status_code == 503 and b"Try again" in response.content
    assert middleware.process_exception(rf.get("/"), ValueError("a bug")) is None


def test_the_500_handler_turns_a_database_failure_into_503(rf):
    try:
        raise REFUSED
    except OperationalError:
        response = server_error(rf.get("/api/me/"))
    assert _busy_json(response)["code"] == "server_busy"
    assert sys.exc_info()[1] is None
    assert server_error(rf.get("/api/me/")).status_code == 500


@pytest.mark.django_db(transaction=True)
async def test_db_call_raises_server_busy_for_a_database_failure_only():
    def unreachable():
        raise REFUSED

    def buggy():
        raise ValueError("a bug")

    with pytest.raises(ServerBusyError) as caught:
        await db_call(unreachable)()
    assert caught.value.status_code == 503 and caught.value.code == "server_busy"
    with pytest.raises(ValueError):
        await db_call(buggy)()


@pytest.mark.django_db(transaction=True)
async def test_a_handshake_the_database_cannot_authenticate_is_closed_4503(monkeypatch):
    def unreachable(key):
        raise REFUSED

    async def inner(scope, receive, send):
        raise AssertionError("the consumer must not run")

    monkeypatch.setattr(wsauth, "_user_for_session", unreachable)
    communicator = WebsocketCommunicator(
        wsauth.SessionAuthMiddleware(inner), "/ws/live/1/", headers=[(b"cookie", b"sessionid=x")]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    frame = await communicator.receive_json_from(5)
    assert frame == {
        "type": "error",
        "id": None,
        "data": {
            "code": "server_busy",
            "message": "The server is busy. Try again in a few seconds.",
        },
    }
    assert await communicator.receive_output(5) == {"type": "websocket.close", "code": 4503}


def test_only_database_unavailability_counts():
    assert dbfailure.database_unavailable(REFUSED)
    assert dbfailure.database_unavailable(InterfaceError("connection already closed"))
    assert not dbfailure.database_unavailable(ValueError("a bug"))
