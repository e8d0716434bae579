"""Every write to live sessions."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services import event_record, events_record_many
from classroom import events, hooks
from classroom.models import (
    MODES_WITH_TABLE,
    Attendance,
    HandRaise,
    LiveSession,
    Participant,
    PodiumSpeaker,
    Poll,
    PollState,
    RoomMode,
    SessionState,
    Table,
    Timer,
)
from classroom.services import ephemeral
from classroom.services.common import (
    require_live,
    service_transaction,
    session_live_forget,
    session_lock,
)
from core import asyncdb
from core.asyncdb import db_call
from core.errors import ConflictError, NotFoundError, ValidationError
from courses.models import Course, User

logger = logging.getLogger(__name__)

MAX_SESSION_LENGTH = timedelta(hours=12)


def live_session_schedule(
    *,
    course: Course,
    title: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    actor: User | None,
) -> LiveSession:
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("A title is required.")
    elif len(title) > 200:
        errors["title"] = _("The title is longer than 200 characters.")
    if timezone.is_naive(scheduled_start) or timezone.is_naive(scheduled_end):
        errors["scheduled_start"] = _("Times must carry a time zone.")
    elif scheduled_end <= scheduled_start:
        errors["scheduled_end"] = _("The session must end after it starts.")
    elif scheduled_end - scheduled_start > MAX_SESSION_LENGTH:
        errors["scheduled_end"] = _("A session lasts at most 12 hours.")
    if errors:
        raise ValidationError(details=errors)
    with transaction.atomic():
        session = LiveSession.objects.create(
            course=course,
            title=title,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            state=SessionState.SCHEDULED,
        )
        event_record(
            actor=actor,
            verb="scheduled",
            object_type="live_session",
            object_id=session.pk,
            course=course,
            live_session_id=session.pk,
        )
    return session


# --- Lifecycle, mode, settings --------------------------------------------------


def live_session_start(*, session_id: int, actor: User) -> LiveSession:
    with transaction.atomic():
        session = session_lock(session_id)
        if session.state != SessionState.SCHEDULED:
            raise ConflictError(
                _("Only a scheduled session can start; this one is %(state)s.")
                % {"state": session.get_state_display()},
                code="session_not_startable",
            )
        now = timezone.now()
        session.state = SessionState.LIVE
        session.started_at = now
        session.started_by = actor
        session.mode = RoomMode.LECTURE
        session.mode_table = None
        session.mode_changed_at = now
        session.save(
            update_fields=[
                "state",
                "started_at",
                "started_by",
                "mode",
                "mode_table",
                "mode_changed_at",
                "updated_at",
            ]
        )
        events.session_changed(session)
        events.mode_changed(session)
        _record(session, actor, "started", "live_session", session.pk)
    return session


def live_session_end(*, session_id: int, actor: User) -> LiveSession:
    """End a live session: close attendance, hands, podium and timers at the same instant."""
    with transaction.atomic():
        session = session_lock(session_id)
        if session.state != SessionState.LIVE:
            raise ConflictError(_("Only a live session can end."), code="session_not_live")
        now = timezone.now()
        session.state = SessionState.ENDED
        session_live_forget(session.pk)
        transaction.on_commit(lambda: session_live_forget(session.pk))
        session.ended_at = now
        session.ended_by = actor
        session.save(update_fields=["state", "ended_at", "ended_by", "updated_at"])
        HandRaise.objects.filter(session=session, lowered_at__isnull=True).update(
            lowered_at=now, lowered_by=actor
        )
        PodiumSpeaker.objects.filter(session=session, removed_at__isnull=True).update(
            removed_at=now
        )
        Timer.objects.filter(session=session, stopped_at__isnull=True).update(stopped_at=now)
        for attendance in Attendance.objects.filter(
            session=session, left_at__isnull=True
        ).select_related("user"):
            attendance.left_at = now
            attendance.save(update_fields=["left_at"])
        events.session_changed(session)
        hooks.session_ended(session_id=session.pk, actor=actor)
        for poll in Poll.objects.filter(session=session, state=PollState.OPEN):
            poll.state = PollState.CLOSED
            poll.closed_at = now
            poll.save(update_fields=["state", "closed_at"])
            events.poll_closed(session, poll, poll.responses.count())
        events.hands_changed(session, [])
        events.podium_changed(session, [])
        events.timers_changed(session, [])
        _record(session, actor, "ended", "live_session", session.pk)
    return session


def live_session_cancel(*, session_id: int, actor: User) -> LiveSession:
    with transaction.atomic():
        session = session_lock(session_id)
        if session.state != SessionState.SCHEDULED:
            raise ConflictError(
                _("Only a scheduled session can be cancelled."), code="session_not_cancellable"
            )
        session.state = SessionState.CANCELLED
        session_live_forget(session.pk)
        transaction.on_commit(lambda: session_live_forget(session.pk))
        session.save(update_fields=["state", "updated_at"])
        events.session_changed(session)
        _record(session, actor, "cancelled", "live_session", session.pk)
    return session


def live_session_mode_set(
    *,
    session_id: int,
    actor: User,
    mode: str,
    table_id: int | None = None,
    podium_addresses_all: bool | None = None,
) -> LiveSession:
    """Switch the room in one step. Visiting and stage name a table of the course."""
    if mode not in RoomMode.values:
        raise ValidationError(
            _("Unknown mode %(mode)s.") % {"mode": mode},
            code="invalid_mode",
            details={"mode": RoomMode.values},
        )
    with service_transaction():
        session = session_lock(session_id)
        require_live(session)
        table = None
        if mode in MODES_WITH_TABLE:
            if table_id is None:
                raise ValidationError(_("This mode needs a table."), code="table_required")
            table = Table.objects.filter(pk=table_id, course_id=session.course_id).first()
            if table is None:
                raise NotFoundError(_("No such table in this course."), code="table_not_found")
        previous = (session.mode, session.mode_table_id)
        session.mode = mode
        session.mode_table = table
        if podium_addresses_all is not None:
            session.podium_addresses_all = bool(podium_addresses_all)
        session.mode_changed_at = session.updated_at = timezone.now()
        # The mode and the frame's seq in one UPDATE (the row is locked).
        events.mode_changed(
            session,
            saving=("mode", "mode_table", "podium_addresses_all", "mode_changed_at", "updated_at"),
        )
        hooks.mode_applied(
            session_id=session.pk
        )  # media subscriptions follow the mode (after commit)
        _record(
            session,
            actor,
            "mode_changed",
            "live_session",
            session.pk,
            extensions={
                "mode": mode,
                "table_id": table_id,
                "previous_mode": previous[0],
                "previous_table_id": previous[1],
            },
        )
    return session


def live_session_settings_update(
    *, session_id: int, actor: User, anonymous_questions_allowed: bool
) -> LiveSession:
    with transaction.atomic():
        session = session_lock(session_id)
        session.anonymous_questions_allowed = bool(anonymous_questions_allowed)
        session.save(update_fields=["anonymous_questions_allowed", "updated_at"])
        events.session_changed(session)
    return session


# --- Attendance ----------------------------------------------------------------------


def attendance_join(
    *, session_id: int, user: User, connection: str, session: LiveSession | None = None
) -> int:
    """Open an attendance interval for this connection; returns the user's open
    connections. Takes the user's participant row lock, not the session lock:
    a class of 150 arriving at once must not queue behind one row. Staff learn
    of joins and leaves from the coalesced presence flush (docs/realtime.md).
    `session`: the row as the caller just read it (a socket's access), so the
    join does not read it again."""
    with transaction.atomic():
        if session is None or session.pk != session_id:
            session = LiveSession.objects.only("pk", "state", "course_id").get(pk=session_id)
        now = timezone.now()
        # INSERT … ON CONFLICT DO NOTHING: no savepoint, no read first (a
        # class arriving at once makes these the hottest statements).
        Participant.objects.bulk_create(
            [Participant(session=session, user=user)], ignore_conflicts=True
        )
        Participant.objects.select_for_update().filter(session=session, user=user).first()
        Attendance.objects.bulk_create(
            [
                Attendance(
                    session=session,
                    user=user,
                    connection=connection[:200],
                    joined_at=now,
                    last_seen_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        connections = Attendance.objects.filter(
            session=session, user=user, left_at__isnull=True
        ).count()
        if connections == 1 and session.state == SessionState.LIVE:
            _record(session, user, "joined", "live_session", session.pk)
        ephemeral.presence_changed(session_id)
    stale_sweeper_ensure()
    return connections


@dataclass(frozen=True)
class AttendanceJoin:
    user: User
    connection: str
    session: LiveSession | None = None  # the row as the socket's access read it


def attendance_join_many(session_id: int, joins: list[AttendanceJoin]) -> list:
    """`attendance_join` for several connections of one session at once (a
    class arriving together), in one transaction of seven statements whatever
    their number: one outcome per join, in order (the user's open connections
    after it, as `attendance_join` returns). The participant rows are locked
    in id order, as one join locks its own; a user joining twice in one batch
    (two tabs) is counted as if the joins came one after the other."""
    if len(joins) == 1:
        join = joins[0]
        return [
            attendance_join(
                session_id=session_id,
                user=join.user,
                connection=join.connection,
                session=join.session,
            )
        ]
    with transaction.atomic():
        session = LiveSession.objects.only("pk", "state", "course_id").get(pk=session_id)
        now = timezone.now()
        users = {join.user.pk: join.user for join in joins}
        Participant.objects.bulk_create(
            [Participant(session=session, user=user) for user in users.values()],
            ignore_conflicts=True,
        )
        list(
            Participant.objects.select_for_update()
            .filter(session=session, user_id__in=users)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        open_before = dict(
            Attendance.objects.filter(session=session, user_id__in=users, left_at__isnull=True)
            .values_list("user_id")
            .annotate(count=Count("pk"))
            .values_list("user_id", "count")
        )
        created = Attendance.objects.bulk_create(
            [
                Attendance(
                    session=session,
                    user=join.user,
                    connection=join.connection[:200],
                    joined_at=now,
                    last_seen_at=now,
                )
                for join in joins
            ],
            ignore_conflicts=True,
        )
        outcomes = []
        joined = []
        counts = dict(open_before)
        for join, _row in zip(joins, created, strict=True):
            counts[join.user.pk] = counts.get(join.user.pk, 0) + 1
            outcomes.append(counts[join.user.pk])
            if counts[join.user.pk] == 1 and session.state == SessionState.LIVE:
                joined.append(join.user)
        if joined:
            events_record_many(
                [
                    {
                        "event_id": uuid.uuid4(),
                        "occurred_at": now,
                        "actor": user,
                        "verb": "joined",
                        "object_type": "live_session",
                        "object_id": str(session.pk),
                        "course_id": session.course_id,
                        "live_session_id": session.pk,
                    }
                    for user in joined
                ]
            )
        ephemeral.presence_changed(session_id)
    stale_sweeper_ensure()
    return outcomes


def attendance_leave(*, session_id: int, user: User, connection: str) -> int:
    with transaction.atomic():
        session = LiveSession.objects.only("pk", "state", "course_id").get(pk=session_id)
        now = timezone.now()
        Participant.objects.select_for_update().filter(session=session, user=user).first()
        attendance = Attendance.objects.filter(
            session=session, connection=connection[:200], left_at__isnull=True
        ).first()
        if attendance is None:
            return Attendance.objects.filter(
                session=session, user=user, left_at__isnull=True
            ).count()
        attendance.left_at = now
        attendance.save(update_fields=["left_at"])
        ephemeral.presence_changed(session_id)
        connections = Attendance.objects.filter(
            session=session, user=user, left_at__isnull=True
        ).count()
        if connections == 0 and session.state == SessionState.LIVE:
            duration = int((now - attendance.joined_at).total_seconds() * 1000)
            _record(session, user, "left", "live_session", session.pk, duration_ms=duration)
    return connections


def _record(
    session: LiveSession, actor: User | None, verb: str, object_type: str, object_id, **fields
) -> None:
    event_record(
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        course_id=session.course_id,
        live_session_id=session.pk,
        **fields,
    )


ATTENDANCE_TOUCH_SECONDS = 20
ATTENDANCE_STALE_SECONDS = 90


def attendance_touch(*, session_id: int, connection: str) -> None:
    """Note that this connection is alive (called on client pings, at most
    every ATTENDANCE_TOUCH_SECONDS per connection)."""
    now = timezone.now()
    Attendance.objects.filter(
        session_id=session_id,
        connection=connection[:200],
        left_at__isnull=True,
        last_seen_at__lt=now - timedelta(seconds=ATTENDANCE_TOUCH_SECONDS),
    ).update(last_seen_at=now)


def attendance_close_stale(*, now: datetime | None = None) -> int:
    """Close intervals whose connection stopped pinging (a process died without
    running disconnect): they end at their last sign of life."""
    now = now or timezone.now()
    stale = Attendance.objects.filter(
        left_at__isnull=True, last_seen_at__lt=now - timedelta(seconds=ATTENDANCE_STALE_SECONDS)
    ).select_related("user")
    closed = 0
    for attendance in stale:
        attendance_leave(
            session_id=attendance.session_id, user=attendance.user, connection=attendance.connection
        )
        Attendance.objects.filter(pk=attendance.pk).update(left_at=attendance.last_seen_at)
        closed += 1
    return closed


# --- The stale-attendance sweep of the embedded default --------------------------

STALE_SWEEP_SECONDS = 60.0
_stale_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def stale_sweeper_ensure() -> None:
    """Without a Celery worker (the embedded default runs tasks eagerly and has
    no beat), each server loop closes the attendance of connections that
    stopped pinging itself, as the beat task does in production: a process
    killed without running disconnect() must not leave people "present".
    Called by `attendance_join` from a database worker thread of the loop."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    loop = asyncdb.server_loop()
    if loop is not None:
        # A fresh context: not the database thread's (asgiref's executor state).
        loop.call_soon_threadsafe(_stale_sweeper_start, loop, context=contextvars.Context())


def _stale_sweeper_start(loop: asyncio.AbstractEventLoop) -> None:
    task = _stale_sweepers.get(loop)
    if task is None or task.done():
        _stale_sweepers[loop] = loop.create_task(_stale_sweep_forever())


async def _stale_sweep_forever() -> None:
    while True:
        await asyncio.sleep(STALE_SWEEP_SECONDS)
        try:
            await db_call(attendance_close_stale)()
        except Exception:  # try again next time
            logger.exception("closing stale attendance failed")
