"""A Celery worker SIGKILLed in the middle of a recording ingest and in the
middle of a timeline build: the job completes exactly once on another worker.

Two real worker processes (prefork, one child each, as deployed) consume a
private queue of the test's Redis. The test waits until one of them is
provably inside the job (its ffmpeg is running; it holds the recording's row
lock), kills that worker's whole process group, and waits for the other to
finish the job after Redis gives the unacknowledged task back
(JOB_VISIBILITY_TIMEOUT, short here: tests/faults/workers.py)."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from classroom.models import ChatMessage, SessionState
from playback.models import (
    Recording,
    RecordingSource,
    RecordingSpan,
    RecordingStatus,
    TimelineEntry,
)
from tests.conftest import database_url, require, require_redis
from tests.faults.conftest import ConnectionWatch
from tests.faults.mjr import opus_tone_mjr
from tests.faults.workers import (
    TEST_RESTORE_INTERVAL,
    TEST_VISIBILITY_TIMEOUT,
    running_workers,
    task_state_when_done,
    wait_for,
    worker_env,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(150),
]

# Each worker looks for tasks to give back every TEST_RESTORE_INTERVAL s.
REDELIVERY_BOUND = TEST_VISIBILITY_TIMEOUT + TEST_RESTORE_INTERVAL + 20  # + the job itself


@pytest.fixture
def workers(tmp_path):
    redis_url = require_redis()
    env, queue = worker_env(
        database_url(),
        redis_url,
        JANUS_RECORDINGS_DIR=str(tmp_path / "janus"),
        MEDIA_ROOT=str(tmp_path / "media"),
        # Their PostgreSQL connections, told apart in pg_stat_activity.
        PGAPPNAME=f"faults-workers-{uuid.uuid4().hex[:8]}",
    )
    (tmp_path / "janus").mkdir()
    (tmp_path / "media").mkdir()
    with running_workers(env, tmp_path, ("alpha", "beta")) as started:
        yield started, queue, tmp_path


def _session_with_chat(live_session, learner, count: int):
    start = timezone.now() - timedelta(minutes=30)
    type(live_session).objects.filter(pk=live_session.pk).update(
        state=SessionState.ENDED, started_at=start
    )
    ChatMessage.objects.bulk_create(
        [
            ChatMessage(session=live_session, channel="class", author=learner, body=f"m{n}")
            for n in range(count)
        ],
        batch_size=2000,
    )
    # Spread them over the recorded minutes (auto_now_add set them all to now).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE classroom_chatmessage SET created_at = %s + (id %% 60) * interval '1 second'"
            " WHERE session_id = %s",
            [start + timedelta(seconds=5), live_session.pk],
        )
    return start


def _recording(live_session, start, seconds: int) -> tuple[Recording, RecordingSpan]:
    recording = Recording.objects.create(
        course=live_session.course,
        live_session=live_session,
        title="Killed mid-job",
        source=RecordingSource.LIVE,
        status=RecordingStatus.PROCESSING,
        recorded_from=start,
    )
    span = RecordingSpan.objects.create(
        recording=recording,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        media_offset_ms=0,
    )
    return recording, span


def _row_locked(recording_id: int) -> bool:
    """True while another transaction holds the recording row's lock."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM playback_recording WHERE id = %s FOR UPDATE NOWAIT",
                    [recording_id],
                )
        return False
    except OperationalError:
        return True


