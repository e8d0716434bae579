"""The live-session WebSocket: /ws/live/<session_id>/ (docs/realtime.md).

Authenticate, check access, join groups, send a snapshot (or the missed
frames), dispatch client frames to services, forward group frames. No rules
and no group_send here."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
import weakref
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from classroom import events
from classroom.access import LiveAccess, access_live_session
from classroom.selectors import session_snapshot_get
from classroom.services import chat, polls, reactions, room, sessions
from classroom.services.common import action_apply, session_live_known, session_live_require
from core import realtime
from core.asyncdb import db_call
from core.errors import (
    CLOSE_TRY_AGAIN,
    ApplicationError,
    PermissionDeniedError,
    ServerBusyError,
    ValidationError,
    close_code_for,
)
from core.fanout import FrameMember
from core.protocol import frame_int
from courses.access import CourseAction

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_SERVER_ERROR = 1011  # the snapshot could not be built (a bug, logged)


@dataclass(frozen=True)
class Action:
    handler: str
    permission: CourseAction
    coalesce: str | None = None  # an ephemeral flush to schedule after it


ACTIONS: dict[str, Action] = {
    "session.start": Action("session_start", CourseAction.TEACH),
    "session.end": Action("session_end", CourseAction.TEACH),
    "session.settings": Action("session_settings", CourseAction.MANAGE),
    "mode.set": Action("mode_set", CourseAction.TEACH),
    "chat.send": Action("chat_send", CourseAction.PARTICIPATE, "engagement"),
    "chat.delete": Action("chat_delete", CourseAction.TEACH),
    "question.ask": Action("question_ask", CourseAction.PARTICIPATE),
    "question.upvote": Action("question_upvote", CourseAction.PARTICIPATE),
    "question.answer": Action("question_answer", CourseAction.TEACH),
    "question.delete": Action("question_delete", CourseAction.TEACH),
    "hand.raise": Action("hand_raise", CourseAction.PARTICIPATE),
    "hand.lower": Action("hand_lower", CourseAction.PARTICIPATE),
    "hands.lower_all": Action("hands_lower_all", CourseAction.TEACH),
    "podium.invite": Action("podium_invite", CourseAction.TEACH),
    "podium.remove": Action("podium_remove", CourseAction.PARTICIPATE),
    "reaction.send": Action("reaction_send", CourseAction.PARTICIPATE, "reactions"),
    "away.set": Action("away_set", CourseAction.PARTICIPATE, "presence"),
    "timer.start": Action("timer_start", CourseAction.TEACH),
    "timer.adjust": Action("timer_adjust", CourseAction.TEACH),
    "timer.stop": Action("timer_stop", CourseAction.TEACH),
    "announcement.send": Action("announcement_send", CourseAction.TEACH),
    "help.request": Action("help_request", CourseAction.PARTICIPATE),
    "help.resolve": Action("help_resolve", CourseAction.TEACH),
    "poll.open": Action("poll_open", CourseAction.TEACH, "poll"),
    "poll.close": Action("poll_close", CourseAction.TEACH, "poll"),
    "poll.reopen": Action("poll_reopen", CourseAction.TEACH, "poll"),
    "poll.publish": Action("poll_publish", CourseAction.TEACH),
    "poll.vote": Action("poll_vote", CourseAction.PARTICIPATE, "poll"),
}
_APPLY = {lane: db_call(action_apply, lane) for lane in ("default", "staff")}
PRESENCE_DELAY = 1.0
REACTIONS_DELAY = 1.0  # one burst per second: 150 frames, not 300 (docs/performance.md)
ENGAGEMENT_DELAY = 2.0
TALLY_DELAY = events.TALLY_DELAY


def _int(data: dict, key: str) -> int:
    return frame_int(data, key)


def _optional_int(data: dict, key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _bool(data: dict, key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ValidationError(
            f"'{key}' must be true or false.", code="invalid", details={key: "boolean"}
        )
    return value


STALE_SWEEP_SECONDS = 60.0
_stale_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stale_sweeper_ensure() -> None:
    """Without a Celery worker (the embedded default runs tasks eagerly and has
    no beat), each server loop closes the attendance of connections that
    stopped pinging itself, as the beat task does in production: a process
    killed without running disconnect() must not leave people "present"."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    loop = asyncio.get_running_loop()
    task = _stale_sweepers.get(loop)
    if task is None or task.done():
        _stale_sweepers[loop] = loop.create_task(_stale_sweep_forever())


