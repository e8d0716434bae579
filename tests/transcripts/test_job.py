"""The transcription job on real generated speech (espeak-ng), with the
shipped Whisper model loaded from its local directory: the words come out,
speakers are attached from the media plane's talk events, the prompt carries
the course's vocabulary, failures say why, and runs are idempotent."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from analytics.services import event_record
from playback.models import RecordingStatus
from tests.factories import PollFactory
from tests.transcripts.conftest import KNOWN_WORDS, asr_required
from transcripts.models import Cue, Transcript, TranscriptSource, TranscriptStatus
from transcripts.services import jobs

pytestmark = pytest.mark.django_db


def _text(recording) -> str:
    return " ".join(
        Cue.objects.filter(transcript__recording=recording).values_list("text", flat=True)
    ).lower()


def test_job_transcribes_the_known_words_with_speaker_and_vocabulary(
    speech_recording, ended_session, instructor, course
):
    asr_required()
    PollFactory(session=ended_session, prompt="Where does chlorophyll sit in the chloroplast?")
    start = ended_session.started_at
    # The media plane heard the instructor talk through the whole recording.
    event_record(
        actor=instructor,
        verb="spoke",
        object_type="live_session",
        object_id=ended_session.pk,
        course_id=course.pk,
        live_session_id=ended_session.pk,
        duration_ms=60_000,
        occurred_at=start,
    )
    prompt = jobs.vocabulary_prompt(speech_recording)
    assert "chloroplast" in prompt and "Photosynthesis lecture" in prompt

    assert jobs.transcript_run(speech_recording.pk) == "ready"
    transcript = Transcript.objects.get(recording=speech_recording)
    assert transcript.status == TranscriptStatus.READY
    assert transcript.source == TranscriptSource.ASR
    assert transcript.progress == 1.0 and transcript.attempts == 1
    assert transcript.model.startswith("tiny.en") and transcript.language == "en"
    text = _text(speech_recording)
    found = [word for word in KNOWN_WORDS if word in text]
    assert len(found) >= len(KNOWN_WORDS) - 1, (found, text)
    cues = list(Cue.objects.filter(transcript=transcript))
    assert cues and all(0 <= c.start_ms < c.end_ms <= speech_recording.duration_ms for c in cues)
    assert {c.speaker for c in cues} == {instructor.name}
    # Caption-sized: cut from Whisper's long segments at word boundaries.
    assert len(cues) >= 2
    assert all(len(c.text) <= 84 and c.end_ms - c.start_ms <= 7_500 for c in cues), [
        (c.start_ms, c.end_ms, c.text) for c in cues
    ]

    # Idempotent: a second delivery of a finished job changes nothing.
    assert jobs.transcript_run(speech_recording.pk) == "skipped"
    assert Cue.objects.filter(transcript=transcript).count() == len(cues)
    # Forced again (staff): the cues are replaced, never added to.
    jobs.transcript_queue(recording_id=speech_recording.pk, force=True)
    assert jobs.transcript_run(speech_recording.pk) == "ready"
    assert Cue.objects.filter(transcript=transcript).count() == len(cues)
    assert Transcript.objects.get(pk=transcript.pk).attempts == 1


def test_recording_ready_queues_the_job(
    settings,
    course,
    ended_session,
    speech_files,
    tasks_run_in_process,
    django_capture_on_commit_callbacks,
):
    asr_required()
    from playback.services.recordings import recording_from_path
    from tests.transcripts.conftest import SPOKEN

    settings.ASR_AUTO = True
    with django_capture_on_commit_callbacks(execute=True):
        recording = recording_from_path(
            course=course, path=speech_files[SPOKEN], title="Auto", live_session=None
        )
    transcript = Transcript.objects.get(recording=recording)
    assert transcript.status == TranscriptStatus.READY
    text = _text(recording)
    found = [word for word in KNOWN_WORDS if word in text]
    assert len(found) >= len(KNOWN_WORDS) - 1, (found, text)


def _no_audio_file(path: Path) -> Path:
    with av.open(str(path), "w", format="webm") as target:
        stream = target.add_stream("libvpx", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return path


def test_failures_say_why(speech_recording, settings, tmp_path, course):
    asr_required()
    from playback.services.recordings import recording_from_path

    # No audio stream.
    silent = recording_from_path(
        course=course, path=_no_audio_file(tmp_path / "v.webm"), title="Video only"
    )
    assert jobs.transcript_run(silent.pk) == "failed"
    transcript = Transcript.objects.get(recording=silent)
    assert transcript.status == TranscriptStatus.FAILED and transcript.error_code == "no_audio"
    assert "no audio stream" in transcript.error

    # A file that cannot be decoded.
    Path(speech_recording.file.path).write_bytes(b"\x1aE\xdf\xa3" + b"garbage" * 500)
    assert jobs.transcript_run(speech_recording.pk) == "failed"
    transcript = Transcript.objects.get(recording=speech_recording)
    assert transcript.error_code == "decode_error"
    assert "cannot be" in transcript.error and transcript.finished_at is not None

    # The model directory is missing: said, with the setting to fix it.
    settings.ASR_MODEL_DIR = str(tmp_path / "no-model")
    jobs.transcript_queue(recording_id=silent.pk, force=True)
    assert jobs.transcript_run(silent.pk) == "failed"
    transcript = Transcript.objects.get(recording=silent)
    assert transcript.error_code == "model_missing"
    assert "ROUNDTABLE_ASR_MODEL_DIR" in transcript.error
    assert not Cue.objects.filter(transcript__recording__course=course).exists()


def test_a_stale_run_cannot_write_and_an_upload_supersedes_it(speech_recording, instructor):
    asr_required()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from transcripts.services.captions import captions_upload

    claimed = jobs._claim(speech_recording.pk)
    assert claimed is not None
    transcript, token = claimed
    # Staff upload a file while the run is going: the run's token is cleared.
    captions_upload(
        recording=speech_recording,
        actor=instructor,
        uploaded=SimpleUploadedFile("c.vtt", b"WEBVTT\n\n00:00.500 --> 00:02.000\nMine\n"),
    )
    write = jobs._progress_writer(transcript.pk, token)
    with pytest.raises(jobs.Superseded):
        write(0.5)
    # A redelivered task sees a ready transcript and leaves it alone.
    assert jobs.transcript_run(speech_recording.pk) == "skipped"
    assert _text(speech_recording) == "mine"


def test_a_killed_run_restarts_cleanly(speech_recording):
    """A run killed after claiming the row (status running, no cues) is
    delivered again: it claims with a new token and writes the cues once."""
    asr_required()
    first = jobs._claim(speech_recording.pk)
    assert first is not None
    assert Transcript.objects.get(recording=speech_recording).status == TranscriptStatus.RUNNING
    assert jobs.transcript_run(speech_recording.pk) == "ready"
    transcript = Transcript.objects.get(recording=speech_recording)
    assert transcript.attempts == 2 and transcript.run_token != first[1]
    indexes = list(Cue.objects.filter(transcript=transcript).values_list("index", flat=True))
    assert indexes == list(range(len(indexes))) and indexes


def test_not_ready_recordings_are_not_transcribed(speech_recording):
    speech_recording.status = RecordingStatus.PROCESSING
    speech_recording.save()
    assert jobs.transcript_queue(recording_id=speech_recording.pk) is None
    assert jobs.transcript_run(speech_recording.pk) == "skipped"
    assert not Transcript.objects.filter(recording=speech_recording).exists()


def test_speaker_falls_back_to_who_was_on_screen(
    speech_recording, learner, instructor, ended_session
):
    speech_recording.settings = {
        **speech_recording.settings,
        "picture": [{"user_id": learner.pk, "start_ms": 0, "end_ms": 1000}],
    }
    speech_recording.save()
    spans = jobs.speaker_spans(speech_recording)
    assert spans == [(0, 1000, learner.name)]
    # Someone else talking at their table (not on the recording) is not a speaker.
    event_record(
        actor=instructor,
        verb="spoke",
        object_type="live_session",
        object_id=ended_session.pk,
        course_id=speech_recording.course_id,
        live_session_id=ended_session.pk,
        duration_ms=5_000,
        occurred_at=ended_session.started_at,
    )
    assert jobs.speaker_spans(speech_recording) == [(0, 1000, learner.name)]
    assert jobs.speaker_for(500, 3000, spans) == learner.name
    assert jobs.speaker_for(1000, 3000, spans) == ""
