"""Client actions: the entries of a room's action table and the one
idempotency rule of every room.

A client frame with an `id` is applied once: the claim on (room, user, id)
commits with the action, and a duplicate id replays the first result
(`(False, first result)`); a failed action rolls its claim back, so a retry
applies. Each room keeps its claims in a model of its own with a `result`
JSON field and a unique constraint on (scope field, user, client_id)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

CLIENT_ID_MAX = 64


@dataclass(frozen=True)
class Action:
    """One entry of a room's action table (`{"chat.send": Action(...)}`).

    `handler(room, data)` runs in a database worker thread inside the
    idempotent transaction (`once`), or on its own (`once=False`: the
    frame's effect is idempotent by itself); with `asynchronous` it is a
    coroutine `handler(room, client_id, data) -> applied` on the event loop
    that keeps its own idempotency (the reactions' hot path)."""

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


def action_apply(
    model, *, scope: tuple[str, int], user, client_id: str | None, service, **kwargs
) -> tuple[bool, Any]:
    """Apply a client's action once. Returns (applied, result); a repeated id
    returns (False, the first result)."""
    with transaction.atomic():
        earlier = client_action_claim(model, scope=scope, user=user, client_id=client_id)
        if earlier is not None:
            return False, earlier.result
        _applying.active = True
        try:
            result = service(**kwargs)
        finally:
            _applying.active = False
        if client_id and result is not None:
            field, scope_id = scope
            model.objects.filter(
                **{f"{field}_id": scope_id}, user=user, client_id=client_id[:CLIENT_ID_MAX]
            ).update(result=result)
        return True, result