async def _stale_sweep_forever() -> None:
    while True:
        await asyncio.sleep(STALE_SWEEP_SECONDS)
        try:
            await db_call(sessions.attendance_close_stale)()
        except Exception:  # try again next time
            logger.exception("closing stale attendance failed")


class LiveSessionConsumer(FrameMember, AsyncWebsocketConsumer):
    """Frames reach this consumer through the process's fan-out hub
    (core/fanout.py), not the channel layer: it has no channel of its own."""

    channel_layer_alias = "roundtable.no-channel-layer"
    access: LiveAccess | None = None

    # --- Connection ------------------------------------------------------------

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.connection_id = f"live.{uuid.uuid4().hex}"
        self.last_forwarded_seq = 0
        self.touched_at = time.monotonic()  # attendance_join counts as a touch
        try:
            self.access = await db_call(access_live_session)(
                user=self.scope["user"], session_id=self.session_id
            )
        except ApplicationError as error:
            # Accept to say why, then close: a bare handshake refusal tells the client nothing.
            await self.accept()
            await self._send_error(None, error)
            await self.close(
                code=close_code_for(error, forbidden=CLOSE_FORBIDDEN, not_found=CLOSE_NOT_FOUND)
            )
            return
        # Frames published from here on wait until the snapshot (or the missed
        # frames) has gone out; the ones it already covers are dropped then.
        self.frames_hold()
        try:
            await self._join_groups()
        except ConnectionError:
            # The fan-out hub could not subscribe (Redis unreachable for
            # SUBSCRIBE_TIMEOUT): say so; the client reconnects later.
            logger.warning("live session %s: fan-out unavailable", self.session_id)
            self.access = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        await self.accept()
        try:
            # Join first, so that the snapshot already counts this connection.
            await db_call(sessions.attendance_join)(
                session_id=self.session_id, user=self.access.user, connection=self.connection_id
            )
            await self._send_initial(self._query_seq())
        except ServerBusyError as error:
            # The database cannot serve now: say so and close with "try again
            # later"; the client reconnects (with ?seq=) as after any drop.
            await self._send_error(None, error)
            await self.disconnect(CLOSE_TRY_AGAIN)
            self.access = None
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        except Exception:
            # A snapshot that cannot be built is a bug; close the attendance
            # just opened, so that the user does not stay "present" for good.
            logger.exception("snapshot for session %s failed", self.session_id)
            await self.disconnect(CLOSE_SERVER_ERROR)
            self.access = None
            await self.close(code=CLOSE_SERVER_ERROR)
            return
        await self.frames_release(self.last_forwarded_seq)
        await self._schedule("presence")
        _stale_sweeper_ensure()

    async def disconnect(self, code: int) -> None:
        if self.access is None:
            return
        self.frames_unfollow()
        try:
            await db_call(sessions.attendance_leave)(
                session_id=self.session_id, user=self.access.user, connection=self.connection_id
            )
        except ServerBusyError:
            # The database is down: the stale sweep closes this interval at
            # its last ping once it is back (docs/architecture.md, attendance).
            return
        await self._schedule("presence")

    def _query_seq(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return int(query["seq"][0]) if "seq" in query else None
        except ValueError:
            return None

    async def _join_groups(self) -> None:
        access = self.access
        groups = events.groups_for_member(
            session_id=self.session_id,
            user_id=access.user.pk,
            table_id=access.table_id,
            is_staff=access.is_staff,
        )
        await self.frames_follow(groups)

    # --- Snapshot and resync ----------------------------------------------------------

    async def _send_initial(self, last_seq: int | None) -> None:
        if last_seq is not None:
            missed = await db_call(self._missed_frames)(last_seq)
            if missed is not None:
                for seq, text in missed:
                    self.last_forwarded_seq = max(self.last_forwarded_seq, seq)
                    await self.send(text_data=text)
                await self._send_json(
                    {"type": "resync.done", "data": {"from": last_seq, "count": len(missed)}}
                )
                return
        await self._send_snapshot()

    def _missed_frames(self, last_seq: int) -> list[tuple[int, str]] | None:
        """The frames after last_seq this user may see, or None if the buffer
        no longer reaches back that far (then a snapshot is due)."""
        from classroom.models import LiveSession

        head = (
            LiveSession.objects.filter(pk=self.session_id).values_list("seq", flat=True).first()
            or 0
        )
        if last_seq > head or last_seq < 0:
            return None
        if last_seq == head:
            return []
        buffer = realtime.frame_buffer()
        scope = events.group_all(self.session_id)
        frames = buffer.since(scope, last_seq)
        if not frames or frames[0][0] != last_seq + 1 or frames[-1][0] < head:
            return None  # the buffer no longer reaches back, or lacks the newest
        if any(later[0] != earlier[0] + 1 for earlier, later in pairwise(frames)):
            return None  # a frame missing inside (its append failed: Redis was down)
        access = self.access
        return [
            (seq, text)
            for seq, stream, text in frames
            if events.stream_visible(
                stream, user_id=access.user.pk, table_id=access.table_id, is_staff=access.is_staff
            )
        ]

    async def _send_snapshot(self) -> None:
        data = await db_call(session_snapshot_get)(access=self.access)
        self.last_forwarded_seq = data["seq"]
        await self._send_json({"type": "snapshot", "seq": data["seq"], "data": data})

    # --- Client frames ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.access is None:
            return
        routed = await self.frames_receive(text_data, bytes_data, ACTIONS)
        if routed is None:
            return
        action, client_id, data = routed
        try:
            if not self.access.course_access.may(action.permission):
                self.access.require(action.permission)
            if action.handler == "reaction_send":
                await self._reaction(client_id, data)
                return
            handler = getattr(self, f"do_{action.handler}")
            # Staff actions have a database lane of their own: a mode switch
            # never waits behind a busy room's chat (core/asyncdb.py).
            lane = "default" if action.permission == CourseAction.PARTICIPATE else "staff"
            applied, result = await _APPLY[lane](
                session_id=self.session_id,
                user=self.access.user,
                client_id=client_id,
                service=handler,
                data=data,
            )
        except ApplicationError as error:
            await self._send_error(client_id, error)
            return
        except Exception:
            # A bug in one action must not close the socket (an exception out
            # of receive() kills the consumer before disconnect() can close
            # its attendance): log it and answer like the API's 500.
            logger.exception("live action %s failed in session %s", action.handler, self.session_id)
            await self._send_error(
                client_id,
                ApplicationError("Something went wrong on our side.", code="server_error"),
            )
            return
        ack: dict[str, Any] = {"type": "ack", "id": client_id}
        if not applied:
            ack["duplicate"] = True
        if result is not None:
            ack["data"] = result
        await self._send_json(ack)
        if applied and action.coalesce:
            if action.handler == "poll_vote" and result is None:  # an anonymous vote
                await self._schedule("poll", {"poll_id": _int(data, "poll_id"), "anonymous": True})
            else:
                await self._schedule(action.coalesce, result)

    async def _reaction(self, client_id: str | None, data: dict) -> None:
        """The hot path: no database statement once the session is known to be
        live (classroom/services/reactions.py); the reactions flush writes them."""
        kind = data.get("kind")
        reactions.reaction_validate(kind)
        if not session_live_known(self.session_id):
            await db_call(session_live_require)(self.session_id)
        applied = await reactions.reaction_send_async(
            session_id=self.session_id,
            user_id=self.access.user.pk,
            kind=kind,
            client_id=client_id,
        )
        ack: dict[str, Any] = {"type": "ack", "id": client_id}
        if not applied:
            ack["duplicate"] = True
        await self._send_json(ack)
        if applied:
            await self._schedule("reactions")

    async def _pong(self, client_id: str | None, data: dict) -> None:
        now = time.monotonic()
        if now - self.touched_at >= sessions.ATTENDANCE_TOUCH_SECONDS:
            self.touched_at = now
            await db_call(sessions.attendance_touch)(
                session_id=self.session_id, connection=self.connection_id
            )
        await self._send_json(
            {
                "type": "pong",
                "id": client_id,
                "data": {"server_time": time.time(), "seq": self.last_forwarded_seq},
            }
        )
        # Slow clients: under Daphne every write checks the socket's buffer
        # (FrameMember); elsewhere the seq the client reports decides.
        await self.frames_lag_report(data.get("seq"))

    # --- Handlers: run in a worker thread inside action_apply's transaction -------------

    def do_session_start(self, data: dict) -> None:
        sessions.live_session_start(session_id=self.session_id, actor=self.access.user)

    def do_session_end(self, data: dict) -> None:
        sessions.live_session_end(session_id=self.session_id, actor=self.access.user)

    def do_session_settings(self, data: dict) -> None:
        sessions.live_session_settings_update(
            session_id=self.session_id,
            actor=self.access.user,
            anonymous_questions_allowed=_bool(data, "anonymous_questions_allowed"),
        )

    def do_mode_set(self, data: dict) -> None:
        mode = data.get("mode")
        if not isinstance(mode, str):
            raise ValidationError("'mode' is required.", code="invalid_mode")
        podium_all = data.get("podium_addresses_all")
        sessions.live_session_mode_set(
            session_id=self.session_id,
            actor=self.access.user,
            mode=mode,
            table_id=_optional_int(data, "table_id"),
            podium_addresses_all=None
            if podium_all is None
            else _bool(data, "podium_addresses_all"),
        )

    def do_chat_send(self, data: dict) -> dict:
        message = chat.chat_send(
            session_id=self.session_id,
            user=self.access.user,
            channel=data.get("channel") if isinstance(data.get("channel"), str) else "",
            body=data.get("body"),
            is_staff=self.access.is_staff,
            table_id=_optional_int(data, "table_id"),
        )
        return {"message_id": message.pk}

    def do_chat_delete(self, data: dict) -> None:
        chat.chat_delete(
            session_id=self.session_id, actor=self.access.user, message_id=_int(data, "message_id")
        )

    def do_question_ask(self, data: dict) -> dict:
        anonymous = data.get("anonymous", False)
        question = chat.question_ask(
            session_id=self.session_id,
            user=self.access.user,
            body=data.get("body"),
            anonymous=anonymous if isinstance(anonymous, bool) else False,
        )
        return {"question_id": question.pk}

    def do_question_upvote(self, data: dict) -> None:
        chat.question_upvote(
            session_id=self.session_id, user=self.access.user, question_id=_int(data, "question_id")
        )

    def do_question_answer(self, data: dict) -> None:
        chat.question_answer(
            session_id=self.session_id,
            actor=self.access.user,
            question_id=_int(data, "question_id"),
        )

    def do_question_delete(self, data: dict) -> None:
        chat.question_delete(
            session_id=self.session_id,
            actor=self.access.user,
            question_id=_int(data, "question_id"),
        )

    def do_hand_raise(self, data: dict) -> None:
        room.hand_raise(session_id=self.session_id, user=self.access.user)

    def do_hand_lower(self, data: dict) -> None:
        user_id = _optional_int(data, "user_id") or self.access.user.pk
        room.hand_lower(
            session_id=self.session_id,
            actor=self.access.user,
            user_id=user_id,
            actor_is_staff=self.access.is_staff,
        )

    def do_hands_lower_all(self, data: dict) -> dict:
        return {"lowered": room.hands_lower_all(session_id=self.session_id, actor=self.access.user)}

    def do_podium_invite(self, data: dict) -> None:
        room.podium_invite(
            session_id=self.session_id, actor=self.access.user, user_id=_int(data, "user_id")
        )

    def do_podium_remove(self, data: dict) -> None:
        user_id = _optional_int(data, "user_id") or self.access.user.pk
        room.podium_remove(
            session_id=self.session_id,
            actor=self.access.user,
            user_id=user_id,
            actor_is_staff=self.access.is_staff,
        )

    def do_away_set(self, data: dict) -> None:
        room.away_set(
            session_id=self.session_id,
            user=self.access.user,
            away=_bool(data, "away"),
            table_id=self.access.table_id,
        )

    def do_timer_start(self, data: dict) -> dict:
        timer = room.timer_start(
            session_id=self.session_id,
            actor=self.access.user,
            label=data.get("label") if isinstance(data.get("label"), str) else "",
            seconds=_int(data, "seconds"),
            warning_seconds=_optional_int(data, "warning_seconds") or 30,
        )
        return {"timer_id": timer.pk}

    def do_timer_adjust(self, data: dict) -> None:
        room.timer_adjust(
            session_id=self.session_id,
            actor=self.access.user,
            timer_id=_int(data, "timer_id"),
            delta_seconds=_int(data, "delta_seconds"),
        )

    def do_timer_stop(self, data: dict) -> None:
        room.timer_stop(
            session_id=self.session_id, actor=self.access.user, timer_id=_int(data, "timer_id")
        )

    def do_announcement_send(self, data: dict) -> None:
        room.announcement_send(
            session_id=self.session_id, actor=self.access.user, body=data.get("body")
        )

    def do_help_request(self, data: dict) -> None:
        if self.access.is_staff:
            raise PermissionDeniedError(
                "Staff answer help requests; learners make them.", code="forbidden"
            )
        room.help_flag(session_id=self.session_id, user=self.access.user)

    def do_help_resolve(self, data: dict) -> None:
        room.help_resolve(
            session_id=self.session_id, actor=self.access.user, table_id=_int(data, "table_id")
        )

    def do_poll_open(self, data: dict) -> dict:
        settings_ = data.get("settings") or {}
        if not isinstance(settings_, dict):
            raise ValidationError("'settings' must be an object.", code="invalid_poll")
        definition = data.get("definition") or {}
        poll = polls.poll_open(
            session_id=self.session_id,
            actor=self.access.user,
            question_id=_optional_int(data, "question_id"),
            kind=data.get("kind") if isinstance(data.get("kind"), str) else None,
            prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
            definition=definition if isinstance(definition, dict) else None,
            points=_optional_int(data, "points") or 1,
            settings_=settings_,
        )
        return {
            "poll_id": poll.pk,
            "closes_at": poll.closes_at.isoformat() if poll.closes_at else None,
        }

    def do_poll_close(self, data: dict) -> dict:
        poll = polls.poll_close(
            session_id=self.session_id, actor=self.access.user, poll_id=_int(data, "poll_id")
        )
        return {"poll_id": poll.pk}

    def do_poll_reopen(self, data: dict) -> dict:
        poll = polls.poll_reopen(
            session_id=self.session_id, actor=self.access.user, poll_id=_int(data, "poll_id")
        )
        return {"poll_id": poll.pk}

    def do_poll_publish(self, data: dict) -> None:
        polls.poll_publish(
            session_id=self.session_id, actor=self.access.user, poll_id=_int(data, "poll_id")
        )

    def do_poll_vote(self, data: dict) -> dict:
        poll_id = _int(data, "poll_id")
        response, changed = polls.poll_vote_cast(
            session_id=self.session_id,
            user=self.access.user,
            poll_id=poll_id,
            answer=data.get("answer"),
        )
        if response.poll.is_anonymous:
            # The ack (kept with this learner's frame id in ClientAction) says
            # nothing of the answer nor of the poll: the browser knows both.
            return None
        return {"poll_id": poll_id, "answer": response.answer, "changed": changed}

    # --- Coalesced ephemeral frames ------------------------------------------------------

    async def _schedule(self, kind: str, result: dict | None = None) -> None:
        session_id = self.session_id
        if kind == "poll" and result:
            poll_id = result["poll_id"]
            await realtime.coalesce(
                f"tally:{poll_id}",
                TALLY_DELAY,
                lambda: events.poll_tally_flush(session_id, poll_id),
            )
            if result.get("closes_at"):
                await self._schedule_poll_close(poll_id, result["closes_at"])
            if not self.access.is_staff and not result.get("anonymous"):
                # A vote lights the learner's "answered" marker on the console
                # (never for an anonymous poll).
                await realtime.coalesce(
                    f"engagement:{session_id}",
                    ENGAGEMENT_DELAY,
                    lambda: events.engagement_flush(session_id),
                )
            return
        if kind == "presence":
            await realtime.coalesce(
                f"presence:{session_id}",
                PRESENCE_DELAY,
                lambda: events.presence_summary_flush(session_id),
            )
            await realtime.coalesce(
                f"engagement:{session_id}",
                ENGAGEMENT_DELAY,
                lambda: events.engagement_flush(session_id),
            )
        elif kind == "reactions":
            await realtime.coalesce(
                f"reactions:{session_id}", REACTIONS_DELAY, lambda: _reactions_flush(session_id)
            )
            await realtime.coalesce(
                f"engagement:{session_id}",
                ENGAGEMENT_DELAY,
                lambda: events.engagement_flush(session_id),
            )
        elif kind == "engagement":
            await realtime.coalesce(
                f"engagement:{session_id}",
                ENGAGEMENT_DELAY,
                lambda: events.engagement_flush(session_id),
            )

    async def _schedule_poll_close(self, poll_id: int, closes_at: str) -> None:
        """Close a timed poll when its timer runs out (votes after that are
        refused anyway; this makes the close visible without anyone acting)."""
        import asyncio
        from datetime import datetime

        session_id = self.session_id
        delay = (
            max(0.0, (datetime.fromisoformat(closes_at) - timezone.now()).total_seconds()) + 0.05
        )

        async def close() -> None:
            closed = await db_call(polls.poll_close_if_due)(session_id=session_id, poll_id=poll_id)
            if closed:
                # Coalesced like any tally: a flush already due reads the closed poll.
                await realtime.coalesce(
                    f"tally:{poll_id}",
                    TALLY_DELAY,
                    lambda: events.poll_tally_flush(session_id, poll_id),
                )

        loop = asyncio.get_running_loop()
        loop.call_later(
            delay, lambda: asyncio.ensure_future(close()), context=contextvars.Context()
        )

    # --- Group frames --------------------------------------------------------------------

    async def frame_forward(self, event: dict) -> None:
        seq = event.get("seq")
        if seq:
            self.last_forwarded_seq = max(self.last_forwarded_seq, seq)
        await self.frames_write(event)
        if event.get("control") == "refresh":
            # This user changed tables: follow the new table and start over
            # from a snapshot. Later frames wait for it.
            self.frames_hold()
            asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        try:
            self.access = await db_call(access_live_session)(
                user=self.access.user, session_id=self.session_id
            )
            await self._join_groups()
            await self._send_snapshot()
        except ApplicationError as error:  # e.g. unenrolled meanwhile
            await self._send_error(None, error)
            await self.close(code=CLOSE_FORBIDDEN)
        finally:
            await self.frames_release(self.last_forwarded_seq)

    def frames_last_seq(self) -> int:
        return self.last_forwarded_seq

    # --- Output ---------------------------------------------------------------------------

    async def _send_json(self, frame: dict) -> None:
        await self.send(text_data=events.encode(frame))

    async def _send_error(self, client_id: str | None, error: ApplicationError) -> None:
        frame = {"type": "error", "id": client_id, "data": error.as_dict()}
        await self._send_json(frame)


async def _reactions_flush(session_id: int) -> None:
    # The burst only; the engagement flush writes the reactions (every 2 s).
    counts = await db_call(reactions.reaction_burst_take)(session_id)
    if counts:
        text = events.encode(
            {"type": "reactions.burst", "data": {"counts": counts, "at": timezone.now()}}
        )
        await realtime.forward_now([events.group_all(session_id)], text)
