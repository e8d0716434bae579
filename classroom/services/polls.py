"""Polls and quizzes: the question bank, session plans, launching, voting,
closing and publishing. docs/polls.md explains the choices."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record, events_record_many
from classroom import events
from classroom.models import (
    Attendance,
    ClientAction,
    LiveSession,
    Participant,
    Poll,
    PollBallot,
    PollResponse,
    PollScope,
    PollState,
    Seat,
    SessionPlanItem,
    SessionState,
)
from classroom.selectors import poll_results_get
from classroom.services import ephemeral
from classroom.services.common import (
    action_apply,
    require_live,
    service_transaction,
    session_key_share,
    session_lock,
)
from core import asyncdb, rows
from core.asyncdb import db_call
from core.dbfailure import database_unavailable
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from core.rooms.actions import CLIENT_ID_MAX, action_claim_time_set
from questions import grading
from questions.grading import (  # noqa: F401 (normalise_text: classroom.selectors reads it here)
    PROMPT_MAX,
    definition_clean,
    has_correct_answer,
    invalid_field,
    normalise_text,
    points_clean,
    response_text,
)
from questions.models import BankQuestion
from questions.services import bank_question_create  # noqa: F401 (the API's entry point)

logger = logging.getLogger(__name__)

POLL_TIMER_MAX_SECONDS = 3600


def answer_clean(*, poll: Poll, answer: Any) -> dict[str, Any]:
    """Validate a learner's answer against the poll; returns its stored form."""
    return grading.answer_clean(question=poll, answer=answer)


def answer_grade(*, poll: Poll, answer: dict) -> tuple[bool | None, float | None]:
    return grading.answer_grade(question=poll, answer=answer)


# --- Bank and plan ----------------------------------------------------------------------


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
        raise invalid_field("items", _("Give every item of the plan exactly once."))
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
        raise invalid_field("settings", _("Settings must be an object."))
    scope = raw.get("scope", PollScope.CLASS)
    if scope not in PollScope.values:
        raise invalid_field("scope", _("Unknown scope."))
    seconds = raw.get("timer_seconds")
    if seconds is not None and (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not 5 <= seconds <= POLL_TIMER_MAX_SECONDS
    ):
        raise invalid_field("timer_seconds", _("A poll timer runs from 5 seconds to an hour."))
    flags = {}
    for name, default in (
        ("anonymous", False),
        ("allow_change", True),
        ("show_live_results", False),
        ("quiz", None),
    ):
        value = raw.get(name, default)
        if value is not None and not isinstance(value, bool):
            raise invalid_field(name, _("%(name)s must be true or false.") % {"name": name})
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
                raise invalid_field("prompt", _("A question has 1 to 500 characters."))
            clean = definition_clean(kind=kind or "", definition=definition or {})
            points = points_clean(points)
            question = None
        options = _launch_settings(launch)
        gradable = has_correct_answer(kind, clean)
        is_quiz = gradable if options["quiz"] is None else (options["quiz"] and gradable)
        if options["quiz"] and not gradable:
            raise invalid_field("quiz", _("Quiz mode needs a correct answer."))
        if options["scope"] == PollScope.ONE_PER_TABLE and options["anonymous"]:
            raise invalid_field("anonymous", _("A shared table answer cannot be anonymous."))
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
    once, and a close (exclusive lock) waits for those in flight. With its
    session's course id (`course_id`), read in the same statement."""
    if connection.vendor == "postgresql":
        found = list(
            Poll.objects.raw(
                "SELECT p.*, s.course_id AS course_id FROM classroom_poll p "
                "JOIN classroom_livesession s ON s.id = p.session_id "
                "WHERE p.id = %s FOR SHARE OF p",
                [poll_id],
            )
        )
        return found[0] if found else None
    poll = Poll.objects.select_related("session").filter(pk=poll_id).first()
    if poll is not None:
        poll.course_id = poll.session.course_id
    return poll


# Poll id -> scope. A poll's scope is set when it opens and never changes;
# a vote needs it before its first lock (the lock order depends on it).
_POLL_SCOPES: dict[int, str] = {}
_POLL_SCOPES_MAX = 10_000


def _poll_scope(poll_id: int) -> str | None:
    scope = _POLL_SCOPES.get(poll_id)
    if scope is None:
        scope = Poll.objects.filter(pk=poll_id).values_list("scope", flat=True).first()
        if scope is not None:
            if len(_POLL_SCOPES) >= _POLL_SCOPES_MAX:
                _POLL_SCOPES.clear()
            _POLL_SCOPES[poll_id] = scope
    return scope


