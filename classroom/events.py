"""Typed realtime frames of the live classroom: the only caller of
core.realtime for this app. docs/realtime.md lists every frame.

Sequenced frames (`emit`) get the next session-wide `seq`, the `prev` seq of
their stream, are kept for resync and sent after commit. Ephemeral frames
(presence summaries, reaction bursts, engagement) carry no seq; the snapshot
holds their current value.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from classroom.models import (
    Announcement,
    Attendance,
    ChatMessage,
    HelpFlag,
    LiveSession,
    Participant,
    Question,
    Seat,
    Timer,
)
from core import fanout, realtime

logger = logging.getLogger(__name__)

STREAM_ALL = "all"
STREAM_STAFF = "staff"


def stream_table(table_id: int) -> str:
    return f"table.{table_id}"


def stream_user(user_id: int) -> str:
    return f"user.{user_id}"


def group_all(session_id: int) -> str:
    return f"live.{session_id}"


def group_staff(session_id: int) -> str:
    return f"live.{session_id}.staff"


def group_learners(session_id: int) -> str:
    """Everyone but staff: frames staff get in a richer form of their own
    (the public poll tally), so that each person receives one of them."""
    return f"live.{session_id}.learners"


def group_table(session_id: int, table_id: int) -> str:
    return f"live.{session_id}.table.{table_id}"


def group_user(session_id: int, user_id: int) -> str:
    return f"live.{session_id}.user.{user_id}"


def groups_for_stream(session_id: int, stream: str) -> list[str]:
    if stream == STREAM_ALL:
        return [group_all(session_id)]
    if stream == STREAM_STAFF:
        return [group_staff(session_id)]
    kind, _, ident = stream.partition(".")
    if kind == "table":
        return [group_table(session_id, int(ident)), group_staff(session_id)]
    if kind == "user":
        return [group_user(session_id, int(ident))]
    raise ValueError(f"unknown stream {stream!r}")


def groups_for_member(
    *, session_id: int, user_id: int, table_id: int | None, is_staff: bool
) -> list[str]:
    groups = [group_all(session_id), group_user(session_id, user_id)]
    if is_staff:
        groups.append(group_staff(session_id))
    else:
        groups.append(group_learners(session_id))
        if table_id is not None:
            groups.append(group_table(session_id, table_id))
    return groups


def stream_visible(stream: str, *, user_id: int, table_id: int | None, is_staff: bool) -> bool:
    if stream == STREAM_ALL:
        return True
    if stream == STREAM_STAFF:
        return is_staff
    kind, _, ident = stream.partition(".")
    if kind == "table":
        return is_staff or (table_id is not None and int(ident) == table_id)
    if kind == "user":
        return int(ident) == user_id
    return False


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def emit(
    session: LiveSession,
    frame_type: str,
    data: dict[str, Any],
    stream: str = STREAM_ALL,
    control: str | None = None,
) -> int:
    """Number, keep and send (after commit) one frame.

    Precondition: the caller holds the session row lock (`session` came from
    `select_for_update` in the current transaction)."""
    session.seq += 1
    heads = dict(session.stream_heads or {})
    prev = heads.get(stream, 0)
    heads[stream] = session.seq
    session.stream_heads = heads
    LiveSession.objects.filter(pk=session.pk).update(seq=session.seq, stream_heads=heads)
    frame = {"type": frame_type, "seq": session.seq, "stream": stream, "prev": prev, "data": data}
    realtime.frame_publish_on_commit(
        scope=session.group_name,
        seq=session.seq,
        stream=stream,
        text=encode(frame),
        groups=groups_for_stream(session.pk, stream),
        control=control,
    )
    return session.seq


# --- Payloads (shared by frames and the snapshot) -------------------------------


def user_payload(user) -> dict[str, Any]:
    return {"id": user.pk, "name": user.name}


def session_payload(session: LiveSession) -> dict[str, Any]:
    return {
        "id": session.pk,
        "title": session.title,
        "state": session.state,
        "scheduled_start": session.scheduled_start,
        "scheduled_end": session.scheduled_end,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "anonymous_questions_allowed": session.anonymous_questions_allowed,
    }


def mode_payload(session: LiveSession) -> dict[str, Any]:
    return {
        "mode": session.mode,
        "table_id": session.mode_table_id,
        "table_name": session.mode_table.name if session.mode_table_id else None,
        "podium_addresses_all": session.podium_addresses_all,
        "changed_at": session.mode_changed_at,
    }


def message_payload(message: ChatMessage) -> dict[str, Any]:
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "channel": message.channel,
        "table_id": message.table_id,
        "author": user_payload(message.author) if message.author and not deleted else None,
        "body": "" if deleted else message.body,
        "created_at": message.created_at,
        "deleted": deleted,
    }


def question_payload(question: Question) -> dict[str, Any]:
    """Anonymous questions never carry their author, not even to staff."""
    return {
        "id": question.pk,
        "body": question.body,
        "author": None
        if question.is_anonymous or question.author is None
        else user_payload(question.author),
        "anonymous": question.is_anonymous,
        "upvotes": question.upvote_count,
        "answered": question.answered_at is not None,
        "created_at": question.created_at,
    }


def timer_payload(timer: Timer) -> dict[str, Any]:
    return {
        "id": timer.pk,
        "label": timer.label,
        "started_at": timer.started_at,
        "ends_at": timer.ends_at,
        "warning_seconds": timer.warning_seconds,
    }


def announcement_payload(announcement: Announcement) -> dict[str, Any]:
    return {
        "id": announcement.pk,
        "body": announcement.body,
        "author": user_payload(announcement.author) if announcement.author else None,
        "created_at": announcement.created_at,
    }


def help_payload(flag: HelpFlag) -> dict[str, Any]:
    return {
        "id": flag.pk,
        "table_id": flag.table_id,
        "table_name": flag.table.name,
        "raised_by": user_payload(flag.raised_by) if flag.raised_by else None,
        "raised_at": flag.raised_at,
    }


# --- Sequenced frames -------------------------------------------------------------


def session_changed(session: LiveSession) -> None:
    emit(session, "session.changed", session_payload(session))


def mode_changed(session: LiveSession) -> None:
    emit(session, "mode.changed", mode_payload(session))


def podium_changed(session: LiveSession, speakers: list[dict[str, Any]]) -> None:
    emit(session, "podium.changed", {"speakers": speakers})


def hands_changed(session: LiveSession, queue: list[dict[str, Any]]) -> None:
    emit(session, "hands.changed", {"queue": queue})


def chat_posted(session: LiveSession, message: ChatMessage) -> None:
    emit(session, "chat.posted", message_payload(message), _chat_stream(message))


def chat_deleted(session: LiveSession, message: ChatMessage) -> None:
    emit(
        session,
        "chat.deleted",
        {"id": message.pk, "channel": message.channel},
        _chat_stream(message),
    )


def _chat_stream(message: ChatMessage) -> str:
    if message.channel == "table":
        return stream_table(message.table_id)
    if message.channel == "staff":
        return STREAM_STAFF
    return STREAM_ALL


def question_changed(session: LiveSession, question: Question) -> None:
    frame = "question.deleted" if question.deleted_at else "question.changed"
    data = {"id": question.pk} if question.deleted_at else question_payload(question)
    emit(session, frame, data)


def timers_changed(session: LiveSession, timers: list[Timer]) -> None:
    emit(session, "timers.changed", {"timers": [timer_payload(timer) for timer in timers]})


def announcement_posted(session: LiveSession, announcement: Announcement) -> None:
    emit(session, "announcement.posted", announcement_payload(announcement))


def help_changed(session: LiveSession, table_id: int, open_flags: list[HelpFlag]) -> None:
    """Staff get the whole help queue; the table learns its own flag state."""
    emit(
        session,
        "help.changed",
        {"queue": [help_payload(flag) for flag in open_flags]},
        STREAM_STAFF,
    )
    mine = next((flag for flag in open_flags if flag.table_id == table_id), None)
    emit(
        session,
        "table.help_changed",
        {"table_id": table_id, "open": mine is not None},
        stream_table(table_id),
    )


def away_changed(session: LiveSession, user_id: int, table_id: int | None, is_away: bool) -> None:
    data = {"user_id": user_id, "away": is_away}
    emit(session, "away.changed", data, STREAM_STAFF)
    if table_id is not None:
        emit(session, "away.changed", data, stream_table(table_id))


def seating_changed(
    session: LiveSession, seat_map: list[dict[str, Any]], moved_user_ids: list[int]
) -> None:
    emit(session, "seating.changed", {"tables": seat_map}, STREAM_STAFF)
    for user_id in moved_user_ids:
        # The consumer of that user re-joins its table group and sends a new snapshot.
        emit(session, "seat.moved", {"user_id": user_id}, stream_user(user_id), control="refresh")


# --- Ephemeral, coalesced frames -----------------------------------------------------


async def presence_summary_flush(session_id: int) -> None:
    """One summary per table to that table (its members online), one headcount
    to everyone and the full online list to staff: O(tables + people) frames
    per flush, however many joined or left in the window."""
    from core.asyncdb import db_call

    texts = await db_call(_presence_summary_texts)(session_id)
    for groups, text in texts:
        await realtime.forward_now(groups, text)


def _presence_summary_texts(session_id: int) -> list[tuple[list[str], str]]:
    session = LiveSession.objects.get(pk=session_id)
    online = set(
        Attendance.objects.filter(session_id=session_id, left_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    away = set(
        Participant.objects.filter(session_id=session_id, is_away=True).values_list(
            "user_id", flat=True
        )
    )
    texts = []
    seats = Seat.objects.filter(course_id=session.course_id).values_list("table_id", "user_id")
    by_table: dict[int, list[int]] = {}
    for table_id, user_id in seats:
        by_table.setdefault(table_id, []).append(user_id)
    for table_id, members in by_table.items():
        data = {
            "table_id": table_id,
            "online": sorted(user_id for user_id in members if user_id in online),
            "away": sorted(user_id for user_id in members if user_id in away),
        }
        texts.append(
            ([group_table(session_id, table_id)], encode({"type": "table.presence", "data": data}))
        )
    texts.append(
        (
            [group_all(session_id)],
            encode({"type": "presence.summary", "data": {"present": len(online)}}),
        )
    )
    staff = {"online": sorted(online), "away": sorted(away)}
    texts.append(([group_staff(session_id)], encode({"type": "staff.presence", "data": staff})))
    return texts


async def engagement_flush(session_id: int) -> None:
    from core.asyncdb import db_call

    data = await db_call(_reactions_then_engagement)(session_id)
    await realtime.forward_now(
        [group_staff(session_id)], encode({"type": "engagement.changed", "data": data})
    )


def _reactions_then_engagement(session_id: int) -> dict:
    """Write the pending reactions (classroom/services/reactions.py) first, so
    that the counts staff see include them: one batch per 2 s per session."""
    from classroom.selectors import engagement_list
    from classroom.services.reactions import reactions_persist

    try:
        reactions_persist(session_id)
    except Exception:  # kept in the pending list for the next flush
        logger.exception("writing the reactions of session %s failed", session_id)
    return engagement_list(session_id=session_id)


# --- Polls --------------------------------------------------------------------------


def poll_opened(session: LiveSession, poll) -> None:
    from classroom.selectors import poll_public_payload

    emit(session, "poll.opened", poll_public_payload(poll))


def poll_closed(session: LiveSession, poll, response_count: int) -> None:
    emit(
        session,
        "poll.closed",
        {"id": poll.pk, "closed_at": poll.closed_at, "responses": response_count},
    )


def poll_published(session: LiveSession, poll, results: dict) -> None:
    emit(session, "poll.published", {"id": poll.pk, "results": results})


def poll_table_answer_changed(
    session: LiveSession, poll, table_id: int, answer: dict, user
) -> None:
    emit(
        session,
        "poll.table_answer",
        {
            "poll_id": poll.pk,
            "table_id": table_id,
            "answer": answer,
            "answered_by": user_payload(user),
        },
        stream_table(table_id),
    )


async def poll_tally_flush(session_id: int, poll_id: int) -> None:
    """The coalesced live tally: at most one per poll per window, to staff, and
    to the learners when the poll shows live results (without names). Each
    person gets one frame per flush: staff are not in the learners' group."""
    from core.asyncdb import db_call

    texts = await db_call(_poll_tally_texts)(poll_id)
    for groups, text in texts:
        await realtime.forward_now(groups, text)


