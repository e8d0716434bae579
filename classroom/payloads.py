"""Payloads of the live classroom, shared by its frames (classroom/events.py)
and its snapshot (classroom/selectors.py), and the room's stream routing.
Neither module imports the other for these: no import cycle."""

from __future__ import annotations

from typing import Any

from classroom.models import Announcement, ChatMessage, HelpFlag, LiveSession, Question, Timer
from core.rooms.streams import Streams

STREAMS = Streams("live", staff=True)


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
