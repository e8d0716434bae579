"""A Celery worker SIGKILLed in the middle of a transcription: the job is
delivered again (acks_late; Redis gives the unacknowledged task back after
JOB_VISIBILITY_TIMEOUT, 25 s here), the other
worker transcribes from the start, and the transcript holds each cue once.

Two real worker processes (prefork, one child each, as deployed) consume a
private queue of the test's Redis; the test waits until a worker has written
progress (provably mid-run), kills that worker's whole process group, and
waits for the survivor."""

from __future__ import annotations

import time

import pytest

from tests.conftest import database_url, require_redis
from tests.faults.workers import (
    TEST_RESTORE_INTERVAL,
    running_workers,
    task_state_when_done,
    wait_for,
    worker_env,
)
from tests.transcripts.conftest import asr_required
from transcripts.models import Cue, Transcript, TranscriptStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

VISIBILITY = 25

LECTURE = (
    "Welcome back to the course. Last week we studied the structure of the cell. "
    "Today we continue with photosynthesis, the process that plants use to make food. "
    "Light energy is captured by chlorophyll inside the chloroplast. "
    "Water is split, oxygen is released, and carbon dioxide is fixed into sugar. "
    "Please write down the key terms, because the quiz on Friday will ask about them."
)


def test_transcription_killed_mid_run_completes_once_on_the_other_worker(
    tmp_path, media_root, course, speech_files, live_session
):
    asr_required()
    from playback.services.recordings import recording_from_path
    from transcripts.services.jobs import transcript_queue
    from transcripts.tasks import transcript_transcribe

    # Longer windows than the fault tests' own: a run takes several seconds on a
    # busy machine and must not be handed out twice while it runs.
    env, queue = worker_env(
        database_url(),
        require_redis(),
        MEDIA_ROOT=str(media_root),
        JOB_VISIBILITY_TIMEOUT=str(VISIBILITY),
        JOB_TIME_LIMIT=str(VISIBILITY - 5),
    )
    recording = recording_from_path(course=course, path=speech_files[LECTURE], title="Lecture")
    transcript_queue(recording_id=recording.pk)  # pending; queued on commit (no worker yet)
    with running_workers(env, tmp_path, ("alpha", "beta")) as started:
        result = transcript_transcribe.apply_async(args=[recording.pk], queue=queue)
        # Mid-run: progress was written by the run that owns the row.
        wait_for(
            lambda: Transcript.objects.filter(
                recording=recording, status=TranscriptStatus.RUNNING, progress__gt=0
            ).exists(),
            60,
            "no worker started transcribing",
        )
        victim = next(w for w in started if f"[{result.id}] received" in w.log())
        killed_at = time.monotonic()
        victim.kill()
        survivor = next(w for w in started if w is not victim)
        first = Transcript.objects.get(recording=recording)
        assert first.status == TranscriptStatus.RUNNING and first.attempts == 1
        assert not Cue.objects.filter(transcript=first).exists()

        bound = VISIBILITY + TEST_RESTORE_INTERVAL + 40
        state = task_state_when_done(result.id, bound)
        print(f"transcribed on {survivor.name} {time.monotonic() - killed_at:.1f} s after the kill")
        assert state == "SUCCESS", survivor.log()[-3000:]
        assert result.get(timeout=5) == "ready"
        transcript = Transcript.objects.get(recording=recording)
        assert transcript.status == TranscriptStatus.READY and transcript.attempts == 2
        assert transcript.run_token != first.run_token
        cues = list(Cue.objects.filter(transcript=transcript).order_by("index"))
        assert [c.index for c in cues] == list(range(len(cues))) and len(cues) >= 3
        starts = [c.start_ms for c in cues]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)  # no copies
        text = " ".join(c.text for c in cues).lower()
        # The lecture's words, allowing the tiny model two misses (CI once
        # heard "fogo synthesis"): the point here is one complete run.
        words = ("course", "structure", "cell", "plants", "food", "light", "energy", "chlorophyll")
        heard = [word for word in words if word in text]
        assert len(heard) >= len(words) - 2, (heard, text)
        # Nothing runs a third time.
        time.sleep(TEST_RESTORE_INTERVAL + 1)
        assert survivor.succeeded(result.id) == 1 and victim.succeeded(result.id) == 0
        assert Cue.objects.filter(transcript=transcript).count() == len(cues)
