"""The naive baseline of bench/live_fanout.py: a Channels consumer written the
way the Channels tutorial writes a chat room, served by Daphne like Roundtable.

    python -m daphne -b 127.0.0.1 -p PORT bench._naive_asgi:application

Same URL, same session-cookie authentication and Origin check, same access
check and the same snapshot as Roundtable (`access_live_session`,
`session_snapshot_get`), the same database and channel layer (settings). What
differs is the fan-out, which is the thing measured:

- one group per session: every change is one `group_send` of a dict to the
  whole session, and every consumer `json.dumps` it for its own socket;
- table chat is sent to the whole session too and each consumer drops what is
  not for its table (after receiving and decoding it);
- no coalescing: every join (`presence.changed`) and every reaction
  (`reaction.sent`) is its own broadcast to everyone;
- no seq, no frame buffer, no idempotency claim, no row lock, no learning
  events: its write path is *cheaper* than Roundtable's (one UPDATE or INSERT
  per action), which flatters the baseline.

A benchmark helper, not part of the application.
"""

from __future__ import annotations

import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_application = get_asgi_application()

from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.core.serializers.json import DjangoJSONEncoder  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

from classroom.access import access_live_session  # noqa: E402
from classroom.models import ChatMessage, LiveSession  # noqa: E402
from classroom.selectors import session_snapshot_get  # noqa: E402
from config.asgi import websocket_application  # noqa: E402
from core.errors import ApplicationError  # noqa: E402

MODES = {"lecture", "table_talk", "podium"}
REACTIONS = {"thumbs_up", "thumbs_down", "clap", "laugh", "confused", "slower", "faster"}


class NaiveLiveConsumer(AsyncWebsocketConsumer):
    access = None

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        try:
            self.access = await database_sync_to_async(access_live_session)(
                user=self.scope["user"], session_id=self.session_id
            )
        except ApplicationError:
            await self.close(code=4403)
            return
        self.group = f"naive.{self.session_id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(session_snapshot_get)(access=self.access)
        await self.send(
            text_data=json.dumps({"type": "snapshot", "data": snapshot}, cls=DjangoJSONEncoder)
        )
        user = self.access.user
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "naive.event",
                "event": "presence.changed",
                "data": {"user": {"id": user.pk, "name": user.name}, "present": True},
            },
        )

    async def disconnect(self, code: int) -> None:
        if self.access is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.access is None:
            return
        frame = json.loads(text_data or "{}")
        kind, frame_id, data = frame.get("type"), frame.get("id"), frame.get("data") or {}
        if kind == "ping":
            await self.send(text_data=json.dumps({"type": "pong", "id": frame_id}))
            return
        event = None
        result = None
        if kind == "mode.set" and self.access.is_staff and data.get("mode") in MODES:
            event = {
                "type": "naive.event",
                "event": "mode.changed",
                "data": await database_sync_to_async(self._mode_set)(data["mode"]),
            }
        elif kind == "chat.send" and self.access.table_id is not None:
            payload = await database_sync_to_async(self._chat_send)(str(data.get("body", "")))
            event = {
                "type": "naive.event",
                "event": "chat.posted",
                "data": payload,
                "table_id": self.access.table_id,
            }
            result = {"message_id": payload["id"]}
        elif kind == "reaction.send" and data.get("kind") in REACTIONS:
            event = {
                "type": "naive.event",
                "event": "reaction.sent",
                "data": {"user_id": self.access.user.pk, "kind": data["kind"]},
            }
        if event is None:
            await self.send(
                text_data=json.dumps(
                    {"type": "error", "id": frame_id, "data": {"code": "unsupported"}}
                )
            )
            return
        await self.channel_layer.group_send(self.group, event)
        ack = {"type": "ack", "id": frame_id}
        if result is not None:
            ack["data"] = result
        await self.send(text_data=json.dumps(ack))

    def _mode_set(self, mode: str) -> dict:
        now = timezone.now()
        LiveSession.objects.filter(pk=self.session_id).update(
            mode=mode, mode_table=None, mode_changed_at=now, updated_at=now
        )
        return {
            "mode": mode,
            "table_id": None,
            "podium_addresses_all": False,
            "changed_at": now.isoformat(),
        }

    def _chat_send(self, body: str) -> dict:
        user = self.access.user
        message = ChatMessage.objects.create(
            session_id=self.session_id,
            channel="table",
            table_id=self.access.table_id,
            author=user,
            body=body[:2000],
        )
        return {
            "id": message.pk,
            "channel": "table",
            "table_id": message.table_id,
            "author": {"id": user.pk, "name": user.name},
            "body": message.body,
            "created_at": message.created_at.isoformat(),
            "deleted": False,
        }

    async def naive_event(self, event: dict) -> None:
        table_id = event.get("table_id")
        if table_id is not None and not self.access.is_staff and table_id != self.access.table_id:
            return  # table chat of another table: received and decoded for nothing
        await self.send(text_data=json.dumps({"type": event["event"], "data": event["data"]}))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_application,
        "websocket": websocket_application(
            [path("ws/live/<int:session_id>/", NaiveLiveConsumer.as_asgi())]
        ),
    }
)