def poll_scopes_clear() -> None:
    """Forget the known scopes (tests: ids repeat after a rollback on SQLite)."""
    _POLL_SCOPES.clear()


def _response_insert(**fields) -> PollResponse | None:
    """INSERT … ON CONFLICT DO NOTHING for a named vote's first answer: no
    savepoint around it (two statements fewer per vote); None when the
    voter's row appeared meanwhile (their other socket, their table)."""
    response = PollResponse(**fields)
    if not rows.row_insert(response, on_conflict="poll_id, voter_key"):
        return None
    return response


def poll_vote_cast(
    *, session_id: int, user, poll_id: int, answer: Any
) -> tuple[PollResponse, bool]:
    """Store or replace this learner's (or their table's) answer.

    Returns (response, changed). One row per voter by unique constraint; the
    same answer again changes nothing."""
    with service_transaction():
        # Lock order on every poll path: session row, poll row, response row,
        # participant row (poll_close: session, poll). A shared answer is
        # announced to the table as a sequenced frame, so it needs the
        # session's exclusive lock; any other vote takes the session's KEY
        # SHARE lock, which votes share with one another (common.py says why
        # it must come first).
        scope = _poll_scope(poll_id)
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
                Seat.objects.filter(course_id=poll.course_id, user=user)
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
        created = False
        if response is None:
            response = _response_insert(
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
            created = response is not None
            if response is None:
                response = PollResponse.objects.select_for_update().get(poll=poll, voter_key=key)
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
            course_id=poll.course_id,
            live_session_id=session_id,
            success=is_correct,
            score=score,
            response=response_text(clean),
            duration_ms=int((now - poll.opened_at).total_seconds() * 1000),
            extensions={
                "changed": not created,
                "change_count": response.change_count,
                "scope": poll.scope,
                "table_id": table_id,
            },
        )
        Participant.objects.filter(session_id=session_id, user=user).update(last_answered_at=now)
        if shared and session is not None:
            events.poll_table_answer_changed(session, poll, table_id, clean, user)
    return response, True


# --- Votes in batches (group commit) ---------------------------------------------------
#
# The live socket's votes: a process queues the votes of one session that
# arrive while its previous batch runs (core/rooms/batching.py) and applies
# them here in one transaction of set-based statements, with the same locks,
# in the same order, as `poll_vote_cast` (docs/polls.md, "How votes are
# applied"). Each vote keeps its own outcome: its own ack data, its own error.


@dataclass(frozen=True)
class VoteRequest:
    """One `poll.vote` frame: who sent it, its client frame id, what it says."""

    user: Any
    client_id: str | None
    poll_id: Any
    answer: Any


class _ClaimsTaken(Exception):
    """Another delivery of some of these frame ids committed meanwhile."""

    def __init__(self, indexes: set[int]) -> None:
        super().__init__(f"{len(indexes)} claims taken")
        self.indexes = indexes


def poll_vote_result(poll: Poll, response: PollResponse, changed: bool) -> dict | None:
    """What the vote's ack says (and its claim keeps): nothing for an
    anonymous poll (the browser knows the poll and the answer)."""
    if poll.is_anonymous:
        return None
    return {"poll_id": poll.pk, "answer": response.answer, "changed": changed}


def _poll_vote_once(*, session_id: int, user, poll_id: int, answer: Any) -> dict | None:
    response, changed = poll_vote_cast(
        session_id=session_id, user=user, poll_id=poll_id, answer=answer
    )
    return poll_vote_result(response.poll, response, changed)


def _vote_single(session_id: int, vote: VoteRequest) -> Any:
    """One vote in its own transaction (the path of every vote before batches)."""
    try:
        return action_apply(
            session_id=session_id,
            user=vote.user,
            client_id=vote.client_id,
            service=functools.partial(
                _poll_vote_once,
                session_id=session_id,
                user=vote.user,
                poll_id=vote.poll_id,
                answer=vote.answer,
            ),
        )
    except ApplicationError as error:
        return error
    except Exception as error:
        if database_unavailable(error) and not _retryable(error):
            raise
        logger.exception("poll vote in session %s failed", session_id)
        return error


