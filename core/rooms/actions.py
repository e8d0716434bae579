"""Client actions: the entries of a room's action table and the one
idempotency rule of every room.

A client frame with an `id` is applied once: the claim on (room, user, id)
commits with the action (written last, with its result), and a duplicate id
replays the first result (`(False, first result)`); a failed action leaves
no claim, so a retry applies. Each room keeps its claims in a model of its own with a `result`
JSON field and a unique constraint on (scope field, user, client_id)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError

CLIENT_ID_MAX = 64


@dataclass(frozen=True)
class Action:
    """One entry of a room's action table (`{"chat.send": Action(...)}`).

    `handler(room, data)` runs in a database worker thread inside the
    idempotent transaction (`once`), or on its own (`once=False`: the
    frame's effect is idempotent by itself); with `asynchronous` it is a
    coroutine `handler(room, client_id, data) -> applied` (or `(applied,
    result)`) on the event loop that keeps its own idempotency (the
    reactions' hot path; the live votes, applied in batches)."""

    handler: Callable[..., Any]
    permission: Any = None  # a CourseAction the member must hold, checked first
    once: bool = True
    lane: str = "default"  # the database lane (core/asyncdb.py)
    asynchronous: bool = False

    @property
    def name(self) -> str:
        return self.handler.__name__


_applying = threading.local()


def action_applying() -> bool:
    """True inside `action_apply` (a socket's action)."""
    return getattr(_applying, "active", False)


def action_claim_time_set(when) -> None:
    """Inside `action_apply`: store this time on the action's claim instead
    of the time the frame arrived. An anonymous vote's claim carries the
    poll's opening time (public already), so that the learner's row says
    nothing of when they answered (docs/polls.md)."""
    if action_applying():
        _applying.claim_time = when


def client_action_claim(model, *, scope: tuple[str, int], user, client_id: str | None):
    """Record that this client frame id is being applied; returns the stored
    claim if it already was (then the action must not run again).

    Runs inside the caller's transaction. One statement instead of savepoint +
    insert + release: the unique constraint decides, and a conflict leaves
    the transaction usable."""
    if not client_id:
        return None
    client_id = client_id[:CLIENT_ID_MAX]
    field, scope_id = scope
    column = f"{field}_id"
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({column}, user_id, client_id, created_at) '  # noqa: S608
            f"VALUES (%s, %s, %s, %s) ON CONFLICT ({column}, user_id, client_id) DO NOTHING "
            "RETURNING id",
            [
                scope_id,
                user.pk,
                client_id,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        inserted = cursor.fetchone()
    if inserted is not None:
        return None
    return model.objects.filter(**{column: scope_id}, user=user, client_id=client_id).first()


class _Replay(Exception):
    """Another delivery of the same client frame id committed first."""


def _claim_insert(model, *, scope: tuple[str, int], user, client_id: str, result) -> bool:
    """Claim the client frame id with the action's result in one statement;
    False if it was claimed already (the unique constraint decides: a claim
    still uncommitted in another transaction makes this one wait for it)."""
    field, scope_id = scope
    column = f"{field}_id"
    table = model._meta.db_table
    stored = (
        None
        if result is None
        else model._meta.get_field("result").get_db_prep_save(result, connection)
    )
    created_at = getattr(_applying, "claim_time", None) or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({column}, user_id, client_id, created_at, result) '  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT ({column}, user_id, client_id) DO NOTHING "
            "RETURNING id",
            [
                scope_id,
                user.pk,
                client_id,
                connection.ops.adapt_datetimefield_value(created_at),
                stored,
            ],
        )
        return cursor.fetchone() is not None


def _claimed(model, *, scope: tuple[str, int], user, client_id: str):
    field, scope_id = scope
    return model.objects.filter(**{f"{field}_id": scope_id}, user=user, client_id=client_id).first()


def _run(service, kwargs) -> Any:
    _applying.active = True
    _applying.claim_time = None
    try:
        return service(**kwargs)
    finally:
        _applying.active = False


def action_apply(
    model, *, scope: tuple[str, int], user, client_id: str | None, service, **kwargs
) -> tuple[bool, Any]:
    """Apply a client's action once. Returns (applied, result); a repeated id
    returns (False, the first result).

    The claim is written last, with the result, in the action's transaction
    (one statement per action instead of a claim, then an update of its
    result): a delivery whose id was claimed meanwhile rolls back everything
    it did and replays the first result. So a duplicate runs the service and
    discards it; duplicates are rare (a frame resent after a reconnect), the
    claim is on every action. A duplicate whose service now fails (the poll
    closed since) still replays the first result."""
    if not client_id:
        with transaction.atomic():
            return True, _run(service, kwargs)
    client_id = client_id[:CLIENT_ID_MAX]
    try:
        with transaction.atomic():
            result = _run(service, kwargs)
            if not _claim_insert(model, scope=scope, user=user, client_id=client_id, result=result):
                raise _Replay
            return True, result
    except _Replay:
        pass
    except ApplicationError:
        earlier = _claimed(model, scope=scope, user=user, client_id=client_id)
        if earlier is None:
            raise
        return False, earlier.result
    earlier = _claimed(model, scope=scope, user=user, client_id=client_id)
    return False, earlier.result if earlier is not None else None
