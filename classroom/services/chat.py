"""Chat channels (class, table, staff) and Q&A."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record
from classroom import events
from classroom.models import (
    ChatChannel,
    ChatMessage,
    LiveSession,
    Participant,
    Question,
    QuestionUpvote,
    Seat,
    SessionState,
)
from classroom.services import ephemeral
from classroom.services.common import service_transaction, session_lock
from core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from core.rooms.limits import over_limit
from core.text import text_visible

MESSAGE_MAX_LENGTH = 2000
RATE_LIMIT_MESSAGES = 5
RATE_LIMIT_SECONDS = 5


def _record(session: LiveSession, actor, verb: str, object_type: str, object_id, **fields) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        course_id=session.course_id,
        live_session_id=session.pk,
        **fields,
    )


def _clean_body(body) -> str:
    if not isinstance(body, str) or not text_visible(body):
        raise ValidationError(
            _("The message is empty."), code="message_empty", details={"body": "empty"}
        )
    body = body.strip()
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            _("A message has at most %(max)d characters.") % {"max": MESSAGE_MAX_LENGTH},
            code="message_too_long",
            details={"body": f"{len(body)} > {MESSAGE_MAX_LENGTH}"},
        )
    return body


def _require_open(session: LiveSession) -> None:
    if session.state not in (SessionState.LIVE, SessionState.SCHEDULED):
        raise ConflictError(_("The session has ended; chat is read-only."), code="session_not_live")


def _check_rate(session: LiveSession, user) -> None:
    """At most RATE_LIMIT_MESSAGES chat messages and questions per window.
    Exact: the caller holds the session lock, so counts cannot race."""
    since = timezone.now() - timedelta(seconds=RATE_LIMIT_SECONDS)
    recent = (
        ChatMessage.objects.filter(session=session, author=user, created_at__gte=since)
        .order_by()
        .values("created_at")
        .union(
            Question.objects.filter(session=session, author=user, created_at__gte=since)
            .order_by()
            .values("created_at"),
            all=True,
        )
        .count()
    )  # one statement for both
    over_limit(
        recent + 1,  # with this one
        RATE_LIMIT_MESSAGES,
        _("You are sending messages too fast: at most %(n)d per %(s)d seconds.")
        % {"n": RATE_LIMIT_MESSAGES, "s": RATE_LIMIT_SECONDS},
    )


def chat_send(
    *, session_id: int, user, channel: str, body: str, is_staff: bool, table_id: int | None = None
) -> ChatMessage:
    """Post to the class, a table or the staff channel. Learners post to their
    own table; staff may post to any table by naming it."""
    if channel not in ChatChannel.values:
        raise ValidationError(
            _("Unknown chat channel."),
            code="invalid_channel",
            details={"channel": ChatChannel.values},
        )
    body = _clean_body(body)
    with service_transaction():
        session = session_lock(session_id)
        _require_open(session)
        target_table = None
        if channel == ChatChannel.STAFF and not is_staff:
            raise PermissionDeniedError(_("The staff channel is for staff only."), code="forbidden")
        if channel == ChatChannel.TABLE:
            own = (
                Seat.objects.filter(course_id=session.course_id, user=user)
                .values_list("table_id", flat=True)
                .first()
            )
            if is_staff:
                target_table = table_id or own
                if (
                    target_table is None
                    or not session.course.tables.filter(pk=target_table).exists()
                ):
                    raise NotFoundError(_("No such table in this course."), code="table_not_found")
            else:
                if own is None:
                    raise ConflictError(_("You are not seated at a table."), code="not_seated")
                if table_id not in (None, own):
                    raise PermissionDeniedError(
                        _("You can only write to your own table."), code="forbidden"
                    )
                target_table = own
        _check_rate(session, user)
        message = ChatMessage.objects.create(
            session=session, channel=channel, table_id=target_table, author=user, body=body
        )
        events.chat_posted(session, message)
        ephemeral.engagement_changed(session_id)
        _record(
            session,
            user,
            "chatted",
            "chat_message",
            message.pk,
            response=body,
            extensions={"channel": channel, "table_id": target_table},
        )
        Participant.objects.filter(session=session, user=user).update(
            last_chatted_at=message.created_at
        )
    return message


def chat_delete(*, session_id: int, actor, message_id: int) -> ChatMessage:
    """Staff only (the caller checked); the deletion reaches everyone who saw it."""
    with transaction.atomic():
        session = session_lock(session_id)
        message = ChatMessage.objects.filter(pk=message_id, session=session).first()
        if message is None:
            raise NotFoundError(_("No such message."), code="message_not_found")
        if message.deleted_at is not None:
            raise ConflictError(_("Already deleted."), code="already_deleted")
        message.deleted_at = timezone.now()
        message.deleted_by = actor
        message.save(update_fields=["deleted_at", "deleted_by"])
        events.chat_deleted(session, message)
        _record(session, actor, "deleted_message", "chat_message", message.pk)
    return message


def question_ask(*, session_id: int, user, body: str, anonymous: bool = False) -> Question:
    body = _clean_body(body)
    with transaction.atomic():
        session = session_lock(session_id)
        _require_open(session)
        if anonymous and not session.anonymous_questions_allowed:
            raise PermissionDeniedError(
                _("The instructor has turned off anonymous questions."), code="anonymous_disabled"
            )
        _check_rate(session, user)
        question = Question.objects.create(
            session=session, author=user, body=body, is_anonymous=bool(anonymous)
        )
        events.question_changed(session, question)
        # Anonymous questions keep no actor in the learning log either.
        _record(
            session,
            None if anonymous else user,
            "asked",
            "question",
            question.pk,
            response=body,
            extensions={"anonymous": bool(anonymous)},
        )
    return question


def question_upvote(*, session_id: int, user, question_id: int) -> Question:
    with transaction.atomic():
        session = session_lock(session_id)
        question = Question.objects.filter(
            pk=question_id, session=session, deleted_at__isnull=True
        ).first()
        if question is None:
            raise NotFoundError(_("No such question."), code="question_not_found")
        if question.author_id == user.pk:
            # Anonymous or not: a question's votes say how many others want it answered.
            raise PermissionDeniedError(
                _("You cannot upvote your own question."), code="own_question"
            )
        try:
            with transaction.atomic():
                QuestionUpvote.objects.create(question=question, user=user)
        except IntegrityError:
            raise ConflictError(
                _("You already upvoted this question."), code="already_upvoted"
            ) from None
        Question.objects.filter(pk=question.pk).update(upvote_count=F("upvote_count") + 1)
        question.refresh_from_db()
        events.question_changed(session, question)
        _record(session, user, "upvoted", "question", question.pk)
    return question


def question_answer(*, session_id: int, actor, question_id: int) -> Question:
    with transaction.atomic():
        session = session_lock(session_id)
        question = Question.objects.filter(
            pk=question_id, session=session, deleted_at__isnull=True
        ).first()
        if question is None:
            raise NotFoundError(_("No such question."), code="question_not_found")
        if question.answered_at is None:
            question.answered_at = timezone.now()
            question.answered_by = actor
            question.save(update_fields=["answered_at", "answered_by"])
            events.question_changed(session, question)
            _record(session, actor, "answered_question", "question", question.pk)
    return question


def question_delete(*, session_id: int, actor, question_id: int) -> None:
    with transaction.atomic():
        session = session_lock(session_id)
        question = Question.objects.filter(
            pk=question_id, session=session, deleted_at__isnull=True
        ).first()
        if question is None:
            raise NotFoundError(_("No such question."), code="question_not_found")
        question.deleted_at = timezone.now()
        question.save(update_fields=["deleted_at"])
        events.question_changed(session, question)
        _record(session, actor, "deleted_question", "question", question.pk)
