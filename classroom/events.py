"""Typed realtime frames of the live classroom: the only caller of
core.realtime for this app. docs/realtime.md lists every frame; each type
is declared once below (`frame_type`, with its payload TypedDict), and
tests/core/test_realtime_doc.py holds the doc against that registry.

Sequenced frames (`emit`) get the next session-wide `seq`, the `prev` seq of
their stream, are kept for resync and sent after commit (core/rooms/frames.py).
Ephemeral frames (presence summaries, reaction bursts, engagement) carry no
seq; the snapshot holds their current value.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from django.utils import timezone

from classroom import selectors
from classroom.models import (
    Announcement,
    Attendance,
    ChatMessage,
    HelpFlag,
    LiveSession,
    Participant,
    Poll,
    PollState,
    Question,
    Seat,
    Timer,
)
from classroom.payloads import (
    STREAMS,
    announcement_payload,
    help_payload,
    message_payload,
    mode_payload,
    question_payload,
    session_payload,
    timer_payload,
    user_payload,
)
from core import fanout, realtime
from core.asyncdb import db_call
from core.rooms import frames
from core.rooms.frames import encode, frame_type
from core.rooms.streams import STREAM_ALL, STREAM_STAFF, stream_table, stream_user

logger = logging.getLogger(__name__)

ROOM = "live"
__all__ = [
    "STREAM_ALL",
    "STREAM_STAFF",
    "announcement_payload",
    "encode",
    "help_payload",
    "message_payload",
    "mode_payload",
    "question_payload",
    "session_payload",
    "stream_table",
    "stream_user",
    "timer_payload",
    "user_payload",
]


def group_all(session_id: int) -> str:
    return STREAMS.group_all(session_id)


def group_staff(session_id: int) -> str:
    return STREAMS.group_staff(session_id)


def group_learners(session_id: int) -> str:
    return STREAMS.group_learners(session_id)


def group_table(session_id: int, table_id: int) -> str:
    return STREAMS.group_table(session_id, table_id)


def group_user(session_id: int, user_id: int) -> str:
    return STREAMS.group_user(session_id, user_id)


# Number, keep and send one frame (core/rooms/frames.py); the caller holds the row lock.
emit = frames.emitter(STREAMS)


# --- Frame types and their payloads -----------------------------------------------


class UserRef(TypedDict):
    id: int
    name: str


class SpeakersData(TypedDict):
    speakers: list[dict[str, Any]]


class HandsData(TypedDict):
    queue: list[dict[str, Any]]


class ChatDeletedData(TypedDict):
    id: int
    channel: str


class IdData(TypedDict):
    id: int


class TimersData(TypedDict):
    timers: list[dict[str, Any]]


class HelpQueueData(TypedDict):
    queue: list[dict[str, Any]]


class TableHelpData(TypedDict):
    table_id: int
    open: bool


class AwayData(TypedDict):
    user_id: int
    away: bool


class SeatingData(TypedDict):
    tables: list[dict[str, Any]]


class SeatMovedData(TypedDict):
    user_id: int


class PollClosedData(TypedDict):
    id: int
    closed_at: Any
    responses: int


class PollPublishedData(TypedDict):
    id: int
    results: dict[str, Any]


class TableAnswerData(TypedDict):
    poll_id: int
    table_id: int
    answer: dict[str, Any]
    answered_by: UserRef


class PresentData(TypedDict):
    present: int


class TablePresenceData(TypedDict):
    table_id: int
    online: list[int]
    away: list[int]


class StaffPresenceData(TypedDict):
    online: list[int]
    away: list[int]


class ReactionsData(TypedDict):
    counts: dict[str, int]
    at: Any


class EngagementData(TypedDict):
    window_seconds: int
    at: Any
    learners: dict[int, dict[str, Any]]


class TalkData(TypedDict):
    at: Any
    learners: dict[int, dict[str, Any]]
    tables: dict[int, dict[str, Any]]


class MediaHealthData(TypedDict):
    up: bool
    at: Any


class PongData(TypedDict):
    server_time: float
    seq: int


SESSION_CHANGED = frame_type(ROOM, "session.changed", dict)
MODE_CHANGED = frame_type(ROOM, "mode.changed", dict)
PODIUM_CHANGED = frame_type(ROOM, "podium.changed", SpeakersData)
HANDS_CHANGED = frame_type(ROOM, "hands.changed", HandsData)
CHAT_POSTED = frame_type(ROOM, "chat.posted", dict)
CHAT_DELETED = frame_type(ROOM, "chat.deleted", ChatDeletedData)
QUESTION_CHANGED = frame_type(ROOM, "question.changed", dict)
QUESTION_DELETED = frame_type(ROOM, "question.deleted", IdData)
TIMERS_CHANGED = frame_type(ROOM, "timers.changed", TimersData)
ANNOUNCEMENT_POSTED = frame_type(ROOM, "announcement.posted", dict)
HELP_CHANGED = frame_type(ROOM, "help.changed", HelpQueueData)
TABLE_HELP_CHANGED = frame_type(ROOM, "table.help_changed", TableHelpData)
AWAY_CHANGED = frame_type(ROOM, "away.changed", AwayData)
SEATING_CHANGED = frame_type(ROOM, "seating.changed", SeatingData)
SEAT_MOVED = frame_type(ROOM, "seat.moved", SeatMovedData)
POLL_OPENED = frame_type(ROOM, "poll.opened", dict)
POLL_CLOSED = frame_type(ROOM, "poll.closed", PollClosedData)
POLL_PUBLISHED = frame_type(ROOM, "poll.published", PollPublishedData)
POLL_TABLE_ANSWER = frame_type(
    ROOM, "poll.table_answer_changed", TableAnswerData, old_name="poll.table_answer"
)
PRESENCE_SUMMARY = frame_type(
    ROOM, "presence.summary_changed", PresentData, sequenced=False, old_name="presence.summary"
)
TABLE_PRESENCE = frame_type(
    ROOM, "table.presence_changed", TablePresenceData, sequenced=False, old_name="table.presence"
)
STAFF_PRESENCE = frame_type(
    ROOM, "staff.presence_changed", StaffPresenceData, sequenced=False, old_name="staff.presence"
)
REACTIONS_BURST = frame_type(
    ROOM, "reactions.sent", ReactionsData, sequenced=False, old_name="reactions.burst"
)
ENGAGEMENT_CHANGED = frame_type(ROOM, "engagement.changed", EngagementData, sequenced=False)
# Sent by the media app (classroom/media/), declared here with every live frame.
TALK_CHANGED = frame_type(ROOM, "talk.changed", TalkData, sequenced=False)
MEDIA_HEALTH = frame_type(ROOM, "media.health", MediaHealthData, sequenced=False)
POLL_TALLY = frame_type(ROOM, "poll.tally_changed", dict, sequenced=False, old_name="poll.tally")
PONG = frame_type(ROOM, "pong", PongData, sequenced=False)


# --- Sequenced frames -------------------------------------------------------------


def session_changed(session: LiveSession) -> None:
    emit(session, "session.changed", session_payload(session))


def mode_changed(session: LiveSession, saving: tuple[str, ...] = ()) -> None:
    """`saving`: the session fields the caller changed, stored with the seq."""
    emit(session, "mode.changed", mode_payload(session), saving=saving)


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
            (
                [group_table(session_id, table_id)],
                encode({"type": "table.presence_changed", "data": data}),
            )
        )
    texts.append(
        (
            [group_all(session_id)],
            encode({"type": "presence.summary_changed", "data": {"present": len(online)}}),
        )
    )
    staff = {"online": sorted(online), "away": sorted(away)}
    texts.append(
        ([group_staff(session_id)], encode({"type": "staff.presence_changed", "data": staff}))
    )
    return texts


async def engagement_flush(session_id: int) -> None:

    data = await db_call(_reactions_then_engagement)(session_id)
    await realtime.forward_now(
        [group_staff(session_id)], encode({"type": "engagement.changed", "data": data})
    )


def _reactions_then_engagement(session_id: int) -> dict:
    """Write the pending reactions (classroom/services/reactions.py) first, so
    that the counts staff see include them: one batch per 2 s per session."""
    # A real cycle: the classroom services import this module.
    from classroom.services.reactions import reactions_persist

    try:
        reactions_persist(session_id)
    except Exception:  # kept in the pending list for the next flush
        logger.exception("writing the reactions of session %s failed", session_id)
    return selectors.engagement_list(session_id=session_id)


# --- Polls --------------------------------------------------------------------------


def poll_opened(session: LiveSession, poll) -> None:
    emit(session, "poll.opened", selectors.poll_public_payload(poll))


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
        "poll.table_answer_changed",
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

    texts = await db_call(_poll_tally_texts)(poll_id)
    for groups, text in texts:
        await realtime.forward_now(groups, text)


def poll_tally_publish(poll_id: int) -> None:
    """The tally from synchronous code (a timer thread: a vote through the
    API with no server loop, classroom/services/ephemeral.py)."""
    for groups, text in _poll_tally_texts(poll_id):
        fanout.publish(groups, text)


async def reactions_burst_flush(session_id: int) -> None:
    """The burst only; the engagement flush writes the reactions (every 2 s)."""
    # A real cycle: the classroom services import this module.
    from classroom.services.reactions import reaction_burst_take

    counts = await db_call(reaction_burst_take)(session_id)
    if counts:
        await frames.send_now(
            [group_all(session_id)], REACTIONS_BURST, {"counts": counts, "at": timezone.now()}
        )


def _poll_tally_texts(poll_id: int) -> list[tuple[list[str], str]]:
    poll = Poll.objects.select_related("session").get(pk=poll_id)
    session_id = poll.session_id
    # One read of the responses serves both tallies.
    staff = {**selectors.poll_results_get(poll=poll, for_staff=True), "audience": "staff"}
    texts = [([group_staff(session_id)], encode({"type": "poll.tally_changed", "data": staff}))]
    if poll.show_live_results and poll.state == PollState.OPEN:
        # The learners' view of an open poll: no names, nothing that could
        # reveal the correct answer (docs/polls.md).
        hidden = {"not_answered", "right", "correct", "correct_count", "audience"}
        public = {key: value for key, value in staff.items() if key not in hidden}
        public["audience"] = "public"
        texts.append(
            ([group_learners(session_id)], encode({"type": "poll.tally_changed", "data": public}))
        )
    return texts
