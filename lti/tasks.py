"""Celery tasks of the LTI services: roster syncs (on launch, nightly, by
staff) and grade passback. acks_late (config/celery.py): a task whose worker
died runs again, which is harmless (RosterSync is re-run from the platform's
roster; scores go through the ScoreSend idempotency record)."""

from __future__ import annotations

import logging

from celery import shared_task

from lti.client import ServiceError
from lti.errors import LtiError

log = logging.getLogger("lti")


def enqueue(task, *args) -> bool:
    """Queue a task; False (logged) when the broker cannot take it, so a
    launch never fails because Redis is down."""
    try:
        task.delay(*args)
    except Exception as error:  # kombu/redis errors vary by transport
        if celery_eager():
            raise
        log.warning("lti: could not queue %s%r: %s", task.name, args, error)
        return False
    return True


def celery_eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


@shared_task(name="lti.roster_sync")
def roster_sync_task(context_id: int, trigger: str) -> dict:
    from lti.models import LtiContext
    from lti.nrps import roster_sync

    context = (
        LtiContext.objects.select_related("deployment__registration", "course")
        .filter(pk=context_id)
        .first()
    )
    if context is None or not context.memberships_url:
        return {"skipped": True}
    try:
        record = roster_sync(context=context, trigger=trigger)
    except LtiError as error:
        return {"error": error.code}
    return {"id": record.pk, "status": record.status}


@shared_task(name="lti.roster_sync_all")
def roster_sync_all_task() -> int:
    """Nightly (beat): queue a sync of every context with an NRPS URL."""
    from lti.models import LtiContext, RosterSync

    ids = list(
        LtiContext.objects.filter(deployment__registration__is_active=True)
        .exclude(memberships_url="")
        .values_list("pk", flat=True)
    )
    for context_id in ids:
        roster_sync_task.delay(context_id, RosterSync.Trigger.NIGHTLY)
    return len(ids)


@shared_task(
    name="lti.grades_push",
    bind=True,
    autoretry_for=(ServiceError, ConnectionError, TimeoutError, OSError),
    max_retries=5,
)
def grades_push_task(self, context_id: int) -> dict:
    """Create/update/delete the context's line items and send changed scores.
    A retry (or a redelivery after a killed worker) re-runs it; unchanged
    scores are skipped by the idempotency record."""
    from lti.ags import grades_push
    from lti.models import LtiContext

    context = (
        LtiContext.objects.select_related("deployment__registration", "course")
        .filter(pk=context_id)
        .first()
    )
    if context is None:
        return {"skipped": True}
    try:
        report = grades_push(context=context)
    except ServiceError:
        raise
    except LtiError as error:  # not set up for AGS: nothing to retry
        return {"error": error.code}
    if report.failed:
        # Raise so Celery retries with backoff; what failed is stored already.
        raise ServiceError(f"{report.failed} score(s) failed to send", code="lti_scores_failed")
    return report.as_dict()


@shared_task(name="lti.grades_push_all")
def grades_push_all_task() -> int:
    """Periodic (beat): push every context whose staff chose something to send."""
    from django.db.models import Q

    from lti.models import GradebookSetting

    ids = list(
        GradebookSetting.objects.filter(
            Q(attendance=True)
            | Q(participation=True)
            | Q(quiz=True)
            | Q(playback=True)
            | Q(review=True)
        ).values_list("context_id", flat=True)
    )
    for context_id in ids:
        grades_push_task.delay(context_id)
    return len(ids)
