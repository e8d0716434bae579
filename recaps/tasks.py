"""Background work of recaps: tasks take ids, call one service, are idempotent
and acknowledged late (a worker killed mid-build hands the task back)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="recaps.recap_build", acks_late=True)
def recap_build(session_id: int) -> int | None:
    """(Re)build a session's recap; its version, or None for a session that has not ended."""
    from recaps.services import recap_build as build

    recap = build(session_id=session_id)
    return recap.version if recap is not None else None
