"""Polls and quizzes: the question bank, session plans, launching, voting,
closing and publishing. docs/polls.md explains the choices."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import math
import re
import secrets
import unicodedata
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record
from classroom import events
from classroom.models import (
    Attendance,
    BankQuestion,
    LiveSession,
    Poll,
    PollBallot,
    PollKind,
    PollResponse,
    PollScope,
    PollState,
    Seat,
    SessionPlanItem,
    SessionState,
)
from classroom.services import ephemeral
from classroom.services.common import (
    require_live,
    session_key_share,
    session_lock,
)
from core import asyncdb
from core.asyncdb import db_call
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.text import text_visible

logger = logging.getLogger(__name__)

OPTIONS_MIN, OPTIONS_MAX = 2, 10
OPTION_ID_MAX = 40
TEXT_ANSWER_MAX = 2000
ACCEPTED_MAX = 50  # accepted answers of a short-text question
PROMPT_MAX = 500
POLL_TIMER_MAX_SECONDS = 3600
FIXED_OPTIONS = {
    PollKind.TRUE_FALSE: [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}],
    PollKind.YES_NO_ABSTAIN: [
        {"id": "yes", "text": "Yes"},
        {"id": "no", "text": "No"},
        {"id": "abstain", "text": "Abstain"},
    ],
}
CHOICE_KINDS = {PollKind.SINGLE, PollKind.MULTIPLE, PollKind.TRUE_FALSE, PollKind.YES_NO_ABSTAIN}


def _invalid(field: str, message: str, code: str = "invalid_poll") -> ValidationError:
    return ValidationError(message, code=code, details={field: message})


# --- Definitions ------------------------------------------------------------------------


def definition_clean(*, kind: str, definition: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise a question's kind-specific fields.

    single/multiple: options [{id?, text}] (2-10), correct [ids] (optional; quiz)
    true_false/yes_no_abstain: fixed options, correct [ids] (optional)
    rating: scale 5 or 10
    short_text: accepted [texts] (optional; quiz)
    numeric: correct_value (optional; quiz), tolerance >= 0
    """
    if kind not in PollKind.values:
        raise _invalid("kind", _("Unknown question type."))
    if not isinstance(definition, dict):
        raise _invalid("definition", _("The question definition must be an object."))
    clean: dict[str, Any] = {}
    if kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        options = definition.get("options")
        if not isinstance(options, list) or not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
            raise _invalid("options", _("A choice question has 2 to 10 options."))
        clean_options, seen = [], set()
        for index, option in enumerate(options):
            text = option.get("text") if isinstance(option, dict) else option
            if not isinstance(text, str) or not text.strip() or len(text) > 300:
                raise _invalid(
                    "options",
                    _("Option %(n)d needs a text of 1 to 300 characters.") % {"n": index + 1},
                )
            raw_id = option.get("id") if isinstance(option, dict) else None
            if raw_id is not None and raw_id != "" and not _option_id_like(raw_id):
                raise _invalid("options", _("Option ids are texts."))
            option_id = str(raw_id) if raw_id else chr(97 + index)
            if len(option_id) > OPTION_ID_MAX:
                raise _invalid(
                    "options",
                    _("Option ids have at most %(n)d characters.") % {"n": OPTION_ID_MAX},
                )
            if option_id in seen:
                raise _invalid("options", _("Option ids must be unique."))
            seen.add(option_id)
            clean_options.append({"id": option_id, "text": text.strip()})
        clean["options"] = clean_options
        if kind == PollKind.MULTIPLE and definition.get("max_choices") is not None:
            max_choices = definition["max_choices"]
            if not _whole(max_choices) or not 1 <= max_choices <= len(clean_options):
                raise _invalid(
                    "max_choices", _("Max choices must be between 1 and the number of options.")
                )
            clean["max_choices"] = max_choices
    elif kind in FIXED_OPTIONS:
        clean["options"] = FIXED_OPTIONS[kind]
    if kind in CHOICE_KINDS:
        ids = {option["id"] for option in clean["options"]}
        correct = definition.get("correct") or []
        if not isinstance(correct, list) or any(
            not _option_id_like(c) or str(c) not in ids for c in correct
        ):
            raise _invalid("correct", _("Correct answers must be ids of the options."))
        if kind != PollKind.MULTIPLE and len(correct) > 1:
            raise _invalid("correct", _("This type has one correct answer."))
        clean["correct"] = [str(c) for c in correct]
    elif kind == PollKind.RATING:
        scale = definition.get("scale", 5)
        if not _whole(scale) or scale not in (5, 10):
            raise _invalid("scale", _("A rating scale runs 1-5 or 1-10."))
        clean["scale"] = scale
    elif kind == PollKind.SHORT_TEXT:
        accepted = definition.get("accepted") or []
        if not isinstance(accepted, list) or any(
            not isinstance(a, str) or not a.strip() for a in accepted
        ):
            raise _invalid("accepted", _("Accepted answers must be non-empty texts."))
        if len(accepted) > ACCEPTED_MAX:
            raise _invalid("accepted", _("At most %(n)d accepted answers.") % {"n": ACCEPTED_MAX})
        if any(len(a.strip()) > TEXT_ANSWER_MAX for a in accepted):
            raise _invalid(
                "accepted",
                _("An accepted answer has at most %(n)d characters.") % {"n": TEXT_ANSWER_MAX},
            )
        clean["accepted"] = [a.strip() for a in accepted]
    elif kind == PollKind.NUMERIC:
        value = definition.get("correct_value")
        tolerance = definition.get("tolerance", 0)
        if value is not None and not _finite(value):
            raise _invalid(
                "correct_value",
                _("The correct value must be a number between -10^15 and 10^15."),
            )
        if not _finite(tolerance) or tolerance < 0:
            raise _invalid("tolerance", _("The tolerance must be zero or a positive number."))
        clean["correct_value"] = value
        clean["tolerance"] = tolerance
    return clean


