"""The transcription job (docs/transcripts.md).

`transcript_queue` makes (or resets) the recording's Transcript row as
`pending` and queues the Celery task after commit. `transcript_run` is the
task's body and is safe to run again at any moment:

* it claims the row with a fresh `run_token` (attempts + 1, `running`);
* progress is written only while the row still carries that token, so a
  superseded run (a newer run, or a caption file uploaded meanwhile) stops;
* all cues of a run are written in one transaction that first deletes the
  previous cues and checks the token under the row lock, so a worker killed
  at any point leaves either the old cues or the new ones, never duplicates;
* a known failure (no audio stream, decode error, model missing) marks the
  row `failed` with the reason in words; a run killed with its worker is
  delivered again (acks_late) and starts over."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.selectors import session_events_list
from classroom.models import Poll
from courses.models import User
from playback.models import Recording, RecordingStatus
from playback.selectors import chapters_get
from playback.services.timeline import MediaClock
from transcripts import asr
from transcripts.changes import transcript_changed
from transcripts.models import Cue, Transcript, TranscriptSource, TranscriptStatus

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0


class Superseded(Exception):
    """Another run (or an uploaded caption file) owns the transcript now."""


def transcript_queue(*, recording_id: int, force: bool = False) -> Transcript | None:
    """Queue transcription of a ready recording (after commit). Without
    `force`, a ready or running transcript is left alone; with it (staff asked
    again), an ASR transcript is redone. An uploaded caption file is never
    replaced by the job unless forced."""
    from transcripts.tasks import transcript_transcribe

    with transaction.atomic():
        recording = Recording.objects.filter(pk=recording_id).first()
        if recording is None or recording.status != RecordingStatus.READY:
            return None
        transcript, created = Transcript.objects.select_for_update().get_or_create(
            recording=recording
        )
        if not created and not force and transcript.status != TranscriptStatus.FAILED:
            return transcript
        transcript.status = TranscriptStatus.PENDING
        transcript.source = TranscriptSource.ASR
        transcript.progress = 0.0
        transcript.error = ""
        transcript.error_code = ""
        transcript.run_token = ""
        transcript.attempts = 0
        transcript.save()
        transaction.on_commit(lambda: transcript_transcribe.delay(recording_id))
    return transcript


def recording_ready_transcribe(*, recording_id: int) -> None:
    """playback's `recording_ready` hook: queue the job when ASR is on."""
    if getattr(settings, "ASR_AUTO", True) and asr.asr_status().enabled:
        transaction.on_commit(lambda: transcript_queue(recording_id=recording_id))


# --- Vocabulary and speakers -------------------------------------------------------------


def vocabulary_prompt(recording: Recording) -> str:
    """The course's words for Whisper's `initial_prompt`: the course title,
    chapter titles and poll prompts of the recorded session, most specific
    first, cut to what Whisper reads."""
    parts: list[str] = []
    if recording.live_session_id:
        parts += list(
            Poll.objects.filter(session_id=recording.live_session_id)
            .order_by("opened_at", "id")
            .values_list("prompt", flat=True)
        )
    parts += [c["title"] for c in chapters_get(recording=recording) if c.get("key") != "start"]
    parts.append(recording.title)
    parts.append(recording.course.title)
    seen: set[str] = set()
    kept: list[str] = []
    size = 0
    for part in parts:
        part = " ".join(str(part).split()).strip(" .")
        if not part or part.lower() in seen:
            continue
        if size + len(part) + 2 > asr.PROMPT_MAX_CHARS:
            break
        seen.add(part.lower())
        kept.append(part)
        size += len(part) + 2
    return ". ".join(kept) + ("." if kept else "")


def speaker_spans(recording: Recording) -> list[tuple[int, int, str]]:
    """Who was talking when, in media ms: the media plane's talk events
    (`spoke`, from Janus's talking events) mapped through the recording's
    spans; else who was on screen (`settings["picture"]`, from the ingest)."""
    spans: list[tuple[int, int, int]] = []
    picture = (recording.settings or {}).get("picture") or []
    # Whose tracks the recording holds (the ingest's shots): people talking at
    # their tables in the same session are not on the recording.
    recorded = {shot.get("user_id") for shot in picture if isinstance(shot, dict)}
    if recording.live_session_id:
        clock = MediaClock.for_recording(recording)
        for occurred_at, duration_ms, actor_id in session_events_list(
            recording.live_session_id, verbs=("spoke",), with_actor=True
        ).values_list("occurred_at", "duration_ms", "actor_id"):
            start = clock.offset_ms(occurred_at)
            end = clock.offset_ms(occurred_at + timedelta(milliseconds=duration_ms or 0))
            if recorded and actor_id not in recorded:
                continue
            if start is not None and end is not None and end > start:
                spans.append((start, end, actor_id))
    if not spans:
        for shot in picture:
            try:
                spans.append((int(shot["start_ms"]), int(shot["end_ms"]), int(shot["user_id"])))
            except (KeyError, TypeError, ValueError):
                continue
    if not spans:
        return []
    names = {user.pk: user.name for user in User.objects.filter(pk__in={s[2] for s in spans})}
    return [(start, end, names[uid]) for start, end, uid in spans if uid in names]


