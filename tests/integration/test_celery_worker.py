"""A real Celery worker process against Redis runs a task end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from analytics.models import LearningEvent
from tests.conftest import require_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the test database this process is using right now."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
    return f"postgres://{credentials}{host}/{config['NAME']}"


@pytest.fixture
def celery_worker_process():
    redis_url = require_redis()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": _database_url(),
        "DJANGO_ENV": "test",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output[-4000:])  # shown by pytest when the test fails


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