NUMERIC_LIMIT = (
    1e15  # numeric answers and keys: |x| <= 10^15, so sums and means stay exact enough and finite
)


def _finite(value) -> bool:
    """A real number a numeric question may hold: not a boolean, not NaN or
    infinite, and no larger than NUMERIC_LIMIT (an int of 400 digits cannot
    even become a float; 1e308 twice overflows the mean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and abs(value) <= NUMERIC_LIMIT
    except OverflowError:
        return False


def _option_id_like(value) -> bool:
    """An option id as a client may send it: a text, or a whole number (ids
    are compared as text). An object, a list or a boolean is not one: its
    string form ("{'a': 1}") must never be stored as an answer."""
    return isinstance(value, str) or _whole(value)


def _whole(value) -> bool:
    """An int, not a bool (True == 1) and not a float (5.0 == 5)."""
    return isinstance(value, int) and not isinstance(value, bool)


def points_clean(points) -> int:
    if not _whole(points) or not 0 <= points <= 100:
        raise _invalid("points", _("Points run from 0 to 100."))
    return points


def has_correct_answer(kind: str, definition: dict) -> bool:
    if kind in CHOICE_KINDS:
        return bool(definition.get("correct"))
    if kind == PollKind.SHORT_TEXT:
        return bool(definition.get("accepted"))
    if kind == PollKind.NUMERIC:
        return definition.get("correct_value") is not None
    return False


def normalise_text(text: str) -> str:
    """Group typed answers: case, accents-compatible forms, punctuation and
    spacing do not matter ("  Mitochondria!" == "mitochondria")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def answer_clean(*, poll: Poll, answer: Any) -> dict[str, Any]:
    """Validate a learner's answer against the poll; returns its stored form."""
    if not isinstance(answer, dict):
        raise _invalid("answer", _("The answer must be an object."), "invalid_answer")
    kind, definition = poll.kind, poll.definition
    if kind in CHOICE_KINDS:
        ids = [option["id"] for option in definition["options"]]
        if kind == PollKind.MULTIPLE:
            chosen = answer.get("options")
            if not isinstance(chosen, list) or not chosen:
                raise _invalid("options", _("Choose at least one option."), "invalid_answer")
            if not all(_option_id_like(c) for c in chosen):
                raise _invalid("options", _("Option ids are texts."), "invalid_answer")
            chosen = [str(c) for c in chosen]
            if len(set(chosen)) != len(chosen) or any(c not in ids for c in chosen):
                raise _invalid("options", _("Unknown or repeated option."), "invalid_answer")
            limit = definition.get("max_choices", len(ids))
            if len(chosen) > limit:
                raise _invalid(
                    "options", _("Choose at most %(n)d options.") % {"n": limit}, "invalid_answer"
                )
            return {"options": sorted(chosen, key=ids.index)}
        chosen = answer.get("option")
        if not _option_id_like(chosen):
            raise _invalid("option", _("An option id is a text."), "invalid_answer")
        if str(chosen) not in ids:
            raise _invalid("option", _("Unknown option."), "invalid_answer")
        return {"option": str(chosen)}
    if kind == PollKind.RATING:
        value = answer.get("value")
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= definition["scale"]
        ):
            raise _invalid(
                "value",
                _("Choose a whole number from 1 to %(n)d.") % {"n": definition["scale"]},
                "invalid_answer",
            )
        return {"value": value}
    if kind == PollKind.SHORT_TEXT:
        text = answer.get("text")
        if not isinstance(text, str) or not text_visible(text):
            raise _invalid("text", _("The answer is empty."), "invalid_answer")
        if len(text) > TEXT_ANSWER_MAX:
            raise _invalid(
                "text",
                _("An answer has at most %(n)d characters.") % {"n": TEXT_ANSWER_MAX},
                "invalid_answer",
            )
        return {"text": text.strip()}
    value = answer.get("value")
    if not _finite(value):
        raise _invalid(
            "value",
            _("The answer must be a number between -10^15 and 10^15."),
            "invalid_answer",
        )
    return {"value": value}