def _retryable(error: BaseException) -> bool:
    """A deadlock or serialisation failure (SQLSTATE class 40): the batch is
    rolled back whole; its votes are applied again one by one."""
    cause = error.__cause__ or error
    return str(getattr(cause, "sqlstate", "") or "").startswith("40")


def poll_votes_apply(session_id: int, votes: list[VoteRequest]) -> list[Any]:
    """Apply a batch of live votes of one session; returns one outcome per
    vote, in order: `(applied, ack data)` as `action_apply` gives it (a
    repeated frame id: `(False, the first result)`), or the vote's own
    exception (`ApplicationError`: answered as an `error` frame).

    On PostgreSQL, the named and anonymous votes of class and per-table polls
    go in one transaction whose statement count does not grow with the batch
    (tests/classroom/test_consumer_queries.py). One-per-table votes (a
    sequenced frame each, under the session's exclusive lock), a learner's
    second vote in the same batch, and every vote on SQLite go one by one,
    after the batch, in arrival order. If the batch's transaction fails on a
    database error (a deadlock, a constraint), it is rolled back whole and
    its votes are applied one by one: one bad vote never fails the others."""
    outcomes: list[Any] = [None] * len(votes)
    batched: list[int] = []
    singles: list[int] = []
    seen_users: set[int] = set()
    for index, vote in enumerate(votes):
        poll_id = vote.poll_id if isinstance(vote.poll_id, int) else None
        scope = _poll_scope(poll_id) if poll_id is not None else None
        if (
            connection.vendor == "postgresql"
            and scope in (PollScope.CLASS, PollScope.PER_TABLE)
            and vote.user.pk not in seen_users
        ):
            seen_users.add(vote.user.pk)
            batched.append(index)
        else:
            singles.append(index)
    if batched:
        try:
            _votes_batch(session_id, votes, batched, outcomes)
        except Exception as error:
            if database_unavailable(error) and not _retryable(error):
                raise
            logger.warning(
                "a batch of %s votes in session %s failed (%r): applying them one by one",
                len(batched),
                session_id,
                error,
            )
            for index in batched:
                outcomes[index] = None
            singles = sorted(singles + batched)
    for index in singles:
        if outcomes[index] is None:
            outcomes[index] = _vote_single(session_id, votes[index])
    return outcomes


def _votes_batch(
    session_id: int, votes: list[VoteRequest], indexes: list[int], outcomes: list[Any]
) -> None:
    pending = list(indexes)
    for _attempt in range(3):
        if not pending:
            return
        try:
            with transaction.atomic():
                results = _votes_batch_once(session_id, votes, pending)
        except _ClaimsTaken as taken:
            # Rolled back: another delivery of these frame ids committed
            # first (a frame resent after a reconnect): they replay its result.
            for index in taken.indexes:
                outcomes[index] = _replay(session_id, votes[index])
            pending = [index for index in pending if index not in taken.indexes]
            continue
        except ApplicationError as error:  # the session itself is gone
            for index in pending:
                outcomes[index] = error
            return
        for index, outcome in results.items():
            outcomes[index] = outcome
        return
    raise RuntimeError("a vote batch kept losing its claims to other deliveries")


def _replay(session_id: int, vote: VoteRequest) -> tuple[bool, Any]:
    stored = ClientAction.objects.filter(
        session_id=session_id, user=vote.user, client_id=vote.client_id[:CLIENT_ID_MAX]
    ).first()
    return False, stored.result if stored is not None else None


