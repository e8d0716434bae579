"""Background work of reinforcement. Tasks take ids, call one service and are
idempotent; they are acknowledged late (config/celery.py), so a worker killed
mid-run hands the task back and the next run plans the same thing."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reinforcement.followups_plan", acks_late=True)
def followups_plan(session_id: int, source: str) -> int | None:
    """Plan a session's follow-up (after it ends, and when its recording's
    timeline is ready); the plan's id, or None when there is nothing to plan."""
    from reinforcement.services.planning import followups_plan as plan

    result = plan(session_id=session_id, source=source)
    return result.pk if result is not None else None


@shared_task(name="reinforcement.plan_send", acks_late=True)
def plan_send(plan_id: int, actor_id: int | None = None) -> str:
    """Staff's "send now", off the request: send the plan (idempotent)."""
    from django.contrib.auth import get_user_model

    from reinforcement.services.planning import followup_plan_send

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return followup_plan_send(plan_id=plan_id, actor=actor).status


@shared_task(name="reinforcement.plans_release", acks_late=True)
def plans_release() -> int:
    """Beat, every minute: send the held plans whose hold window is over."""
    from reinforcement.services.planning import followup_plans_release

    return followup_plans_release()


@shared_task(name="reinforcement.reviews_due_scan", acks_late=True)
def reviews_due_scan() -> int:
    """Beat, hourly: one review-due notification per learner, course and day."""
    from reinforcement.services.scan import reviews_due_notify

    return reviews_due_notify()