def answer_grade(*, poll: Poll, answer: dict) -> tuple[bool | None, float | None]:
    if not poll.is_quiz:
        return None, None
    definition = poll.definition
    if poll.kind in CHOICE_KINDS:
        chosen = set(answer.get("options") or [answer.get("option")])
        correct = chosen == set(definition["correct"])
    elif poll.kind == PollKind.SHORT_TEXT:
        correct = normalise_text(answer["text"]) in {
            normalise_text(a) for a in definition["accepted"]
        }
    elif poll.kind == PollKind.NUMERIC:
        correct = abs(answer["value"] - definition["correct_value"]) <= definition["tolerance"]
    else:
        return None, None
    return correct, float(poll.points) if correct else 0.0


# --- Bank and plan ----------------------------------------------------------------------


def bank_question_create(
    *, course, actor, kind: str, prompt: str, definition: dict, points: int = 1
) -> BankQuestion:
    prompt = (prompt or "").strip()
    if not prompt or len(prompt) > PROMPT_MAX:
        raise _invalid("prompt", _("A question has 1 to 500 characters."))
    points = points_clean(points)
    clean = definition_clean(kind=kind, definition=definition)
    return BankQuestion.objects.create(
        course=course, kind=kind, prompt=prompt, definition=clean, points=points, created_by=actor
    )


