from __future__ import annotations

from celery import shared_task

from classroom.services.sessions import attendance_close_stale


@shared_task(name="classroom.attendance_close_stale")
def attendance_close_stale_task() -> int:
    """Periodic (beat, every minute): idempotent, closes only intervals still open."""
    return attendance_close_stale()