def _votes_batch_once(
    session_id: int, votes: list[VoteRequest], pending: list[int]
) -> dict[int, Any]:
    """One transaction for the batch; lock order as in `poll_vote_cast`:
    session (KEY SHARE), poll rows (SHARE), response rows (ballots),
    participant rows, and the claims last (each set in a fixed order)."""
    now = timezone.now()
    session_key_share(session_id)
    polls = {
        poll_id: _poll_for_vote(poll_id) for poll_id in sorted({votes[i].poll_id for i in pending})
    }
    user_ids = sorted({votes[i].user.pk for i in pending})
    present = set(
        Attendance.objects.filter(
            session_id=session_id, user_id__in=user_ids, left_at__isnull=True
        ).values_list("user_id", flat=True)
    )
    course_ids = {poll.course_id for poll in polls.values() if poll is not None}
    seats: dict[int, int] = {}
    if any(poll is not None and poll.scope != PollScope.CLASS for poll in polls.values()):
        seats = dict(
            Seat.objects.filter(course_id__in=course_ids, user_id__in=user_ids).values_list(
                "user_id", "table_id"
            )
        )

    results: dict[int, Any] = {}
    named: list[tuple[int, Poll, dict, int | None, str]] = []  # index, poll, answer, table, key
    anonymous: list[tuple[int, Poll, dict, int | None]] = []
    for index in pending:
        vote = votes[index]
        poll = polls[vote.poll_id]
        try:
            if poll is None or poll.session_id != session_id:
                raise NotFoundError(_("No such poll."), code="poll_not_found")
            if poll.state != PollState.OPEN or (poll.closes_at and poll.closes_at <= now):
                raise ConflictError(_("The poll is closed."), code="poll_closed")
            if vote.user.pk not in present:
                raise PermissionDeniedError(
                    _("Only learners present in the session can answer."), code="not_present"
                )
            clean = answer_clean(poll=poll, answer=vote.answer)
            table_id = None
            if poll.scope != PollScope.CLASS:
                table_id = seats.get(vote.user.pk)
                if table_id is None:
                    raise ConflictError(
                        _("This poll is answered per table and you are not seated."),
                        code="not_seated",
                    )
        except ApplicationError as error:
            results[index] = error
            continue
        if poll.is_anonymous:
            anonymous.append((index, poll, clean, table_id))
        else:
            named.append(
                (index, poll, clean, table_id, voter_key(poll_id=poll.pk, user_id=vote.user.pk))
            )

    applied: dict[int, dict | None] = {}  # index -> the vote's ack data
    claim_times: dict[int, Any] = {}
    answered: list[tuple] = []  # (index, poll, answer, table, change count, correct, score)
    if named:
        _named_votes_apply(named, votes, now, results, applied, answered)
    if anonymous:
        _anonymous_votes_apply(anonymous, votes, results, applied, claim_times)

    if answered:
        events_record_many(
            [
                {
                    "event_id": uuid.uuid4(),
                    "occurred_at": now,
                    "actor_id": votes[index].user.pk,
                    "verb": "answered",
                    "object_type": "poll",
                    "object_id": str(poll.pk),
                    "course_id": poll.course_id,
                    "live_session_id": session_id,
                    "success": is_correct,
                    "score": score,
                    "response": response_text(clean),
                    "duration_ms": int((now - poll.opened_at).total_seconds() * 1000),
                    "extensions": {
                        "changed": change_count > 0,
                        "change_count": change_count,
                        "scope": poll.scope,
                        "table_id": table_id,
                    },
                }
                for index, poll, clean, table_id, change_count, is_correct, score in answered
            ]
        )
        participant = Participant._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{participant}" SET last_answered_at = %s WHERE id IN '  # noqa: S608
                f'(SELECT id FROM "{participant}" WHERE session_id = %s AND user_id = ANY(%s) '
                "ORDER BY id FOR UPDATE)",
                [now, session_id, sorted({votes[index].user.pk for index, *_rest in answered})],
            )

    # The claims of the applied votes, with their results, in one statement
    # (sorted: two batches that share a frame id lock in the same order).
    claimed = sorted(
        (index for index in applied if votes[index].client_id),
        key=lambda index: (votes[index].user.pk, votes[index].client_id),
    )
    if claimed:
        taken = _claims_insert(session_id, votes, claimed, applied, claim_times, now)
        if taken:
            raise _ClaimsTaken(taken)
    for index, data in applied.items():
        results[index] = (True, data)

    # A vote refused now whose frame id was applied before (the poll closed
    # since) replays its first result, as `action_apply` does.
    refused = [
        index
        for index, outcome in results.items()
        if isinstance(outcome, ApplicationError) and votes[index].client_id
    ]
    if refused:
        keys = {(votes[i].user.pk, votes[i].client_id[:CLIENT_ID_MAX]): i for i in refused}
        for user_id, client_id, result in ClientAction.objects.filter(
            session_id=session_id,
            user_id__in={user_id for user_id, _cid in keys},
            client_id__in={client_id for _uid, client_id in keys},
        ).values_list("user_id", "client_id", "result"):
            index = keys.get((user_id, client_id))
            if index is not None:
                results[index] = (False, result)

    # One tally flush per poll per batch; the console's "answered" markers
    # (never for an anonymous poll).
    for poll_id in sorted({votes[index].poll_id for index in applied}):
        ephemeral.tally_changed(session_id, poll_id)
    if any(not polls[votes[index].poll_id].is_anonymous for index in applied):
        ephemeral.engagement_changed(session_id)
    return results


