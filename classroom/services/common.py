"""Helpers shared by the classroom services."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.utils.translation import gettext as _

from classroom.models import ClientAction, LiveSession, SessionState
from core import rows
from core.errors import ConflictError, NotFoundError
from core.rooms import actions
from core.rooms.actions import action_applying


def session_lock(session_id: int) -> LiveSession:
    """The session row, locked for the rest of the transaction: every realtime
    write of a session takes it, which makes `seq` gap-free and ordered."""
    session = rows.row_lock(LiveSession, session_id)
    if session is None:
        raise NotFoundError(_("Session not found."), code="session_not_found")
    return session


def session_key_share(session_id: int) -> None:
    """A KEY SHARE lock on the session row, for writes that many learners make
    at once (votes) and that must not run concurrently with a `session_lock`
    holder that is about to change what they depend on (a poll close).

    Why take it explicitly: the foreign keys that point at the session (e.g.
    `ClientAction.session`) are checked at COMMIT on PostgreSQL (Django's
    constraints are DEFERRABLE INITIALLY DEFERRED), and that check takes this
    very lock. Left to the commit it comes last, after the poll row; a close
    takes the session first and then the poll: the opposite order, a deadlock.
    Taken first, every path locks session → poll → response → participant.
    KEY SHARE locks do not block one another, so votes still run in parallel;
    they do wait for (and block) a `session_lock` (FOR UPDATE)."""
    if connection.vendor != "postgresql":
        return  # SQLite locks the whole database per write transaction
    table = LiveSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id FROM "{table}" WHERE id = %s FOR KEY SHARE',  # noqa: S608
            [session_id],
        )
        if cursor.fetchone() is None:
            raise NotFoundError(_("Session not found."), code="session_not_found")


def require_live(session: LiveSession) -> None:
    if session.state != SessionState.LIVE:
        raise ConflictError(_("The session is not live."), code="session_not_live")


# Sessions known to be live, per process, for the hot paths (reactions) that
# skip the session row: an entry lives LIVE_CACHE_SECONDS, and ending or
# cancelling a session in this process forgets it at once. Another process
# may accept a reaction for up to that long after the end.
LIVE_CACHE_SECONDS = 1.0
_live_until: dict[int, float] = {}


def session_live_known(session_id: int) -> bool:
    return _live_until.get(session_id, 0.0) > time.monotonic()


def session_live_require(session_id: int) -> None:
    """Raise unless the session is live (read from the database unless this
    process saw it live less than LIVE_CACHE_SECONDS ago)."""
    if session_live_known(session_id):
        return
    state = LiveSession.objects.filter(pk=session_id).values_list("state", flat=True).first()
    if state is None:
        raise NotFoundError(_("Session not found."), code="session_not_found")
    if state != SessionState.LIVE:
        raise ConflictError(_("The session is not live."), code="session_not_live")
    _live_until[session_id] = time.monotonic() + LIVE_CACHE_SECONDS


def session_live_forget(session_id: int) -> None:
    _live_until.pop(session_id, None)


def session_live_forget_all() -> None:
    """Forget every session this process saw live (tests)."""
    _live_until.clear()


def client_action_claim(*, session_id: int, user, client_id: str | None) -> ClientAction | None:
    """The kernel's claim (core/rooms/actions.py) on the live session's table."""
    return actions.client_action_claim(
        ClientAction, scope=("session", session_id), user=user, client_id=client_id
    )


def service_transaction():
    """`transaction.atomic()` for a service. Inside `action_apply`, which
    rolls everything back on any error and never catches one to go on, a
    nested block needs no savepoint: two statements fewer per live action."""
    return transaction.atomic(savepoint=not action_applying())


def action_apply(*, session_id: int, user, client_id: str | None, service, **kwargs):
    """Apply a live client's action once (core/rooms/actions.py): returns
    (applied, result); a repeated id returns (False, the first result)."""
    return actions.action_apply(
        ClientAction,
        scope=("session", session_id),
        user=user,
        client_id=client_id,
        service=service,
        **kwargs,
    )
