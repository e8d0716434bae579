"""The beat-driven sender (every minute, config/settings.py): idempotent by
construction (row claims, docs/notifications.md), so a double beat or a
redelivered task sends nothing twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.deliveries_send")
def deliveries_send() -> dict:
    from notifications.services.sending import deliveries_send as send

    return send()
