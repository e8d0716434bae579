"""Protocol limits of the live socket, through the routed ASGI app: the frame
size is counted in UTF-8 bytes, and the Origin check compares scheme, host and
port (core/protocol.py, core/wsorigin.py, docs/realtime.md)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from classroom.models import ChatMessage, LiveSession, SessionState
from config.asgi import application
from core.fanout import CLOSE_TOO_SLOW, SLOW_CLIENT_LAG
from core.protocol import FRAME_MAX_BYTES
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest.fixture
def session(live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return live_session


async def _join(session, user, **kwargs) -> Client:
    client = await Client.connect(application, f"/ws/live/{session.pk}/", user, **kwargs)
    assert client.connected, kwargs
    assert (await client.receive())["type"] == "snapshot"
    return client


def _chat(body: str, frame_id: str = "c1") -> str:
    return json.dumps(
        {"type": "chat.send", "id": frame_id, "data": {"channel": "class", "body": body}},
        ensure_ascii=False,
    )


async def test_the_frame_limit_counts_utf8_bytes_not_characters(session, learner):
    ann = await _join(session, learner)
    euros = _chat("€" * 15_000)  # 15,000 characters and 45,000 bytes
    assert len(euros) < FRAME_MAX_BYTES < len(euros.encode())
    await ann.communicator.send_to(text_data=euros)
    error = await ann.receive()
    assert error["type"] == "error" and error["data"]["code"] == "frame_too_large"
    # The same as a binary frame, and a binary frame that is not UTF-8.
    await ann.communicator.send_to(bytes_data=euros.encode())
    assert (await ann.receive())["data"]["code"] == "frame_too_large"
    await ann.communicator.send_to(bytes_data=b'{"type": "ping", "id": "\xff"}')
    assert (await ann.receive())["data"]["code"] == "malformed_frame"
    # Just under the limit in bytes is parsed (and refused by the chat rule).
    body = "€" * ((FRAME_MAX_BYTES - len(_chat("").encode())) // 3)
    assert len(_chat(body).encode()) <= FRAME_MAX_BYTES
    await ann.communicator.send_to(text_data=_chat(body, "c2"))
    reply = await ann.receive()
    assert reply["id"] == "c2" and reply["data"]["code"] == "message_too_long"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 0
    assert (await ann.request("chat.send", {"channel": "class", "body": "€ ok"}))["type"] == "ack"
    await ann.close()


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        (b"https://localhost", b"localhost", "ws"),  # https page, plain socket: another origin
        (b"http://localhost:8081", b"localhost:8000", "ws"),  # another port
        (b"http://localhost", b"localhost:8000", "ws"),  # no port is port 80
        (b"http://localhost:8000", b"localhost:8000", "wss"),  # http page, TLS socket
        (b"http://evil.example", b"evil.example", "ws"),  # not an allowed host
        (b"null", b"localhost", "ws"),  # a sandboxed page or a file
        (b"http://localhost:99999", b"localhost:99999", "ws"),  # no such port
    ],
)
async def test_an_origin_differing_in_scheme_host_or_port_is_refused(
    session, learner, origin, host, scheme
):
    client = await Client.connect(
        application, f"/ws/live/{session.pk}/", learner, origin=origin, host=host, scheme=scheme
    )
    assert not client.connected


async def test_the_pages_own_origin_is_accepted_in_dev_and_behind_a_tls_proxy(
    session, learner, settings
):
    dev = await _join(session, learner, origin=b"http://127.0.0.1:8000")
    await dev.close()
    tls = await _join(session, learner, origin=b"https://localhost", scheme="wss")
    await tls.close()
    # Behind nginx: Daphne speaks plain ws; the proxy says the page was https.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = await _join(
        session, learner, origin=b"https://localhost", headers=[(b"x-forwarded-proto", b"https")]
    )
    await proxied.close()
    plain = await Client.connect(
        application,
        f"/ws/live/{session.pk}/",
        learner,
        origin=b"https://localhost",
        headers=[(b"x-forwarded-proto", b"http")],
    )
    assert not plain.connected


async def test_trusted_origins_match_scheme_host_and_port(session, learner, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org", "https://*.roundtable.test:8443"]
    for origin in (b"https://app.example.org", b"https://eu.roundtable.test:8443"):
        client = await _join(session, learner, origin=origin, host=b"localhost")
        await client.close()
    for origin in (
        b"http://app.example.org",
        b"https://app.example.org:8443",
        b"https://eu.roundtable.test",
        b"https://roundtable.test.evil.example:8443",
    ):
        client = await Client.connect(
            application, f"/ws/live/{session.pk}/", learner, origin=origin, host=b"localhost"
        )
        assert not client.connected, origin


async def test_without_daphne_a_client_reporting_a_long_lag_twice_is_closed_as_too_slow(
    session, learner
):
    """The fallback where no transport buffer can be measured (any server
    but Daphne; here the in-process test server): the seq the client reports
    in its pings."""
    ann = await _join(session, learner)
    await ann.communicator.send_json_to({"type": "ping", "id": "p1", "data": {"seq": 0}})
    assert (await ann.receive())["type"] == "pong"  # not behind: nothing happens
    behind = -(SLOW_CLIENT_LAG + 1)  # more than SLOW_CLIENT_LAG frames behind the server
    await ann.communicator.send_json_to({"type": "ping", "id": "p2", "data": {"seq": behind}})
    assert (await ann.receive())["type"] == "pong"
    await ann.communicator.send_json_to({"type": "ping", "id": "p3", "data": {"seq": behind}})
    assert (await ann.receive())["type"] == "pong"
    closed = await ann.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_TOO_SLOW}
