"""The per-user notification socket: /ws/notifications/<user_id>/
(docs/realtime.md, "Notification socket").

The room kernel (core/rooms/consumer.py) runs it: each user is a room of
their own, which only they may join. It sends a snapshot (unread count,
newest notifications), then `notification.*` frames; the bell may mark
notifications read over it."""

from __future__ import annotations

import time

from core.rooms.actions import Action
from core.rooms.consumer import RoomConsumer
from notifications import events
from notifications.access import access_notification, access_notification_stream
from notifications.selectors import stream_seq_get, stream_snapshot_get
from notifications.services.notifications import notification_read, notifications_read_all
from notifications.services.sending import embedded_sender_ensure


def read(room: NotificationConsumer, data: dict) -> dict:
    notification = access_notification(user=room.access.user, notification_id=data.get("id"))
    return {"read": notification_read(notification=notification)}


def read_all(room: NotificationConsumer, data: dict) -> dict:
    return {"count": notifications_read_all(user=room.access.user)}


# Both are idempotent by themselves (reading twice changes nothing).
ACTIONS: dict[str, Action] = {
    "notification.read": Action(read, once=False),
    "notification.read_all": Action(read_all, once=False),
}


class NotificationConsumer(RoomConsumer):
    url_kwarg = "user_id"
    connection_prefix = "notifications"
    streams = events.STREAMS
    actions = ACTIONS
    client_actions = None  # no action needs a claim (see ACTIONS)
    scope_field = "user"

    def access_get(self, user, room_id: int):
        return access_notification_stream(user=user, user_id=room_id)

    def snapshot_get(self, access) -> dict:
        return stream_snapshot_get(access=access)

    def head_seq(self, room_id: int) -> int | None:
        return stream_seq_get(room_id)

    async def member_join(self) -> None:
        """No presence (a bell is not a room anyone sees); without a beat the
        server loop sends due notifications itself."""
        embedded_sender_ensure()

    async def member_leave(self) -> None:
        """No presence."""

    def pong_data(self, data: dict) -> dict:
        return {"server_time": time.time(), "t": data.get("t")}