TALLY_DELAY = 0.25  # at most one tally frame per poll per 250 ms


def poll_tally_on_commit(session_id: int, poll_id: int) -> None:
    """Schedule the coalesced tally from synchronous code, after commit: a vote
    that did not come through a socket (whose consumer schedules it with
    `coalesce`, spaced per process) still reaches staff and learners."""

    def flush() -> None:
        for groups, text in _poll_tally_texts(poll_id):
            fanout.publish(groups, text)

    realtime.coalesce_on_commit(f"tally:{poll_id}", TALLY_DELAY, flush)


def _poll_tally_texts(poll_id: int) -> list[tuple[list[str], str]]:
    from classroom.models import Poll, PollState
    from classroom.selectors import poll_results_get

    poll = Poll.objects.select_related("session").get(pk=poll_id)
    session_id = poll.session_id
    # One read of the responses serves both tallies.
    staff = {**poll_results_get(poll=poll, for_staff=True), "audience": "staff"}
    texts = [([group_staff(session_id)], encode({"type": "poll.tally", "data": staff}))]
    if poll.show_live_results and poll.state == PollState.OPEN:
        # The learners' view of an open poll: no names, nothing that could
        # reveal the correct answer (docs/polls.md).
        hidden = {"not_answered", "right", "correct", "correct_count", "audience"}
        public = {key: value for key, value in staff.items() if key not in hidden}
        public["audience"] = "public"
        texts.append(([group_learners(session_id)], encode({"type": "poll.tally", "data": public})))
    return texts
