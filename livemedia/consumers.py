"""The media signalling relay: /ws/media/<session_id>/ (docs/media.md).

Browsers (and the aiortc test participants) never talk to Janus: Janus's API
needs the API secret, which only Django holds. Each connection owns one Janus
session with a publisher handle (joined into the session's room, publishing
the user's camera and microphone once) and, when there is something to
receive, one subscriber handle whose streams Django picks from the room mode
(`policy.audible_sources`). A client never names what it receives; it may ask
for a subset (`subscribe` with `user_ids`), which is refused if any is not
allowed. A mode change (`services.media_mode_applied`) reaches every
connection through the `media.<session>` group; each unsubscribes what is no
longer allowed and subscribes what now is, on the same PeerConnections.

Client → server: `{"type", "id"?, "data"}`; answered with `ack`/`error` like
the live socket. Server → client: `media.*` frames (no seq: media state is
re-sent on reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from classroom.access import access_live_session
from classroom.events import encode
from core import fanout
from core.asyncdb import DbCallDispatch, db_call
from core.errors import (
    ApplicationError,
    ConflictError,
    PermissionDeniedError,
    ValidationError,
    close_code_for,
)
from livemedia import events, policy, recording, services
from livemedia.conf import FIX_COMMAND, LEARNER_MEDIA_OFF, media_conf
from livemedia.janus import JanusError, gateway, gateway_ready
from livemedia.state import room_state_for

logger = logging.getLogger(__name__)
# The media group's messages (livemedia/events.py) and their handlers.
MEDIA_MESSAGES = {
    events.MEDIA_APPLY: "media_apply",
    "media.recording": "media_recording",
    "media.force_mute": "media_force_mute",
    "media.unlock": "media_unlock",
}

FRAME_MAX_BYTES = 64_000  # SDP offers are a few kB
ANSWER_TIMEOUT = 10.0
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class MediaConsumer(DbCallDispatch, AsyncWebsocketConsumer):
    access = None

    # --- Connection ------------------------------------------------------------

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.janus_session: int | None = None
        self.publisher: int | None = None
        self.subscriber: int | None = None
        self.subscription_id = 0
        self.feed_id: str | None = None
        self.private_id = None
        self.publishers: dict[str, dict] = {}  # feed id → publisher info, from Janus
        self.subscribed: set[str] = set()
        self.requested: set[int] | None = None  # a client's narrower choice of people
        self.published = False
        self.publisher_streams: list[dict] = []
        self.subscriber_streams: list[dict] = []
        self.muted = {"audio": False, "video": False}
        self.low_bandwidth = False
        self.record_file: str | None = None
        self.answered = asyncio.Event()
        self.answered.set()
        self.apply_lock = asyncio.Lock()
        self.closed = False
        self.recovering: asyncio.Task | None = None
        self.state: policy.RoomState | None = None
        self.inbox: asyncio.Queue = asyncio.Queue()  # the media group's messages, in order
        self.inbox_task: asyncio.Task | None = None
        self.capture: tuple[int, int] | None = None
        try:
            self.access = await db_call(access_live_session)(
                user=self.scope["user"], session_id=self.session_id
            )
        except ApplicationError as error:
            await self.accept()
            await self._send_error(None, error)
            await self.close(
                code=close_code_for(error, forbidden=CLOSE_FORBIDDEN, not_found=CLOSE_NOT_FOUND)
            )
            return
        self.user_id = self.access.user.pk
        self.group = services.media_group(self.session_id)
        await fanout.hub().follow(self, [self.group])
        await self.accept()
        state = await db_call(policy.room_state_get)(self.session_id)
        self.state = state
        self.capture = await db_call(recording.recording_capture_get)(self.session_id)
        if not media_conf().enabled:
            await self._unavailable("Audio and video are turned off (JANUS_ENABLED=false).")
            return
        try:
            await self._janus_join()
        except JanusError as error:
            logger.warning("media unavailable for session %s: %s", self.session_id, error)
            await self._media_lost(
                "The media server (Janus) is not running, so audio and video are off."
            )
            return
        await self._media_ready()

    async def _media_config(self) -> dict:
        state = self.state
        return {
            "user_id": self.user_id,
            "is_staff": self.access.is_staff,
            "may_publish": self._may_publish(state),
            "ice_servers": services.ice_servers_for(self.user_id),
            "mute_locked": services.mute_locked(self.session_id, self.user_id),
            "receives": sorted(policy.audible_sources(state, self.user_id)),
            "recording": await db_call(recording.recording_state_get)(self.session_id),
        }

    async def _media_ready(self) -> None:
        """Janus joined: tell the client (publish now, or again) and subscribe."""
        await self._send("media.config", await self._media_config())
        await self._apply(self.state)

    async def _media_lost(self, reason: str) -> None:
        """Janus is unreachable or went away: every PeerConnection of this
        socket is dead. Say so (the client drops them and keeps the socket),
        tell staff, and rejoin by ourselves as soon as Janus answers again."""
        self.janus_session = self.publisher = self.subscriber = None
        self.publishers = {}
        self.subscribed = set()
        self.published = False
        self.record_file = None
        self.answered.set()
        await self._unavailable(reason, retrying=True)
        await services.media_health_report(self.session_id, up=False)
        if self.recovering is None or self.recovering.done():
            self.recovering = asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        while not self.closed:
            await gateway_ready()
            if self.closed:
                return
            try:
                self.state = await db_call(policy.room_state_get)(self.session_id)
                await self._janus_join()
            except JanusError as error:  # went away again, or refused: wait and retry
                logger.info("media rejoin for session %s failed: %s", self.session_id, error)
                self.janus_session = None
                await asyncio.sleep(1.0)
                continue
            logger.info("media back for user %s in session %s", self.user_id, self.session_id)
            await services.media_health_report(self.session_id, up=True)
            await self._send("media.config", await self._media_config())
            await self._apply_safely()  # a refusal here must not end the task silently
            return

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.recovering is not None:
            self.recovering.cancel()
        if self.inbox_task is not None:
            self.inbox_task.cancel()
        if self.access is None:
            return
        fanout.hub().unfollow(self, [self.group])
        if self.janus_session is not None:
            connection, _control = gateway()
            # Destroying the Janus session hangs up both PeerConnections at once.
            await connection.session_destroy(self.janus_session)
            self.janus_session = None

    def _may_publish(self, state: policy.RoomState) -> bool:
        return self.access.may_participate and policy.may_publish(state, self.user_id)

    async def _unavailable(self, reason: str, *, retrying: bool = False) -> None:
        """Staff learn why and how to fix it; learners get one plain line."""
        extra = {"retrying": True} if retrying else {}
        if not self.access.is_staff:
            await self._send("media.unavailable", {"reason": LEARNER_MEDIA_OFF, "fix": "", **extra})
            return
        await self._send("media.unavailable", {"reason": reason, "fix": FIX_COMMAND, **extra})

    async def _janus_join(self) -> None:
        connection, control = gateway()
        room = services.room_id_for(self.session_id)
        exists = await control.call({"request": "exists", "room": room})
        if not exists.get("exists"):
            try:
                await control.call(services.room_create_body(self.session_id))
            except JanusError as error:
                if error.code != 427:  # created meanwhile by another connection
                    raise
        self.janus_session = await connection.session_create()
        self.publisher = await connection.attach(self.janus_session, self._on_publisher_event)
        self.feed_id = services.feed_id_new(self.user_id)
        data, _ = await connection.message(
            self.janus_session,
            self.publisher,
            {
                "request": "join",
                "ptype": "publisher",
                "room": room,
                "id": self.feed_id,
                "display": self.access.user.name[:60],
            },
            asynchronous=True,
        )
        self.private_id = data.get("private_id")
        for publisher in data.get("publishers") or []:
            self.publishers[publisher["id"]] = publisher

    # --- Janus events ------------------------------------------------------------------

    async def _on_publisher_event(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        if kind == "gateway_lost":
            self.janus_session = None
            if not self.closed:
                # The socket stays: media comes back on it when Janus does.
                await self._media_lost("The connection to the media server was lost.")
            return
        if kind in ("webrtcup", "hangup", "media", "slowlink"):
            await self._send(
                "media.state",
                {"pc": "publisher", "event": kind, "reason": message.get("reason")},
            )
            return
        data = (message.get("plugindata") or {}).get("data") or {}
        changed = False
        for publisher in data.get("publishers") or []:
            self.publishers[publisher["id"]] = publisher
            changed = True
        for key in ("unpublished", "leaving"):
            gone = data.get(key)
            if isinstance(gone, str) and gone in self.publishers:
                self.publishers.pop(gone, None)
                # Janus already dropped that feed from our subscription (and
                # renegotiates by itself): nothing to unsubscribe.
                self.subscribed.discard(gone)
                changed = True
        if data.get("videoroom") in ("talking", "stopped-talking"):
            feed = data.get("id")
            if feed in self.subscribed or feed == self.feed_id:
                await self._send(
                    events.SPEAKING,
                    {
                        "user_id": services.feed_user(feed),
                        "speaking": data["videoroom"] == "talking",
                    },
                )
        if changed:
            asyncio.ensure_future(self._apply_safely())

    async def _on_subscriber_event(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        if kind in ("webrtcup", "hangup", "media", "slowlink"):
            await self._send("media.state", {"pc": "subscriber", "event": kind})
            return
        data = (message.get("plugindata") or {}).get("data") or {}
        jsep = message.get("jsep")
        if jsep is not None and data.get("videoroom") in ("updated", "attached"):
            # An offer Janus made on its own (a publisher's streams changed).
            await self._offer(jsep, data.get("streams") or [])

    # --- The media group (fan-out hub member) -------------------------------------------

    def frame_deliver_now(self, event: dict) -> bool:
        """A message of the session's media group (livemedia/events.py): queued
        and handled in order by this connection's own task, so that the hub
        never waits for a Janus round trip."""
        if not self.closed:
            self.inbox.put_nowait(event["text"])
            if self.inbox_task is None or self.inbox_task.done():
                self.inbox_task = asyncio.ensure_future(self._inbox_run())
        return True

    async def frame_deliver(self, event: dict) -> None:
        self.frame_deliver_now(event)

    async def frames_resync(self) -> None:
        """The hub's Redis connection broke and came back: a change may have
        been missed meanwhile, so re-read the room and say the recording state."""
        if self.closed:
            return
        self.state, self.capture = await room_state_for(self.session_id, None)
        await self._apply_safely()
        await self._send(
            "media.recording", await db_call(recording.recording_state_get)(self.session_id)
        )

    async def _inbox_run(self) -> None:
        while not self.inbox.empty() and not self.closed:
            text = self.inbox.get_nowait()
            try:
                message = json.loads(text)
                handler = MEDIA_MESSAGES.get(message.get("type"))
                if handler is not None:
                    await getattr(self, handler)(message)
            except Exception:  # one bad message must not stop the next ones
                logger.exception("media message failed for user %s", getattr(self, "user_id", None))

    # --- Policy -------------------------------------------------------------------------

    async def media_apply(self, event: dict) -> None:
        """Media group message from services.media_mode_applied: re-read the room (once
        per process for all its connections) and re-apply the policy."""
        self.state, self.capture = await room_state_for(self.session_id, event.get("nonce"))
        await self._apply_safely()

    async def media_force_mute(self, event: dict) -> None:
        if event.get("user_id") != self.user_id:
            return
        await self._mute({"audio": True}, by_staff=True)
        await self._send("media.muted", {"audio": True, "locked": bool(event.get("locked"))})

    async def media_unlock(self, event: dict) -> None:
        if event.get("user_id") == self.user_id:
            await self._send("media.muted", {"audio": self.muted["audio"], "locked": False})

    async def media_recording(self, event: dict) -> None:
        await self._send("media.recording", event.get("data") or {})

    async def _apply_safely(self) -> None:
        try:
            await self._apply()
        except (JanusError, ApplicationError) as error:
            logger.warning("media apply failed for user %s: %s", self.user_id, error)

    async def _apply(self, state: policy.RoomState | None = None) -> None:
        if self.closed or self.janus_session is None:
            return
        async with self.apply_lock:
            if self.closed or self.janus_session is None:
                return
            # Between changes the room state is the one read at the last change:
            # publishers joining (a storm at class start) cost no queries.
            state = state or self.state
            allowed = policy.audible_sources(state, self.user_id)
            if self.requested is not None:
                allowed = allowed & self.requested
            desired = {
                feed
                for feed, info in self.publishers.items()
                if feed != self.feed_id
                and services.feed_user(feed) in allowed
                and (info.get("streams") or info.get("audio_codec") or info.get("video_codec"))
            }
            await self._apply_recording(state)
            add, remove = desired - self.subscribed, self.subscribed - desired
            if not add and not remove:
                return
            connection, _control = gateway()
            if self.subscriber is None:
                if not add:
                    self.subscribed = set()
                    return
                await self._subscriber_create(sorted(add))
                return
            await self._wait_answer()
            try:
                data, jsep = await self._update(connection, sorted(add), sorted(remove))
            except JanusError as error:
                # Never leave a stream flowing that is no longer allowed: drop the
                # whole subscription and start a fresh one.
                logger.info("subscription update refused (%s): resubscribing", error)
                await self._subscriber_drop()
                if desired:
                    await self._subscriber_create(sorted(desired))
                return
            self.subscribed = desired
            if jsep is not None:
                await self._offer(jsep, data.get("streams") or [])

    async def _update(self, connection, add: list[str], remove: list[str]):
        body: dict[str, Any] = {"request": "update"}
        if add:
            body["subscribe"] = [{"feed": feed} for feed in add]
        if remove:
            body["unsubscribe"] = [{"feed": feed} for feed in remove]
        self.answered.clear()
        data, jsep = await connection.message(
            self.janus_session, self.subscriber, body, asynchronous=True
        )
        if jsep is None:
            self.answered.set()
        return data, jsep

    async def _subscriber_create(self, feeds: list[str]) -> None:
        connection, _control = gateway()
        self.subscriber = await connection.attach(self.janus_session, self._on_subscriber_event)
        self.subscription_id += 1
        self.answered.clear()
        data, jsep = await connection.message(
            self.janus_session,
            self.subscriber,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": services.room_id_for(self.session_id),
                "private_id": self.private_id,
                "use_msid": False,
                "streams": [self._stream_request(feed) for feed in feeds],
            },
            asynchronous=True,
        )
        self.subscribed = set(feeds)
        await self._offer(jsep, data.get("streams") or [])

    def _stream_request(self, feed: str) -> dict:
        stream: dict[str, Any] = {"feed": feed}
        if self.low_bandwidth:
            stream.update({"substream": 0, "temporal": 0})
        return stream

    async def _subscriber_drop(self) -> None:
        if self.subscriber is None:
            return
        connection, _control = gateway()
        await connection.detach(self.janus_session, self.subscriber)
        self.subscriber = None
        self.subscribed = set()
        self.answered.set()
        await self._send("media.offer", {"subscription": self.subscription_id, "closed": True})

    async def _wait_answer(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.answered.wait(), ANSWER_TIMEOUT)

    async def _offer(self, jsep: dict | None, streams: list[dict]) -> None:
        if jsep is None:
            return
        self.subscriber_streams = [s for s in streams if s.get("active", True)]
        self.answered.clear()
        await self._send(
            "media.offer",
            {
                "subscription": self.subscription_id,
                "jsep": jsep,
                "streams": [
                    {
                        "mid": stream.get("mid"),
                        "type": stream.get("type"),
                        "active": stream.get("active", True),
                        "user_id": services.feed_user(stream.get("feed_id") or ""),
                        "name": stream.get("feed_display"),
                    }
                    for stream in streams
                ],
            },
        )

    async def _apply_recording(self, state: policy.RoomState) -> None:
        """Record this user's publisher while a recording runs and they are heard by all."""
        if not self.published:
            return
        capture = self.capture
        wanted = None
        if capture and self.user_id in policy.heard_by_all(state):
            recording_id, span_id = capture
            wanted = (
                f"rec{recording_id}-s{span_id}-u{self.user_id}-{self.feed_id.rsplit('-', 1)[1]}"
            )
        if wanted == self.record_file:
            return
        connection, _control = gateway()
        body: dict[str, Any] = {
            "request": "configure",
            "record": wanted is not None,
            # Rooms lock recording to the room secret, which only Django knows.
            "secret": services.room_secret_for(self.session_id),
        }
        if wanted:
            body["filename"] = wanted
        await connection.message(self.janus_session, self.publisher, body, asynchronous=True)
        self.record_file = wanted

    # --- Client frames ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.access is None:
            return
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        client_id = None
        try:
            if len(raw) > FRAME_MAX_BYTES:
                raise ValidationError("The frame is too large.", code="frame_too_large")
            try:
                frame = json.loads(raw)
            except ValueError:
                raise ValidationError("Not JSON.", code="malformed_frame") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ValidationError("A frame is an object with a type.", code="malformed_frame")
            client_id = frame.get("id") if isinstance(frame.get("id"), str) else None
            data = frame.get("data") or {}
            if not isinstance(data, dict):
                raise ValidationError("'data' must be an object.", code="malformed_frame")
            handler = HANDLERS.get(frame["type"])
            if handler is None:
                raise ValidationError(f"Unknown frame type '{frame['type']}'.", code="unknown_type")
            if self.janus_session is None and frame["type"] not in JANUS_FREE:
                raise ConflictError("Audio and video are not available.", code="media_unavailable")
            result = await getattr(self, handler)(data)
        except ApplicationError as error:
            await self._send_error(client_id, error)
            return
        except JanusError as error:
            await self._send_error(
                client_id,
                ConflictError(f"The media server refused: {error.reason}", code="media_error"),
            )
            return
        reply: dict[str, Any] = {"type": "ack", "id": client_id}
        if result is not None:
            reply["data"] = result
        await self.send(text_data=json.dumps(reply))

    def _require_staff(self) -> None:
        if not self.access.is_staff:
            raise PermissionDeniedError("Only staff can do this.", code="forbidden")

    async def do_publish(self, data: dict) -> dict:
        if not self._may_publish(self.state):
            raise PermissionDeniedError("Observers cannot publish.", code="forbidden")
        jsep = _jsep(data, "offer")
        connection, _control = gateway()
        body: dict[str, Any] = {"request": "publish", "display": self.access.user.name[:60]}
        locked = services.mute_locked(self.session_id, self.user_id)
        reply, answer = await connection.message(
            self.janus_session, self.publisher, body, jsep, asynchronous=True
        )
        self.published = True
        self.publisher_streams = reply.get("streams") or []
        if locked:
            await self._mute({"audio": True}, by_staff=True)
        await self._apply_safely()
        return {"jsep": answer, "mute_locked": locked}

    async def do_trickle(self, data: dict) -> None:
        target = self.subscriber if data.get("pc") == "subscriber" else self.publisher
        candidate = data.get("candidate")
        if target is None or not isinstance(candidate, dict):
            raise ValidationError("Nothing to trickle to.", code="invalid")
        connection, _control = gateway()
        await connection.trickle(self.janus_session, target, candidate)

    async def do_answer(self, data: dict) -> None:
        if self.subscriber is None:
            raise ConflictError("No subscription to answer.", code="no_offer")
        if data.get("subscription") not in (None, self.subscription_id):
            return  # an answer to a subscription that was replaced
        jsep = _jsep(data, "answer")
        connection, _control = gateway()
        await connection.message(
            self.janus_session, self.subscriber, {"request": "start"}, jsep, asynchronous=True
        )
        self.answered.set()

    async def do_subscribe(self, data: dict) -> dict:
        """Receive only some of the people the mode allows (or all: `user_ids` null).
        Asking for anyone the mode does not allow is refused, and changes nothing."""
        user_ids = data.get("user_ids")
        state = self.state
        allowed = policy.audible_sources(state, self.user_id)
        if user_ids is None:
            self.requested = None
        else:
            if not isinstance(user_ids, list) or not all(
                isinstance(u, int) and not isinstance(u, bool) for u in user_ids
            ):
                raise ValidationError("'user_ids' is a list of user ids.", code="invalid")
            refused = sorted(set(user_ids) - allowed)
            if refused:
                raise PermissionDeniedError(
                    "You may not receive these people in the current mode.",
                    code="not_allowed",
                    details={"user_ids": refused},
                )
            self.requested = set(user_ids)
        await self._apply(state)
        return {"receives": sorted(allowed if self.requested is None else self.requested)}

    async def do_mute(self, data: dict) -> dict:
        wanted = {k: v for k, v in data.items() if k in ("audio", "video") and isinstance(v, bool)}
        if not wanted:
            raise ValidationError(
                "Give audio and/or video as true (muted) or false.", code="invalid"
            )
        if wanted.get("audio") is False and services.mute_locked(self.session_id, self.user_id):
            raise PermissionDeniedError(
                "The instructor muted you and locked your microphone.", code="mute_locked"
            )
        await self._mute(wanted)
        return dict(self.muted)

    async def _mute(self, wanted: dict[str, bool], by_staff: bool = False) -> None:
        self.muted.update(wanted)
        if not self.published:
            return
        streams = [
            {"mid": stream["mid"], "send": not self.muted[stream["type"]]}
            for stream in self.publisher_streams
            if stream.get("type") in wanted
        ]
        if streams:
            connection, _control = gateway()
            await connection.message(
                self.janus_session,
                self.publisher,
                {"request": "configure", "streams": streams},
                asynchronous=True,
            )

    async def do_quality(self, data: dict) -> dict:
        """Low-bandwidth mode: the lowest simulcast layer of every video."""
        low = data.get("low")
        if not isinstance(low, bool):
            raise ValidationError("'low' must be true or false.", code="invalid")
        self.low_bandwidth = low
        videos = [s["mid"] for s in self.subscriber_streams if s.get("type") == "video"]
        if self.subscriber is not None and videos:
            connection, _control = gateway()
            layer = 0 if low else 2
            await connection.message(
                self.janus_session,
                self.subscriber,
                {
                    "request": "configure",
                    "streams": [
                        {"mid": mid, "substream": layer, "temporal": layer} for mid in videos
                    ],
                },
                asynchronous=True,
            )
        return {"low": low}

    async def do_staff_mute(self, data: dict) -> None:
        self._require_staff()
        user_id = data.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ValidationError("'user_id' is required.", code="invalid")
        await services.staff_mute(self.session_id, user_id, locked=bool(data.get("lock", False)))

    async def do_staff_unlock(self, data: dict) -> None:
        self._require_staff()
        user_id = data.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ValidationError("'user_id' is required.", code="invalid")
        await services.staff_unlock(self.session_id, user_id)

    async def do_recording(self, data: dict) -> dict:
        """Staff: `{"action": "start"|"pause"|"resume"|"stop"}`."""
        self._require_staff()
        action = data.get("action")
        service = {
            "start": recording.recording_start,
            "pause": recording.recording_pause,
            "resume": recording.recording_resume,
            "stop": recording.recording_stop,
        }.get(action)
        if service is None:
            raise ValidationError("action: start, pause, resume or stop.", code="invalid")
        return await db_call(service)(session_id=self.session_id, actor=self.access.user)

    async def do_leave(self, data: dict) -> None:
        await self.close()

    # --- Output ---------------------------------------------------------------------------

    async def _send(self, frame_type: str, data: dict) -> None:
        if self.closed:
            return
        with contextlib.suppress(Exception):
            await self.send(text_data=encode({"type": frame_type, "data": data}))

    async def _send_error(self, client_id: str | None, error: ApplicationError) -> None:
        await self.send(
            text_data=encode({"type": "error", "id": client_id, "data": error.as_dict()})
        )


HANDLERS = {
    "publish": "do_publish",
    "trickle": "do_trickle",
    "answer": "do_answer",
    "subscribe": "do_subscribe",
    "mute": "do_mute",
    "quality": "do_quality",
    "staff.mute": "do_staff_mute",
    "staff.unlock": "do_staff_unlock",
    "recording": "do_recording",
    "leave": "do_leave",
}
JANUS_FREE = {"leave"}


def _jsep(data: dict, kind: str) -> dict:
    jsep = data.get("jsep")
    if (
        not isinstance(jsep, dict)
        or jsep.get("type") != kind
        or not isinstance(jsep.get("sdp"), str)
    ):
        raise ValidationError(f"'jsep' must be an SDP {kind}.", code="invalid")
    return {"type": kind, "sdp": jsep["sdp"]}
