"""Typed realtime frames of the per-user notification socket
(`/ws/notifications/<user_id>/`): the only caller of core.realtime for this
app. docs/realtime.md ("Notification socket") lists every frame.

Each user is a room of their own (room id = user id) numbered by their
`NotificationStream` row, so a reconnect with `?seq=` resyncs like any room.
Frames go on the `all` stream of that room, which only its user can join."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypedDict

from django.db import transaction
from django.urls import reverse

from core.rooms import frames
from core.rooms.frames import frame_type
from core.rooms.streams import Streams
from notifications.models import Notification, NotificationStream
from notifications.selectors import unread_count_get

logger = logging.getLogger(__name__)

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
    row = NotificationStream.objects.select_for_update().filter(user_id=user_id).first()
    if row is None:  # the user's first frame
        NotificationStream.objects.get_or_create(user_id=user_id)
        row = NotificationStream.objects.select_for_update().get(user_id=user_id)
    return row


def _after_commit(user_id: int, send: Callable[[NotificationStream], None]) -> None:
    """After the caller's transaction commits, run `send(row)` (which emits one
    frame) in a short transaction of its own holding the user's stream row.
    So a service creating notifications for many learners (a plan for a
    class) never holds their stream rows until it ends, and two such services
    cannot deadlock on them. A frame that fails is logged; the bell's next
    snapshot (on reconnect) is right anyway."""

    def run() -> None:
        try:
            with transaction.atomic():
                send(_stream_locked(user_id))
        except Exception:
            logger.exception("notification frame for user %s failed", user_id)

    transaction.on_commit(run)


def notification_created(notification: Notification) -> None:
    """It appeared in the bell (sent after commit)."""

    def send(row: NotificationStream) -> None:
        # (Withdrawn meanwhile: its `notification.withdrawn` frame follows this one.)
        unread_count = unread_count_get(user_id=notification.user_id)
        emit(
            row,
            "notification.created",
            {"notification": notification_data(notification), "unread_count": unread_count},
        )

    _after_commit(notification.user_id, send)


def notifications_read(user_id: int, *, ids: list[int], everything: bool) -> None:
    def send(row: NotificationStream) -> None:
        unread_count = unread_count_get(user_id=user_id)
        emit(
            row, "notification.read", {"ids": ids, "all": everything, "unread_count": unread_count}
        )

    _after_commit(user_id, send)


def notification_withdrawn(user_id: int, *, notification_id: int) -> None:
    def send(row: NotificationStream) -> None:
        unread_count = unread_count_get(user_id=user_id)
        emit(row, "notification.withdrawn", {"id": notification_id, "unread_count": unread_count})

    _after_commit(user_id, send)
