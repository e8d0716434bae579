"""The live-session WebSocket: /ws/live/<session_id>/ (docs/realtime.md).

The room kernel (core/rooms/consumer.py) runs the socket; this module
supplies the live room's access, snapshot, attendance and action table: one
handler per client frame type, each a call of a service. No rules and no
frames here."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings

from classroom import events
from classroom.access import access_live_session, access_live_session_many
from classroom.models import ClientAction
from classroom.selectors import session_seq_get, session_snapshot_get, session_snapshots_get
from classroom.services import chat, polls, reactions, room, sessions
from classroom.services.common import session_live_known, session_live_require
from core.asyncdb import db_call
from core.errors import ApplicationError, PermissionDeniedError, ValidationError
from core.protocol import frame_int
from core.rooms.actions import Action
from core.rooms.batching import GroupCommit
from core.rooms.consumer import CLOSE_FORBIDDEN, RoomConsumer
from courses.access import CourseAction


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


# --- Handlers: run in a worker thread inside action_apply's transaction --------------


def session_start(live: LiveSessionConsumer, data: dict) -> None:
    sessions.live_session_start(session_id=live.room_id, actor=live.access.user)


def session_end(live: LiveSessionConsumer, data: dict) -> None:
    sessions.live_session_end(session_id=live.room_id, actor=live.access.user)


def session_settings(live: LiveSessionConsumer, data: dict) -> None:
    sessions.live_session_settings_update(
        session_id=live.room_id,
        actor=live.access.user,
        anonymous_questions_allowed=_bool(data, "anonymous_questions_allowed"),
    )


def mode_set(live: LiveSessionConsumer, data: dict) -> None:
    mode = data.get("mode")
    if not isinstance(mode, str):
        raise ValidationError("'mode' is required.", code="invalid_mode")
    podium_all = data.get("podium_addresses_all")
    sessions.live_session_mode_set(
        session_id=live.room_id,
        actor=live.access.user,
        mode=mode,
        table_id=_optional_int(data, "table_id"),
        podium_addresses_all=None if podium_all is None else _bool(data, "podium_addresses_all"),
    )


def chat_send(live: LiveSessionConsumer, data: dict) -> dict:
    message = chat.chat_send(
        session_id=live.room_id,
        user=live.access.user,
        channel=data.get("channel") if isinstance(data.get("channel"), str) else "",
        body=data.get("body"),
        is_staff=live.access.is_staff,
        table_id=_optional_int(data, "table_id"),
    )
    return {"message_id": message.pk}


def chat_delete(live: LiveSessionConsumer, data: dict) -> None:
    chat.chat_delete(
        session_id=live.room_id, actor=live.access.user, message_id=_int(data, "message_id")
    )


def question_ask(live: LiveSessionConsumer, data: dict) -> dict:
    anonymous = data.get("anonymous", False)
    question = chat.question_ask(
        session_id=live.room_id,
        user=live.access.user,
        body=data.get("body"),
        anonymous=anonymous if isinstance(anonymous, bool) else False,
    )
    return {"question_id": question.pk}


def question_upvote(live: LiveSessionConsumer, data: dict) -> None:
    chat.question_upvote(
        session_id=live.room_id, user=live.access.user, question_id=_int(data, "question_id")
    )


def question_answer(live: LiveSessionConsumer, data: dict) -> None:
    chat.question_answer(
        session_id=live.room_id,
        actor=live.access.user,
        question_id=_int(data, "question_id"),
    )


def question_delete(live: LiveSessionConsumer, data: dict) -> None:
    chat.question_delete(
        session_id=live.room_id,
        actor=live.access.user,
        question_id=_int(data, "question_id"),
    )


def hand_raise(live: LiveSessionConsumer, data: dict) -> None:
    room.hand_raise(session_id=live.room_id, user=live.access.user)


def hand_lower(live: LiveSessionConsumer, data: dict) -> None:
    user_id = _optional_int(data, "user_id") or live.access.user.pk
    room.hand_lower(
        session_id=live.room_id,
        actor=live.access.user,
        user_id=user_id,
        actor_is_staff=live.access.is_staff,
    )


def hands_lower_all(live: LiveSessionConsumer, data: dict) -> dict:
    return {"lowered": room.hands_lower_all(session_id=live.room_id, actor=live.access.user)}


def podium_invite(live: LiveSessionConsumer, data: dict) -> None:
    room.podium_invite(
        session_id=live.room_id, actor=live.access.user, user_id=_int(data, "user_id")
    )


def podium_remove(live: LiveSessionConsumer, data: dict) -> None:
    user_id = _optional_int(data, "user_id") or live.access.user.pk
    room.podium_remove(
        session_id=live.room_id,
        actor=live.access.user,
        user_id=user_id,
        actor_is_staff=live.access.is_staff,
    )


def away_set(live: LiveSessionConsumer, data: dict) -> None:
    room.away_set(
        session_id=live.room_id,
        user=live.access.user,
        away=_bool(data, "away"),
        table_id=live.access.table_id,
    )


def timer_start(live: LiveSessionConsumer, data: dict) -> dict:
    timer = room.timer_start(
        session_id=live.room_id,
        actor=live.access.user,
        label=data.get("label") if isinstance(data.get("label"), str) else "",
        seconds=_int(data, "seconds"),
        warning_seconds=_optional_int(data, "warning_seconds") or 30,
    )
    return {"timer_id": timer.pk}


def timer_adjust(live: LiveSessionConsumer, data: dict) -> None:
    room.timer_adjust(
        session_id=live.room_id,
        actor=live.access.user,
        timer_id=_int(data, "timer_id"),
        delta_seconds=_int(data, "delta_seconds"),
    )


def timer_stop(live: LiveSessionConsumer, data: dict) -> None:
    room.timer_stop(
        session_id=live.room_id, actor=live.access.user, timer_id=_int(data, "timer_id")
    )


def announcement_send(live: LiveSessionConsumer, data: dict) -> None:
    room.announcement_send(session_id=live.room_id, actor=live.access.user, body=data.get("body"))


def help_request(live: LiveSessionConsumer, data: dict) -> None:
    if live.access.is_staff:
        raise PermissionDeniedError(
            "Staff answer help requests; learners make them.", code="forbidden"
        )
    room.help_flag(session_id=live.room_id, user=live.access.user)


def help_resolve(live: LiveSessionConsumer, data: dict) -> None:
    room.help_resolve(
        session_id=live.room_id, actor=live.access.user, table_id=_int(data, "table_id")
    )


def poll_open(live: LiveSessionConsumer, data: dict) -> dict:
    settings_ = data.get("settings") or {}
    if not isinstance(settings_, dict):
        raise ValidationError("'settings' must be an object.", code="invalid_poll")
    definition = data.get("definition") or {}
    poll = polls.poll_open(
        session_id=live.room_id,
        actor=live.access.user,
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


def poll_close(live: LiveSessionConsumer, data: dict) -> dict:
    poll = polls.poll_close(
        session_id=live.room_id, actor=live.access.user, poll_id=_int(data, "poll_id")
    )
    return {"poll_id": poll.pk}


def poll_reopen(live: LiveSessionConsumer, data: dict) -> dict:
    poll = polls.poll_reopen(
        session_id=live.room_id, actor=live.access.user, poll_id=_int(data, "poll_id")
    )
    return {"poll_id": poll.pk}


def poll_publish(live: LiveSessionConsumer, data: dict) -> None:
    polls.poll_publish(
        session_id=live.room_id, actor=live.access.user, poll_id=_int(data, "poll_id")
    )


def _vote_batch_max() -> int:
    return settings.POLL_VOTE_BATCH_MAX if settings.POLL_VOTE_BATCH else 1


# Group commit of the live votes, per session, in this process
# (core/rooms/batching.py; docs/polls.md, "How votes are applied").
VOTES = GroupCommit(polls.poll_votes_apply, max_items=_vote_batch_max)


def _join_batch_max() -> int:
    return settings.JOIN_BATCH_MAX


# A class connecting at once (docs/realtime.md, "Joining"): the accesses, the
# attendance joins and the snapshots of the members of a session that connect
# to this process meanwhile are each read or written in one database call.
ACCESSES = GroupCommit(
    lambda session_id, users: access_live_session_many(users=users, session_id=session_id),
    max_items=_join_batch_max,
)
JOINS = GroupCommit(sessions.attendance_join_many, max_items=_join_batch_max)


def _entries_apply(session_id: int, entries: list) -> list:
    """Fresh connections: join, then read the snapshots (which count them)."""
    sessions.attendance_join_many(session_id, [join for join, _access in entries])
    return session_snapshots_get(
        session_id=session_id, accesses=[access for _join, access in entries]
    )


ENTRIES = GroupCommit(_entries_apply, max_items=_join_batch_max)
SNAPSHOTS = GroupCommit(
    lambda session_id, accesses: session_snapshots_get(session_id=session_id, accesses=accesses),
    max_items=_join_batch_max,
)


async def poll_vote(live: LiveSessionConsumer, client_id: str | None, data: dict):
    """Queued with the other votes of this session that arrive on this
    process meanwhile, applied in one transaction; each vote gets its own
    outcome: `(applied, ack data)` or its own error."""
    return await VOTES.call(
        live.room_id,
        polls.VoteRequest(
            user=live.access.user,
            client_id=client_id,
            poll_id=_int(data, "poll_id"),
            answer=data.get("answer"),
        ),
    )


async def reaction_send(live: LiveSessionConsumer, client_id: str | None, data: dict) -> bool:
    """The hot path: no database statement once the session is known to be
    live (classroom/services/reactions.py); the reactions flush writes them."""
    kind = data.get("kind")
    reactions.reaction_validate(kind)
    if not session_live_known(live.room_id):
        await db_call(session_live_require)(live.room_id)
    return await reactions.reaction_send_async(
        session_id=live.room_id, user_id=live.access.user.pk, kind=kind, client_id=client_id
    )


def _participant(handler) -> Action:
    return Action(handler, CourseAction.PARTICIPATE)


def _staff(handler, permission: CourseAction = CourseAction.TEACH) -> Action:
    # Staff actions have a database lane of their own: a mode switch never
    # waits behind a busy room's chat (core/asyncdb.py).
    return Action(handler, permission, lane="staff")


ACTIONS: dict[str, Action] = {
    "session.start": _staff(session_start),
    "session.end": _staff(session_end),
    "session.settings": _staff(session_settings, CourseAction.MANAGE),
    "mode.set": _staff(mode_set),
    "chat.send": _participant(chat_send),
    "chat.delete": _staff(chat_delete),
    "question.ask": _participant(question_ask),
    "question.upvote": _participant(question_upvote),
    "question.answer": _staff(question_answer),
    "question.delete": _staff(question_delete),
    "hand.raise": _participant(hand_raise),
    "hand.lower": _participant(hand_lower),
    "hands.lower_all": _staff(hands_lower_all),
    "podium.invite": _staff(podium_invite),
    "podium.remove": _participant(podium_remove),
    "reaction.send": Action(reaction_send, CourseAction.PARTICIPATE, asynchronous=True),
    "away.set": _participant(away_set),
    "timer.start": _staff(timer_start),
    "timer.adjust": _staff(timer_adjust),
    "timer.stop": _staff(timer_stop),
    "announcement.send": _staff(announcement_send),
    "help.request": _participant(help_request),
    "help.resolve": _staff(help_resolve),
    "poll.open": _staff(poll_open),
    "poll.close": _staff(poll_close),
    "poll.reopen": _staff(poll_reopen),
    "poll.publish": _staff(poll_publish),
    "poll.vote": Action(poll_vote, CourseAction.PARTICIPATE, asynchronous=True),
}


class LiveSessionConsumer(RoomConsumer):
    deferred_join = None  # an attendance join that goes with the first snapshot
    actions = ACTIONS
    url_kwarg = "session_id"
    connection_prefix = "live"
    streams = events.STREAMS
    client_actions = ClientAction
    scope_field = "session"

    def access_get(self, user, room_id: int):
        return access_live_session(user=user, session_id=room_id)

    def snapshot_get(self, access) -> dict:
        return session_snapshot_get(access=access)

    def head_seq(self, room_id: int) -> int | None:
        return session_seq_get(room_id)

    async def access_load(self, user, room_id: int):
        if not settings.JOIN_BATCH:
            return await super().access_load(user, room_id)
        return await ACCESSES.call(room_id, user)

    async def snapshot_load(self, access) -> dict:
        if not settings.JOIN_BATCH:
            return await super().snapshot_load(access)
        join, self.deferred_join = self.deferred_join, None
        if join is not None:
            return await ENTRIES.call(self.room_id, (join, access))
        return await SNAPSHOTS.call(self.room_id, access)

    async def member_join(self) -> None:
        # Before the snapshot, so that it already counts this connection.
        self.touched_at = time.monotonic()  # attendance_join counts as a touch
        join = sessions.AttendanceJoin(
            user=self.access.user, connection=self.connection_id, session=self.access.session
        )
        if settings.JOIN_BATCH and self._query_seq() is None:
            # A fresh connection's snapshot follows at once: join with it,
            # in the same database call (ENTRIES).
            self.deferred_join = join
            return
        if settings.JOIN_BATCH:
            await JOINS.call(self.room_id, join)
        else:
            await db_call(sessions.attendance_join_many)(self.room_id, [join])

    async def member_leave(self) -> None:
        # When the database is down, the stale sweep closes this interval at
        # its last ping once it is back (docs/architecture.md, attendance).
        await db_call(sessions.attendance_leave)(
            session_id=self.room_id, user=self.access.user, connection=self.connection_id
        )

    def pong_data(self, data: dict) -> dict:
        return {"server_time": time.time(), "seq": self.last_seq}

    async def pong_sent(self, data: dict) -> None:
        now = time.monotonic()
        if now - self.touched_at >= sessions.ATTENDANCE_TOUCH_SECONDS:
            self.touched_at = now
            await db_call(sessions.attendance_touch)(
                session_id=self.room_id, connection=self.connection_id
            )

    async def on_control(self, event: dict) -> None:
        if event["control"] == "refresh":
            # This user changed tables: follow the new table and start over
            # from a snapshot. Later frames wait for it.
            self.frames_hold()
            asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        try:
            self.access = await db_call(access_live_session)(
                user=self.access.user, session_id=self.room_id
            )
            await self._follow()
            await self._send_snapshot()
        except ApplicationError as error:  # e.g. unenrolled meanwhile
            await self._send_error(None, error)
            await self.close(code=CLOSE_FORBIDDEN)
        finally:
            await self.frames_release(self.last_seq)