def session_plan_add(
    *, session: LiveSession, question: BankQuestion, settings_: dict | None = None
) -> SessionPlanItem:
    if question.course_id != session.course_id:
        raise NotFoundError(_("No such question in this course."), code="question_not_found")
    last = (
        SessionPlanItem.objects.filter(session=session)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    try:
        with transaction.atomic():
            return SessionPlanItem.objects.create(
                session=session,
                question=question,
                position=(last or 0) + 1,
                settings=_launch_settings(settings_ or {}),
            )
    except IntegrityError:
        raise ConflictError(
            _("This question is already in the plan."), code="already_planned"
        ) from None


def session_plan_reorder(*, session: LiveSession, item_ids: list[int]) -> None:
    items = {item.pk: item for item in SessionPlanItem.objects.filter(session=session)}
    if sorted(item_ids) != sorted(items):
        raise _invalid("items", _("Give every item of the plan exactly once."))
    with transaction.atomic():
        for position, item_id in enumerate(item_ids, start=1):
            SessionPlanItem.objects.filter(pk=item_id).update(position=position)


def session_plan_remove(*, session: LiveSession, item_id: int) -> None:
    deleted, _unused = SessionPlanItem.objects.filter(session=session, pk=item_id).delete()
    if not deleted:
        raise NotFoundError(_("No such plan item."), code="plan_item_not_found")


def _launch_settings(raw: dict) -> dict:
    """Per-poll settings chosen at launch (or stored with a plan item)."""
    if not isinstance(raw, dict):
        raise _invalid("settings", _("Settings must be an object."))
    scope = raw.get("scope", PollScope.CLASS)
    if scope not in PollScope.values:
        raise _invalid("scope", _("Unknown scope."))
    seconds = raw.get("timer_seconds")
    if seconds is not None and (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not 5 <= seconds <= POLL_TIMER_MAX_SECONDS
    ):
        raise _invalid("timer_seconds", _("A poll timer runs from 5 seconds to an hour."))
    flags = {}
    for name, default in (
        ("anonymous", False),
        ("allow_change", True),
        ("show_live_results", False),
        ("quiz", None),
    ):
        value = raw.get(name, default)
        if value is not None and not isinstance(value, bool):
            raise _invalid(name, _("%(name)s must be true or false.") % {"name": name})
        flags[name] = value
    return {"scope": scope, "timer_seconds": seconds, **flags}


# --- Lifecycle --------------------------------------------------------------------------


def poll_open(
    *,
    session_id: int,
    actor,
    kind: str | None = None,
    prompt: str | None = None,
    definition: dict | None = None,
    points: int = 1,
    question_id: int | None = None,
    settings_: dict | None = None,
) -> Poll:
    """Launch a poll from the bank (`question_id`) or on the fly (kind, prompt,
    definition). Quiz mode is on when the question has a correct answer unless
    the settings say otherwise."""
    with transaction.atomic():
        session = session_lock(session_id)
        if session.state in (SessionState.ENDED, SessionState.CANCELLED):
            raise ConflictError(
                _("This session is over: no new polls can be created."), code="session_not_live"
            )
        require_live(session)
        launch = dict(settings_ or {})
        if question_id is not None:
            question = BankQuestion.objects.filter(
                pk=question_id, course_id=session.course_id
            ).first()
            if question is None:
                raise NotFoundError(
                    _("No such question in this course."), code="question_not_found"
                )
            planned = SessionPlanItem.objects.filter(session=session, question=question).first()
            if planned:
                launch = {**planned.settings, **launch}
            kind, prompt, clean, points = (
                question.kind,
                question.prompt,
                question.definition,
                question.points,
            )
        else:
            prompt = (prompt or "").strip()
            if not prompt or len(prompt) > PROMPT_MAX:
                raise _invalid("prompt", _("A question has 1 to 500 characters."))
            clean = definition_clean(kind=kind or "", definition=definition or {})
            points = points_clean(points)
            question = None
        options = _launch_settings(launch)
        gradable = has_correct_answer(kind, clean)
        is_quiz = gradable if options["quiz"] is None else (options["quiz"] and gradable)
        if options["quiz"] and not gradable:
            raise _invalid("quiz", _("Quiz mode needs a correct answer."))
        if options["scope"] == PollScope.ONE_PER_TABLE and options["anonymous"]:
            raise _invalid("anonymous", _("A shared table answer cannot be anonymous."))
        now = timezone.now()
        poll = Poll.objects.create(
            session=session,
            source_question=question,
            kind=kind,
            prompt=prompt,
            definition=clean,
            points=points,
            is_quiz=is_quiz,
            is_anonymous=options["anonymous"],
            scope=options["scope"],
            # An anonymous answer is final: nothing links it to its learner, so
            # nothing could find it again to change it (docs/polls.md).
            allow_change=options["allow_change"] and not options["anonymous"],
            show_live_results=options["show_live_results"],
            opened_at=now,
            closes_at=now + timedelta(seconds=options["timer_seconds"])
            if options["timer_seconds"]
            else None,
            created_by=actor,
        )
        events.poll_opened(session, poll)
        ephemeral.poll_state_changed(session_id, poll.pk)
        poll_close_when_due(session_id, poll)
        _record(
            session,
            actor,
            "opened_poll",
            poll,
            extensions={"kind": kind, "scope": poll.scope, "quiz": is_quiz},
        )
    return poll


def poll_close(*, session_id: int, actor, poll_id: int) -> Poll:
    """Close a poll (also called when its timer ran out; then actor is None).
    Waits for votes in flight (they hold a share lock on the poll row)."""
    with transaction.atomic():
        session = session_lock(session_id)
        poll = Poll.objects.select_for_update().filter(pk=poll_id, session=session).first()
        if poll is None:
            raise NotFoundError(_("No such poll."), code="poll_not_found")
        if poll.state == PollState.CLOSED:
            raise ConflictError(_("The poll is already closed."), code="poll_closed")
        now = timezone.now()
        poll.state = PollState.CLOSED
        poll.closed_at = min(now, poll.closes_at) if poll.closes_at else now
        poll.save(update_fields=["state", "closed_at"])
        count = PollResponse.objects.filter(poll=poll).count()
        events.poll_closed(session, poll, count)
        ephemeral.poll_state_changed(session_id, poll.pk)
        _record(
            session,
            actor,
            "closed_poll",
            poll,
            extensions={"responses": count, "timer": actor is None},
        )
    return poll


def poll_close_if_due(*, session_id: int, poll_id: int) -> bool:
    poll = Poll.objects.filter(pk=poll_id, session_id=session_id).first()
    if (
        poll is None
        or poll.state != PollState.OPEN
        or not poll.closes_at
        or poll.closes_at > timezone.now()
    ):
        return False
    try:
        poll_close(session_id=session_id, actor=None, poll_id=poll_id)
    except ConflictError:
        return False
    return True


def poll_close_when_due(session_id: int, poll: Poll) -> None:
    """Close a timed poll when its timer runs out (votes after that are
    refused anyway; this makes the close visible without anyone acting): on
    the server loop that runs this service's database thread, after commit."""
    loop = asyncdb.server_loop()
    if poll.closes_at is None or loop is None:
        return
    poll_id, closes_at = poll.pk, poll.closes_at

    def timer() -> None:
        delay = max(0.0, (closes_at - timezone.now()).total_seconds()) + 0.05
        loop.call_later(
            delay,
            lambda: asyncio.ensure_future(_poll_close_due(session_id, poll_id)),
            context=contextvars.Context(),
        )

    transaction.on_commit(lambda: loop.call_soon_threadsafe(timer, context=contextvars.Context()))


async def _poll_close_due(session_id: int, poll_id: int) -> None:
    try:
        await db_call(poll_close_if_due)(session_id=session_id, poll_id=poll_id)
    except Exception:  # e.g. the database is down: the next vote is refused anyway
        logger.exception("closing timed poll %s failed", poll_id)


def poll_publish(*, session_id: int, actor, poll_id: int) -> Poll:
    """Show the results (and in quiz mode the correct answer) to learners."""
    from classroom.selectors import poll_results_get

    with transaction.atomic():
        session = session_lock(session_id)
        poll = Poll.objects.select_for_update().filter(pk=poll_id, session=session).first()
        if poll is None:
            raise NotFoundError(_("No such poll."), code="poll_not_found")
        if poll.state != PollState.CLOSED:
            raise ConflictError(
                _("Close the poll before publishing its results."), code="poll_open"
            )
        if poll.published_at is not None:
            raise ConflictError(_("The results are already published."), code="already_published")
        poll.published_at = timezone.now()
        poll.save(update_fields=["published_at"])
        events.poll_published(session, poll, poll_results_get(poll=poll, for_staff=False))
        _record(session, actor, "published_poll", poll)
    return poll


def poll_reopen(*, session_id: int, actor, poll_id: int) -> Poll:
    """Reopen a closed poll whose results were not published yet."""
    with transaction.atomic():
        session = session_lock(session_id)
        require_live(session)
        poll = Poll.objects.select_for_update().filter(pk=poll_id, session=session).first()
        if poll is None:
            raise NotFoundError(_("No such poll."), code="poll_not_found")
        if poll.published_at is not None:
            raise ConflictError(
                _("Results were published: make a new poll instead of reopening this one."),
                code="poll_published",
            )
        if poll.state == PollState.OPEN:
            raise ConflictError(_("The poll is open."), code="poll_open")
        poll.state = PollState.OPEN
        poll.closed_at = None
        poll.closes_at = None
        poll.save(update_fields=["state", "closed_at", "closes_at"])
        events.poll_opened(session, poll)
        ephemeral.poll_state_changed(session_id, poll.pk)
        _record(session, actor, "reopened_poll", poll)
    return poll


# --- Voting -----------------------------------------------------------------------------


def voter_key(*, poll_id: int, user_id: int | None = None, table_id: int | None = None) -> str:
    subject = f"table:{table_id}" if table_id is not None else f"user:{user_id}"
    message = f"poll:{poll_id}:{subject}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _poll_for_vote(poll_id: int) -> Poll | None:
    """The poll row under a share lock on PostgreSQL: many votes proceed at
    once, and a close (exclusive lock) waits for those in flight."""
    if connection.vendor == "postgresql":
        found = list(
            Poll.objects.raw("SELECT * FROM classroom_poll WHERE id = %s FOR SHARE", [poll_id])
        )
        return found[0] if found else None
    return Poll.objects.filter(pk=poll_id).first()


def poll_vote_cast(
    *, session_id: int, user, poll_id: int, answer: Any
) -> tuple[PollResponse, bool]:
    """Store or replace this learner's (or their table's) answer.

    Returns (response, changed). One row per voter by unique constraint; the
    same answer again changes nothing."""
    with transaction.atomic():
        # Lock order on every poll path: session row, poll row, response row,
        # participant row (poll_close: session, poll). A shared answer is
        # announced to the table as a sequenced frame, so it needs the
        # session's exclusive lock; any other vote takes the session's KEY
        # SHARE lock, which votes share with one another (common.py says why
        # it must come first).
        scope = Poll.objects.filter(pk=poll_id).values_list("scope", flat=True).first()
        session = None
        if scope == PollScope.ONE_PER_TABLE:
            session = session_lock(session_id)
        else:
            session_key_share(session_id)
        poll = _poll_for_vote(poll_id)
        if poll is None or poll.session_id != session_id:
            raise NotFoundError(_("No such poll."), code="poll_not_found")
        now = timezone.now()
        if poll.state != PollState.OPEN or (poll.closes_at and poll.closes_at <= now):
            raise ConflictError(_("The poll is closed."), code="poll_closed")
        if not Attendance.objects.filter(
            session_id=session_id, user=user, left_at__isnull=True
        ).exists():
            raise PermissionDeniedError(
                _("Only learners present in the session can answer."), code="not_present"
            )
        clean = answer_clean(poll=poll, answer=answer)
        table_id = None
        if poll.scope != PollScope.CLASS:
            table_id = (
                Seat.objects.filter(course_id=poll.session.course_id, user=user)
                .values_list("table_id", flat=True)
                .first()
            )
            if table_id is None:
                raise ConflictError(
                    _("This poll is answered per table and you are not seated."), code="not_seated"
                )
        ephemeral.tally_changed(session_id, poll.pk)
        if not poll.is_anonymous:
            # A vote lights the learner's "answered" marker on the console
            # (never for an anonymous poll).
            ephemeral.engagement_changed(session_id)
        if poll.is_anonymous:
            return _anonymous_vote_cast(poll=poll, user=user, answer=clean, table_id=table_id), True
        shared = poll.scope == PollScope.ONE_PER_TABLE
        key = (
            voter_key(poll_id=poll.pk, table_id=table_id)
            if shared
            else voter_key(poll_id=poll.pk, user_id=user.pk)
        )
        is_correct, score = answer_grade(poll=poll, answer=clean)
        response = PollResponse.objects.select_for_update().filter(poll=poll, voter_key=key).first()
        if response is None:
            try:
                with transaction.atomic():
                    response = PollResponse.objects.create(
                        poll=poll,
                        voter_key=key,
                        user=user,
                        table_id=table_id,
                        answer=clean,
                        first_answer=clean,
                        first_answered_at=now,
                        answered_at=now,
                        time_to_first_ms=int((now - poll.opened_at).total_seconds() * 1000),
                        is_correct=is_correct,
                        score=score,
                    )
                created = True
            except IntegrityError:
                response = PollResponse.objects.select_for_update().get(poll=poll, voter_key=key)
                created = False
        else:
            created = False
        if not created:
            if response.answer == clean:
                return response, False
            if not poll.allow_change:
                raise ConflictError(
                    _("This poll does not allow changing your answer."), code="answer_locked"
                )
            response.answer = clean
            response.change_count += 1
            response.answered_at = now
            response.is_correct, response.score = is_correct, score
            response.user = user
            response.save(
                update_fields=[
                    "answer",
                    "change_count",
                    "answered_at",
                    "is_correct",
                    "score",
                    "user",
                ]
            )
        event_record(
            actor=user,
            verb="answered",
            object_type="poll",
            object_id=poll.pk,
            course_id=poll.session.course_id,
            live_session_id=session_id,
            success=is_correct,
            score=score,
            response=_response_text(clean),
            duration_ms=int((now - poll.opened_at).total_seconds() * 1000),
            extensions={
                "changed": not created,
                "change_count": response.change_count,
                "scope": poll.scope,
                "table_id": table_id,
            },
        )
        from classroom.models import Participant

        Participant.objects.filter(session_id=session_id, user=user).update(last_answered_at=now)
        if shared and session is not None:
            events.poll_table_answer_changed(session, poll, table_id, clean, user)
    return response, True


# Ids of anonymous responses are drawn from [2^62, 2^63): far above anything
# the table's sequence hands out, and in no order that follows the votes.
_RANDOM_ID_FLOOR = 2**62


def _anonymous_vote_cast(*, poll: Poll, user, answer: dict, table_id: int | None) -> PollResponse:
    """An anonymous poll's vote: a ballot (learner, poll: that they voted)
    and an answer that nothing links back to them (docs/polls.md, "Anonymous
    polls"): no user, no voter key derived from them, no time, a random id, no
    learning event with the answer or its time, no engagement marker. The
    ballot's unique constraint is the one-vote rule, so an anonymous answer is
    final (poll_open turns `allow_change` off)."""
    table = PollBallot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (id, poll_id, user_id) VALUES (%s, %s, %s) '  # noqa: S608
            "ON CONFLICT (poll_id, user_id) DO NOTHING RETURNING id",
            [uuid.uuid4(), poll.pk, user.pk],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        raise ConflictError(
            _("You have answered this anonymous poll: its answers cannot be changed."),
            code="answer_locked",
        )
    is_correct, score = answer_grade(poll=poll, answer=answer)
    return PollResponse.objects.create(
        id=_RANDOM_ID_FLOOR + secrets.randbelow(_RANDOM_ID_FLOOR - 1),
        poll=poll,
        voter_key=secrets.token_hex(32),
        user=None,
        table_id=table_id,
        answer=answer,
        first_answer=answer,
        first_answered_at=None,
        answered_at=None,
        time_to_first_ms=None,
        is_correct=is_correct,
        score=score,
    )


def _response_text(answer: dict) -> str:
    if "options" in answer:
        return ",".join(answer["options"])
    if "option" in answer:
        return answer["option"]
    return str(answer.get("text", answer.get("value", "")))


def _record(session: LiveSession, actor, verb: str, poll: Poll, **fields) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type="poll",
        object_id=poll.pk,
        course_id=session.course_id,
        live_session_id=session.pk,
        **fields,
    )
