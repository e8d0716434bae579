"""The Celery retry/ack configuration as deployed: read back from a running
worker (remote control `conf`), its invariants, and the redelivery cap
exercised on a real worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from playback.models import Recording, RecordingSource, RecordingStatus
from tests.conftest import database_url, require_redis
from tests.faults.workers import Worker, worker_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


@pytest.fixture
def deployed_worker(tmp_path):
    """A worker with the production job settings (only its queue is private)."""
    env, queue = worker_env(database_url(), require_redis())
    for name in ("JOB_VISIBILITY_TIMEOUT", "JOB_TIME_LIMIT", "JOB_RESTORE_INTERVAL"):
        env.pop(name)
    worker = Worker("deployed", env, tmp_path)
    try:
        worker.wait_ready()
        yield worker, queue
    finally:
        worker.stop()
        print(worker.log()[-3000:])


def test_the_running_worker_acks_late_requeues_lost_work_and_redelivers_in_time(deployed_worker):
    from config.celery import RETRY_BACKOFF_MAX, RoundtableTask, app
    from playback.tasks import INGEST_MAX_ATTEMPTS, recording_ingest

    worker, _queue = deployed_worker
    replies = app.control.inspect(destination=["deployed@faults"], timeout=5).conf() or {}
    conf = replies.get("deployed@faults")
    assert conf, f"no remote-control answer from the worker: {replies}"
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_track_started"] is True
    assert conf["task_time_limit"] == 15 * 60 and conf["task_soft_time_limit"] == 14 * 60
    transport = conf["broker_transport_options"]
    assert transport["visibility_timeout"] == 20 * 60
    assert transport["unacked_restore_interval"] == 10
    assert transport["unacked_restore_throttle"] == 1
    # A task still running, or waiting for its retry countdown, must never be
    # given to a second worker: the visibility timeout exceeds both.
    longest_countdown = max(RETRY_BACKOFF_MAX, 30 * (INGEST_MAX_ATTEMPTS - 1))
    assert transport["visibility_timeout"] > conf["task_time_limit"] + 60
    assert transport["visibility_timeout"] > longest_countdown
    # Transient infrastructure errors retry with capped, jittered backoff; bugs do not.
    assert RoundtableTask.autoretry_for == (ConnectionError, TimeoutError, OSError)
    assert ValueError not in RoundtableTask.autoretry_for
    assert (RoundtableTask.max_retries, RoundtableTask.retry_backoff_max) == (5, 300)
    assert RoundtableTask.retry_jitter is True
    assert recording_ingest.max_retries == INGEST_MAX_ATTEMPTS - 1 == 2
    assert settings.JOB_MAX_DELIVERIES == 3


def test_a_task_whose_workers_keep_dying_is_dropped_after_the_cap(deployed_worker, course):
    """The worker died JOB_MAX_DELIVERIES times on this delivery (counted in
    Redis): the next delivery is rejected and the recording marked failed."""
    from celery.result import AsyncResult

    from core import kv
    from playback.tasks import recording_ingest

    worker, queue = deployed_worker
    recording = Recording.objects.create(
        course=course,
        title="Poison",
        source=RecordingSource.LIVE,
        status=RecordingStatus.PROCESSING,
        recorded_from=timezone.now() - timedelta(minutes=5),
    )
    task_id = f"poison-{recording.pk}-{time.monotonic_ns()}"
    kv.sync_client().set(f"roundtable:deliveries:{task_id}:0", settings.JOB_MAX_DELIVERIES)
    recording_ingest.apply_async(args=[recording.pk], queue=queue, task_id=task_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        recording.refresh_from_db()
        if recording.status != RecordingStatus.PROCESSING:
            break
        time.sleep(0.2)
    assert recording.status == RecordingStatus.FAILED
    assert "died" in recording.failure_reason
    assert f"[{task_id}] was delivered 4 times without finishing" in worker.log()
    assert AsyncResult(task_id).state != "SUCCESS"
    # Rejected, not requeued: the broker holds nothing for it any more.
    time.sleep(1)
    client = kv.sync_client()
    assert not any(task_id.encode() in value for value in client.hvals("unacked"))