def speaker_for(start_ms: int, end_ms: int, spans: list[tuple[int, int, str]]) -> str:
    """The person who talked longest during [start, end), if anyone did."""
    overlap: dict[str, int] = {}
    for span_start, span_end, name in spans:
        shared = min(end_ms, span_end) - max(start_ms, span_start)
        if shared > 0:
            overlap[name] = overlap.get(name, 0) + shared
    if not overlap:
        return ""
    return max(overlap.items(), key=lambda item: item[1])[0][:150]


# --- The run -------------------------------------------------------------------------------


def _claim(recording_id: int) -> tuple[Transcript, str] | None:
    token = uuid.uuid4().hex
    with transaction.atomic():
        transcript = (
            Transcript.objects.select_for_update().filter(recording_id=recording_id).first()
        )
        if transcript is None:
            recording = Recording.objects.filter(
                pk=recording_id, status=RecordingStatus.READY
            ).first()
            if recording is None:
                return None
            transcript = Transcript.objects.create(recording=recording)
            transcript = Transcript.objects.select_for_update().get(pk=transcript.pk)
        if transcript.status == TranscriptStatus.READY:
            return None  # done already (or a caption file was uploaded)
        transcript.status = TranscriptStatus.RUNNING
        transcript.source = TranscriptSource.ASR
        transcript.run_token = token
        transcript.attempts += 1
        transcript.progress = 0.0
        transcript.error = ""
        transcript.error_code = ""
        transcript.started_at = timezone.now()
        transcript.finished_at = None
        transcript.save()
    return transcript, token


def _progress_writer(transcript_id: int, token: str):
    last = [0.0]

    def write(share: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and share < 1.0:
            return
        last[0] = now
        updated = Transcript.objects.filter(
            pk=transcript_id, run_token=token, status=TranscriptStatus.RUNNING
        ).update(progress=round(min(0.99, max(0.0, share)), 3), updated_at=timezone.now())
        if not updated:
            raise Superseded()

    return write


def transcript_fail(transcript_id: int, token: str | None, code: str, message: str) -> None:
    rows = Transcript.objects.filter(pk=transcript_id).exclude(status=TranscriptStatus.READY)
    if token is not None:
        rows = rows.filter(run_token=token)
    rows.update(
        status=TranscriptStatus.FAILED,
        error=message[:2000],
        error_code=code[:32],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def transcript_run(recording_id: int) -> str:
    """Transcribe one recording; returns ready / failed / skipped / superseded."""
    claimed = _claim(recording_id)
    if claimed is None:
        return "skipped"
    transcript, token = claimed
    recording = Recording.objects.select_related("course").get(pk=recording_id)
    try:
        if not recording.file:
            raise asr.AsrError("file_missing", _("The recording has no media file."))
        try:
            path = recording.file.path
        except NotImplementedError:  # remote storage: read through a local copy
            path = None
        if path is None:
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".media") as handle:
                with recording.file.open("rb") as source:
                    for chunk in iter(lambda: source.read(1 << 20), b""):
                        handle.write(chunk)
                handle.flush()
                segments, info = _transcribe(recording, handle.name, transcript.pk, token)
        else:
            segments, info = _transcribe(recording, path, transcript.pk, token)
    except Superseded:
        return "superseded"
    except asr.AsrError as error:
        transcript_fail(transcript.pk, token, error.code, error.message)
        logger.warning("transcription of recording %s failed: %s", recording_id, error.message)
        return "failed"
    except (ImportError, MemoryError, RuntimeError, ValueError, TypeError) as error:
        # A bug or a broken install must not take the caller down (the job runs
        # in-process without a broker, e.g. during seed_demo): said on the page.
        logger.exception("transcription of recording %s failed unexpectedly", recording_id)
        transcript_fail(
            transcript.pk,
            token,
            "error",
            _("Transcription failed unexpectedly: %(error)s") % {"error": error},
        )
        return "failed"
    spans = speaker_spans(recording)
    duration = recording.duration_ms or None
    with transaction.atomic():
        row = Transcript.objects.select_for_update().get(pk=transcript.pk)
        if row.run_token != token or row.status != TranscriptStatus.RUNNING:
            return "superseded"
        Cue.objects.filter(transcript=row).delete()
        cues = []
        for index, segment in enumerate(segments):
            start, end = segment.start_ms, segment.end_ms
            if duration:
                start, end = min(start, duration - 1), min(end, duration)
            if end <= start:
                end = start + 1
            cues.append(
                Cue(
                    transcript=row,
                    index=index,
                    start_ms=start,
                    end_ms=end,
                    text=segment.text,
                    speaker=speaker_for(start, end, spans),
                )
            )
        Cue.objects.bulk_create(cues, batch_size=500)
        row.status = TranscriptStatus.READY
        row.progress = 1.0
        row.language = (info.get("language") or "")[:16]
        row.model = (info.get("model") or "")[:200]
        row.finished_at = timezone.now()
        row.error = ""
        row.error_code = ""
        row.save()
        transcript_changed(recording_id=recording_id)  # recaps rebuild (after commit)
    return "ready"


def _transcribe(recording: Recording, path: str, transcript_id: int, token: str):
    return asr.transcribe(
        path,
        prompt=vocabulary_prompt(recording),
        on_progress=_progress_writer(transcript_id, token),
    )
