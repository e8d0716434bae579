"""A real Celery worker process against Redis runs a task end to end."""

from __future__ import annotations

import time
import uuid

import pytest

from analytics.models import LearningEvent
from tests.conftest import celery_worker, database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


# Kept for the callers that import it (tests/lti).
_database_url = database_url


@pytest.fixture
def celery_worker_process():
    with celery_worker() as queue:
        yield queue


def test_worker_records_an_event_and_redelivery_is_harmless(celery_worker_process, course, learner):
    from analytics.tasks import event_record_task

    event_id = str(uuid.uuid4())
    payload = {
        "event_id": event_id,
        "actor_id": learner.pk,
        "course_id": course.pk,
        "verb": "played",
        "object_type": "recording",
        "object_id": "12",
        "mode": "playback",
        "media_time_ms": 4_000,
        "occurred_at": "2026-11-25T10:00:00+00:00",
        "source": "client",
    }
    started = time.monotonic()
    first = event_record_task.apply_async(args=[payload], queue=celery_worker_process)
    assert first.get(timeout=60) == event_id
    second = event_record_task.apply_async(args=[payload], queue=celery_worker_process)
    assert second.get(timeout=30) == event_id
    assert time.monotonic() - started < 60

    stored = LearningEvent.objects.get(event_id=event_id)
    assert (stored.actor_id, stored.course_id, stored.verb, stored.mode) == (
        learner.pk,
        course.pk,
        "played",
        "playback",
    )
    assert stored.media_time_ms == 4_000
    assert LearningEvent.objects.filter(event_id=event_id).count() == 1
    assert first.status == "SUCCESS"
