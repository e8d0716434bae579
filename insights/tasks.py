from __future__ import annotations

from celery import shared_task

from insights import lrs, services


@shared_task(name="insights.rollups_update", acks_late=True)
def rollups_update() -> dict:
    return services.rollups_update()


@shared_task(name="insights.rollups_session_finalise", acks_late=True)
def rollups_session_finalise(session_id: int) -> None:
    services.rollups_session_finalise(session_id=session_id)


@shared_task(name="insights.rollups_course_rebuild", acks_late=True)
def rollups_course_rebuild(course_id: int) -> dict:
    return services.rollups_course_rebuild(course_id=course_id)


@shared_task(
    name="insights.lrs_push",
    acks_late=True,
    autoretry_for=(lrs.LrsError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def lrs_push() -> dict:
    return lrs.lrs_push()
