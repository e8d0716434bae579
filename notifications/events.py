"""Typed realtime frames of the per-user notification socket
(`/ws/notifications/<user_id>/`): the only caller of core.realtime for this
app. docs/realtime.md ("Notification socket") lists every frame.

Each user is a room of their own (room id = user id) numbered by their
`NotificationStream` row, so a reconnect with `?seq=` resyncs like any room.
Frames go on the `all` stream of that room, which only its user can join."""

from __future__ import annotations

from typing import Any, TypedDict

from django.urls import reverse

from core.rooms import frames
from core.rooms.frames import frame_type
from core.rooms.streams import Streams
from notifications.models import Notification, NotificationStream

ROOM = "notifications"
STREAMS = Streams("notifications")

emit = frames.emitter(STREAMS)


class NotificationData(TypedDict):
    id: int
    kind: str
    title: str
    body: str
    url: str
    open_url: str
    course_id: int | None
    shown_at: Any
    read: bool


class CreatedData(TypedDict):
    notification: NotificationData
    unread_count: int


class ReadData(TypedDict):
    ids: list[int]
    all: bool
    unread_count: int


class WithdrawnData(TypedDict):
    id: int
    unread_count: int


CREATED = frame_type(ROOM, "notification.created", CreatedData)
READ = frame_type(ROOM, "notification.read", ReadData)
WITHDRAWN = frame_type(ROOM, "notification.withdrawn", WithdrawnData)


def notification_data(notification: Notification) -> NotificationData:
    """The public shape of one notification (frames, snapshot, API)."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "open_url": reverse("notifications:open", args=[notification.pk]),
        "course_id": notification.course_id,
        "shown_at": notification.shown_at,
        "read": notification.read_at is not None,
    }


def _stream_locked(user_id: int) -> NotificationStream:
    NotificationStream.objects.get_or_create(user_id=user_id)
    return NotificationStream.objects.select_for_update().get(user_id=user_id)


def notification_created(notification: Notification, *, unread_count: int) -> None:
    """Inside the transaction that showed it; sent after commit."""
    row = _stream_locked(notification.user_id)
    emit(
        row,
        "notification.created",
        {"notification": notification_data(notification), "unread_count": unread_count},
    )


def notifications_read(
    user_id: int, *, ids: list[int], everything: bool, unread_count: int
) -> None:
    row = _stream_locked(user_id)
    emit(row, "notification.read", {"ids": ids, "all": everything, "unread_count": unread_count})


def notification_withdrawn(user_id: int, *, notification_id: int, unread_count: int) -> None:
    row = _stream_locked(user_id)
    emit(row, "notification.withdrawn", {"id": notification_id, "unread_count": unread_count})