def test_ingest_killed_mid_job_completes_once_on_the_other_worker(workers, live_session, learner):
    from playback.tasks import recording_ingest

    started, queue, tmp_path = workers
    require(bool(shutil.which("janus-pp-rec")), "janus-pp-rec (janus-tools) missing")
    start = _session_with_chat(live_session, learner, 40)
    recording, span = _recording(live_session, start, 90)
    opus_tone_mjr(
        tmp_path / "janus" / f"rec{recording.pk}-s{span.pk}-u{learner.pk}-ab12-audio.mjr",
        90,
        int(start.timestamp() * 1_000_000),
    )

    watch = ConnectionWatch(database_url(), started[0].env["PGAPPNAME"]).__enter__()
    result = recording_ingest.apply_async(args=[recording.pk], queue=queue)
    # Mid-job: the worker is running janus-pp-rec or ffmpeg on this recording.
    victim = wait_for(
        lambda: next(
            (w for w in started if w.running("ffmpeg") or w.running("janus-pp-rec")), None
        ),
        30,
        "no worker started processing the recording",
    )
    killed_at = time.monotonic()
    victim.kill()
    survivor = next(w for w in started if w is not victim)
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.PROCESSING  # it really died mid-job

    state = task_state_when_done(result.id, REDELIVERY_BOUND)
    redelivered_in = time.monotonic() - killed_at
    print(f"ingest finished on {survivor.name} {redelivered_in:.1f} s after the kill")
    assert state == "SUCCESS", survivor.log()[-3000:]
    assert result.get(timeout=5) == "ready"
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY
    assert recording.attempts == 0 and recording.failure_reason == ""
    assert abs(recording.duration_ms - 90_000) <= 1000
    # The timeline the ingest queued ran once, on the survivor.
    wait_for(lambda: Recording.objects.get(pk=recording.pk).timeline_built_at, 20, "no timeline")
    # Another visibility window: nothing is delivered a second time.
    time.sleep(TEST_VISIBILITY_TIMEOUT + TEST_RESTORE_INTERVAL + 1)
    assert survivor.succeeded(result.id) == 1 and victim.succeeded(result.id) == 0
    builds = [
        line
        for line in survivor.log().splitlines()
        if "playback.recording_timeline_build[" in line and "succeeded" in line
    ]
    assert len(builds) == 1, builds
    assert "playback.recording_timeline_build[" not in victim.log()
    files = list((tmp_path / "media").rglob("*.webm"))
    assert len(files) == 1, files
    assert TimelineEntry.objects.filter(recording=recording, kind="chat").count() == 40
    assert Recording.objects.filter(live_session=live_session).count() == 1
    # The README's connection budget: Celery processes (here two workers of
    # one pool child each) × ROUNDTABLE_DB_POOL_MIN, never more, sampled
    # every 50 ms from before the job was queued.
    watch.__exit__(None, None, None)
    budget = len(started) * settings.DB_POOL_MIN
    print(f"worker connections: peak {watch.peak()} (budget {budget}), {watch.count()} after")
    assert 0 < watch.peak() <= budget, watch.samples[-20:]


def test_timeline_build_killed_mid_job_completes_once_on_the_other_worker(
    workers, live_session, learner
):
    from playback.tasks import recording_timeline_build

    started, queue, _ = workers
    start = _session_with_chat(live_session, learner, 10_000)
    recording, _span = _recording(live_session, start, 120)

    result = recording_timeline_build.apply_async(args=[recording.pk], queue=queue)
    # Mid-job: a worker holds the recording's row lock inside the build transaction.
    wait_for(lambda: _row_locked(recording.pk), 30, "no worker started the build")
    from celery.result import AsyncResult

    info = AsyncResult(result.id).info or {}
    victim = next(w for w in started if info.get("pid") in w.pids())
    killed_at = time.monotonic()
    victim.kill()
    survivor = next(w for w in started if w is not victim)
    assert TimelineEntry.objects.filter(recording=recording).count() == 0  # rolled back

    state = task_state_when_done(result.id, REDELIVERY_BOUND)
    print(
        f"timeline finished on {survivor.name} {time.monotonic() - killed_at:.1f} s after the kill"
    )
    assert state == "SUCCESS", survivor.log()[-3000:]
    assert result.get(timeout=5) == 10_000
    time.sleep(TEST_VISIBILITY_TIMEOUT + TEST_RESTORE_INTERVAL + 1)
    assert survivor.succeeded(result.id) == 1 and victim.succeeded(result.id) == 0
    assert TimelineEntry.objects.filter(recording=recording).count() == 10_000
    keys = TimelineEntry.objects.filter(recording=recording).values("key").distinct().count()
    assert keys == 10_000
    assert Recording.objects.get(pk=recording.pk).timeline_built_at is not None