def _responses_locked(votes) -> dict[tuple[int, str], PollResponse]:
    """The stored responses of these (index, poll, answer, table, voter key)
    votes by (poll id, voter key), locked in one order (poll, voter key)."""
    return {
        (response.poll_id, response.voter_key): response
        for response in PollResponse.objects.select_for_update()
        .filter(
            poll_id__in={poll.pk for _i, poll, *_rest in votes},
            voter_key__in={key for *_rest, key in votes},
        )
        .order_by("poll_id", "voter_key")
    }


def _named_votes_apply(named, votes, now, results, applied, answered) -> None:
    """Insert the first answers, update the changed ones; unchanged answers
    change nothing (as in `poll_vote_cast`)."""
    by_key = {
        (poll.pk, key): (index, poll, clean, table_id)
        for index, poll, clean, table_id, key in named
    }
    existing = _responses_locked(named)
    updates: list[tuple[int, Poll, dict, int | None, PollResponse]] = []
    inserts = []
    for (poll_id, key), (index, poll, clean, table_id) in sorted(by_key.items()):
        response = existing.get((poll_id, key))
        if response is None:
            inserts.append((index, poll, clean, table_id, key))
        else:
            updates.append((index, poll, clean, table_id, response))
    if inserts:
        lost = _responses_insert(inserts, votes, now, applied, answered)
        if lost:
            # Their first answer was stored meanwhile (their other socket on
            # another process): they become changes of the row that won.
            rows = _responses_locked(lost)
            updates.extend(
                (index, poll, clean, table_id, rows[(poll.pk, key)])
                for index, poll, clean, table_id, key in lost
            )
    changes = []
    for index, poll, clean, table_id, response in updates:
        if response.answer == clean:
            applied[index] = poll_vote_result(poll, response, False)
            continue
        if not poll.allow_change:
            results[index] = ConflictError(
                _("This poll does not allow changing your answer."), code="answer_locked"
            )
            continue
        is_correct, score = answer_grade(poll=poll, answer=clean)
        response.answer = clean
        response.change_count += 1
        changes.append((response, votes[index].user.pk, is_correct, score))
        applied[index] = poll_vote_result(poll, response, True)
        answered.append((index, poll, clean, table_id, response.change_count, is_correct, score))
    if changes:
        table = PollResponse._meta.db_table
        answer_field = PollResponse._meta.get_field("answer")
        rows, params = [], []
        for response, user_id, is_correct, score in changes:
            rows.append(
                "(%s::bigint, %s::jsonb, %s::integer, %s::boolean, %s::double precision, %s::bigint)"
            )
            params += [
                response.pk,
                answer_field.get_db_prep_save(response.answer, connection),
                response.change_count,
                is_correct,
                score,
                user_id,
            ]
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{table}" AS r SET answer = v.answer, change_count = v.change_count, '  # noqa: S608
                "answered_at = %s, is_correct = v.is_correct, score = v.score, user_id = v.user_id "
                f"FROM (VALUES {', '.join(rows)}) AS v(id, answer, change_count, is_correct, "
                "score, user_id) WHERE r.id = v.id",
                [now, *params],
            )


def _responses_insert(inserts, votes, now, applied, answered) -> list:
    """First answers: one INSERT … ON CONFLICT DO NOTHING; returns the ones
    whose row appeared meanwhile."""
    columns = [field for field in PollResponse._meta.concrete_fields if not field.primary_key]
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    prepared = []
    for index, poll, clean, table_id, key in inserts:
        is_correct, score = answer_grade(poll=poll, answer=clean)
        response = PollResponse(
            poll=poll,
            voter_key=key,
            user_id=votes[index].user.pk,
            table_id=table_id,
            answer=clean,
            first_answer=clean,
            first_answered_at=now,
            answered_at=now,
            time_to_first_ms=int((now - poll.opened_at).total_seconds() * 1000),
            is_correct=is_correct,
            score=score,
        )
        params += [
            field.get_db_prep_save(field.pre_save(response, True), connection) for field in columns
        ]
        prepared.append((index, poll, clean, table_id, key, response, is_correct, score))
    table = connection.ops.quote_name(PollResponse._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(prepared))} "  # noqa: S608
            "ON CONFLICT (poll_id, voter_key) DO NOTHING RETURNING poll_id, voter_key, id",
            params,
        )
        inserted = {(poll_id, key): pk for poll_id, key, pk in cursor.fetchall()}
    lost = []
    for index, poll, clean, table_id, key, response, is_correct, score in prepared:
        pk = inserted.get((poll.pk, key))
        if pk is None:
            lost.append((index, poll, clean, table_id, key))
            continue
        response.pk = pk
        applied[index] = poll_vote_result(poll, response, True)
        answered.append((index, poll, clean, table_id, 0, is_correct, score))
    return lost


