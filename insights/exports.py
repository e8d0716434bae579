"""CSV and JSON-lines exports, streamed: rows come from a server-side cursor
(`iterator()`) and leave as they are made, so memory does not grow with the
course (docs/analytics.md#exports)."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async

from insights.models import CourseRollup, SessionRollup
from insights.selectors import tables_of_course

SESSION_COLUMNS = (
    "user_id",
    "name",
    "table",
    "session_id",
    "status",
    "mode",
    "online_time_s",
    "attendance_percent",
    "talk_time_s",
    "talk_turns",
    "messages",
    "reactions",
    "raised_hands",
    "questions",
    "upvotes",
    "poll_votes",
    "polls_correct",
    "active_windows",
    "windows",
    "watched_s",
    "watch_percent",
    "playback_completed",
    "first_join",
    "last_leave",
    "activity_score",
)
SESSION_SOURCE = (
    "user_id",
    "user__display_name",
    "user__username",
    "table_id",
    "live_session_id",
    "status",
    "engagement_mode",
    "present_ms",
    "attendance_percent",
    "talk_ms",
    "talk_turns",
    "messages",
    "reactions",
    "hands",
    "questions",
    "upvotes",
    "polls_answered",
    "playback_polls_answered",
    "polls_correct",
    "playback_polls_correct",
    "windows_active",
    "playback_windows_active",
    "windows_total",
    "watched_ms",
    "watch_percent",
    "playback_completed",
    "first_joined_at",
    "last_left_at",
    "engagement_score",
)
COURSE_COLUMNS = (
    "user_id",
    "name",
    "sessions_held",
    "sessions_present",
    "sessions_watched_later",
    "sessions_absent",
    "attendance_percent",
    "active_percent",
    "talk_time_s",
    "messages",
    "reactions",
    "raised_hands",
    "questions",
    "polls_open",
    "poll_votes",
    "polls_graded",
    "polls_correct",
    "recordings_started",
    "recordings_completed",
    "watched_s",
    "reviews_done",
    "reviews_correct",
    "review_recall_mean",
    "engagement_score",
    "at_risk",
    "last_activity_at",
)


STREAM_CHUNK_LINES = 500


async def lines_async(lines: Iterator[str]) -> AsyncIterator[str]:
    """The same lines for an ASGI server (Daphne), in chunks read from the
    database thread. A synchronous iterator would be read whole into memory
    by Django's ASGI handler before the first byte leaves."""

    def next_chunk() -> str:
        chunk = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= STREAM_CHUNK_LINES:
                break
        return "".join(chunk)

    while chunk := await sync_to_async(next_chunk, thread_sensitive=True)():
        yield chunk


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def _seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.1f}"


def _session_rows(rows, tables: dict[int, str]) -> Iterator[list]:
    for r in rows:
        values = dict(zip(SESSION_SOURCE, r, strict=True))
        yield [
            values["user_id"],
            values["user__display_name"] or values["user__username"],
            tables.get(values["table_id"], ""),
            values["live_session_id"],
            values["status"],
            values["engagement_mode"],
            _seconds(values["present_ms"]),
            values["attendance_percent"],
            _seconds(values["talk_ms"]),
            values["talk_turns"],
            values["messages"],
            values["reactions"],
            values["hands"],
            values["questions"],
            values["upvotes"],
            values["polls_answered"] + values["playback_polls_answered"],
            values["polls_correct"] + values["playback_polls_correct"],
            max(values["windows_active"], values["playback_windows_active"]),
            values["windows_total"],
            _seconds(values["watched_ms"]),
            values["watch_percent"],
            values["playback_completed"],
            values["first_joined_at"].isoformat() if values["first_joined_at"] else "",
            values["last_left_at"].isoformat() if values["last_left_at"] else "",
            values["engagement_score"],
        ]


def session_csv(session_id: int, course_id: int) -> Iterator[str]:
    rows = (
        SessionRollup.objects.filter(live_session_id=session_id)
        .order_by("user__display_name", "user_id")
        .values_list(*SESSION_SOURCE)
        .iterator(chunk_size=2000)
    )
    return _csv_lines(SESSION_COLUMNS, _session_rows(rows, tables_of_course(course_id)))


def course_sessions_csv(course_id: int) -> Iterator[str]:
    """One row per (learner, session) of the course."""
    rows = (
        SessionRollup.objects.filter(course_id=course_id)
        .order_by("user_id", "session_start", "live_session_id")
        .values_list(*SESSION_SOURCE)
        .iterator(chunk_size=2000)
    )
    return _csv_lines(SESSION_COLUMNS, _session_rows(rows, tables_of_course(course_id)))


def course_csv(course_id: int) -> Iterator[str]:
    """One row per learner of the course (the course rollup)."""
    rows = (
        CourseRollup.objects.filter(course_id=course_id)
        .order_by("user__display_name", "user_id")
        .values_list(
            "user_id",
            "user__display_name",
            "user__username",
            "sessions_held",
            "sessions_present",
            "sessions_watched_later",
            "sessions_absent",
            "attendance_percent",
            "active_percent",
            "talk_ms",
            "messages",
            "reactions",
            "hands",
            "questions",
            "polls_open",
            "polls_answered",
            "polls_graded",
            "polls_correct",
            "recordings_started",
            "recordings_completed",
            "watched_ms",
            "reviews_done",
            "reviews_correct",
            "review_recall_mean",
            "engagement_score",
            "risk_reasons",
            "last_activity_at",
        )
        .iterator(chunk_size=2000)
    )

    def lines():
        for r in rows:
            (user_id, display, username, *middle, recall, score, risks, last) = r
            middle[6] = _seconds(middle[6])  # talk_ms
            middle[17] = _seconds(middle[17])  # watched_ms
            yield [
                user_id,
                display or username,
                *middle,
                "" if recall is None else recall,
                score,
                " ".join(risks),
                last.isoformat() if last else "",
            ]

    return _csv_lines(COURSE_COLUMNS, lines())
