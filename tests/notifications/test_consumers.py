"""The notification socket (/ws/notifications/<user_id>/) through the routed
ASGI app: Origin check and session auth like the other rooms, the bell's
count live, resync, and nobody else's stream."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from config.asgi import application
from notifications.selectors import stream_seq_get
from notifications.services.notifications import notification_read
from tests.notifications.conftest import create
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]


def path(user) -> str:
    return f"/ws/notifications/{user.pk}/"


async def test_the_count_updates_live_and_the_bell_marks_read(kind, user, other_user):
    await database_sync_to_async(create)(user, "before")
    client = await Client.connect(application, path(user), user, name="nora")
    assert client.connected
    snapshot = await client.receive()
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["unread_count"] == 1
    assert [n["title"] for n in snapshot["data"]["notifications"]] == ["Title before"]
    created = await database_sync_to_async(create)(user, "live", title="Two cards are due")
    frame, _ = await client.receive_until(lambda f: f["type"] == "notification.created")
    assert frame["data"]["unread_count"] == 2
    assert frame["data"]["notification"]["title"] == "Two cards are due"
    assert frame["data"]["notification"]["id"] == created.pk
    # Read elsewhere (another tab, the API): the count follows.
    await database_sync_to_async(notification_read)(notification=created)
    frame, _ = await client.receive_until(lambda f: f["type"] == "notification.read")
    assert frame["data"] == {"ids": [created.pk], "all": False, "unread_count": 1}
    # Marked read over the socket (the bell's own action).
    first = snapshot["data"]["notifications"][0]["id"]
    reply = await client.request("notification.read", {"id": first})
    assert reply == {"type": "ack", "id": reply["id"], "data": {"read": True}}
    frame, _ = await client.receive_until(lambda f: f["type"] == "notification.read")
    assert frame["data"]["unread_count"] == 0
    assert (await client.request("notification.read_all"))["data"] == {"count": 0}
    # Someone else's id is not found, and stays unread.
    theirs = await database_sync_to_async(create)(other_user, "a")
    reply = await client.request("notification.read", {"id": theirs.pk})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"
    await database_sync_to_async(theirs.refresh_from_db)()
    assert theirs.read_at is None
    # A reconnect with ?seq= gets only what it missed.
    last_seq = await database_sync_to_async(stream_seq_get)(user.pk)  # every frame was seen
    await client.close()
    await database_sync_to_async(create)(user, "missed")
    again = await Client.connect(application, f"{path(user)}?seq={last_seq}", user, name="nora")
    missed = await again.receive()
    assert missed["type"] == "notification.created"
    assert missed["data"]["notification"]["title"] == "Title missed"
    done = await again.receive()
    assert done == {"type": "resync.done", "data": {"from": last_seq, "count": 1}}
    await again.close()


async def test_another_users_stream_anonymous_and_foreign_origins_are_refused(
    kind, user, other_user
):
    intruder = await Client.connect(application, path(other_user), user, name="nora")
    assert intruder.connected
    error = await intruder.receive()
    assert error["type"] == "error" and error["data"]["code"] == "not_found"
    closed = await intruder.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4404}
    # Nothing created for the other user reaches the refused socket.
    await database_sync_to_async(create)(other_user, "private")
    assert await intruder.communicator.receive_nothing(timeout=0.3)
    anonymous = await Client.connect(application, path(user), None, name="anon")
    error = await anonymous.receive()
    assert error["data"]["code"] == "not_authenticated"
    closed = await anonymous.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4403}
    foreign = await Client.connect(application, path(user), user, origin=b"https://evil.example")
    assert not foreign.connected