def _anonymous_votes_apply(anonymous, votes, results, applied, claim_times) -> None:
    """Ballots first (the one-vote rule), then the answers, in an order that
    is not the votes' (docs/polls.md, "Anonymous polls")."""
    ballots = sorted(anonymous, key=lambda vote: (vote[1].pk, votes[vote[0]].user.pk))
    table = PollBallot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (id, poll_id, user_id) VALUES '  # noqa: S608
            + ", ".join(["(%s, %s, %s)"] * len(ballots))
            + " ON CONFLICT (poll_id, user_id) DO NOTHING RETURNING poll_id, user_id",
            [
                value
                for index, poll, _clean, _table in ballots
                for value in (_ballot_id(), poll.pk, votes[index].user.pk)
            ],
        )
        cast = set(cursor.fetchall())
    responses = []
    for index, poll, clean, table_id in anonymous:
        if (poll.pk, votes[index].user.pk) not in cast:
            results[index] = ConflictError(
                _("You have answered this anonymous poll: its answers cannot be changed."),
                code="answer_locked",
            )
            continue
        is_correct, score = answer_grade(poll=poll, answer=clean)
        responses.append(
            PollResponse(
                id=_RANDOM_ID_FLOOR + secrets.randbelow(_RANDOM_ID_FLOOR - 1),
                poll=poll,
                voter_key=secrets.token_hex(32),
                user=None,
                table_id=table_id,
                answer=clean,
                first_answer=clean,
                first_answered_at=None,
                answered_at=None,
                time_to_first_ms=None,
                is_correct=is_correct,
                score=score,
            )
        )
        applied[index] = None
        # The claim (learner, frame id) carries the poll's opening time, which
        # everyone saw, not the time the vote arrived.
        claim_times[index] = poll.opened_at
    if responses:
        secrets.SystemRandom().shuffle(responses)
        PollResponse.objects.bulk_create(responses)


def _claims_insert(session_id, votes, claimed, applied, claim_times, now) -> set[int]:
    """Claim the applied votes' frame ids with their results; returns the
    indexes whose id another delivery holds (committed first)."""
    table = ClientAction._meta.db_table
    result_field = ClientAction._meta.get_field("result")
    params: list[Any] = []
    for index in claimed:
        data = applied[index]
        params += [
            session_id,
            votes[index].user.pk,
            votes[index].client_id[:CLIENT_ID_MAX],
            connection.ops.adapt_datetimefield_value(claim_times.get(index, now)),
            None if data is None else result_field.get_db_prep_save(data, connection),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (session_id, user_id, client_id, created_at, result) '  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(claimed))} "
            "ON CONFLICT (session_id, user_id, client_id) DO NOTHING "
            "RETURNING user_id, client_id",
            params,
        )
        inserted = set(cursor.fetchall())
    return {
        index
        for index in claimed
        if (votes[index].user.pk, votes[index].client_id[:CLIENT_ID_MAX]) not in inserted
    }


# Ids of anonymous responses are drawn from [2^62, 2^63): far above anything
# the table's sequence hands out, and in no order that follows the votes.
_RANDOM_ID_FLOOR = 2**62


def _ballot_id():
    """A random ballot id as the database stores it (a UUID on PostgreSQL,
    32 hex characters on SQLite, which cannot bind a UUID)."""
    return PollBallot._meta.pk.get_db_prep_value(uuid.uuid4(), connection)


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
            [_ballot_id(), poll.pk, user.pk],
        )
        inserted = cursor.fetchone()
    if inserted is None:
        raise ConflictError(
            _("You have answered this anonymous poll: its answers cannot be changed."),
            code="answer_locked",
        )
    # The socket's claim on this frame id (ClientAction: learner, time) gets
    # the poll's opening time, not the time the vote arrived.
    action_claim_time_set(poll.opened_at)
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
