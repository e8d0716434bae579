"""Staff changes to captions: upload a WebVTT/SRT file, edit a cue (text and
timing, each change kept as a CueRevision), and a learner's captions
preference."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotFoundError, ValidationError
from core.text import text_has_control
from courses.models import User
from playback.models import Recording
from transcripts.changes import transcript_changed
from transcripts.formats import CaptionFormatError, parse_captions
from transcripts.models import Cue, CueRevision, Transcript, TranscriptSource, TranscriptStatus

CUE_TEXT_MAX = 2_000


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, code=code, details={field: message})


def upload_max_bytes() -> int:
    return int(getattr(settings, "CAPTION_UPLOAD_MAX_BYTES", 2 * 1024 * 1024))


def captions_upload(*, recording: Recording, actor, uploaded) -> Transcript:
    """Replace the recording's transcript with the cues of a WebVTT or SRT
    file. A bad file raises a ValidationError naming the line; nothing is
    changed then. A running transcription is superseded (its token cleared)."""
    if uploaded is None or not getattr(uploaded, "size", 0):
        raise _invalid("file", _("Choose a WebVTT (.vtt) or SubRip (.srt) file."), "invalid_file")
    if uploaded.size > upload_max_bytes():
        raise _invalid(
            "file",
            _("The file is larger than the limit of %(kb)d KB.")
            % {"kb": upload_max_bytes() // 1024},
            "file_too_large",
        )
    uploaded.seek(0)
    data = uploaded.read()
    name = (getattr(uploaded, "name", "") or "")[:255]
    try:
        parsed = parse_captions(data, name)
    except CaptionFormatError as error:
        raise ValidationError(
            _("Line %(line)d: %(message)s.") % {"line": error.line, "message": error.message},
            code="invalid_captions",
            details={"file": error.message, "line": error.line},
        ) from error
    duration = recording.duration_ms
    if duration:
        for cue in parsed:
            if cue.start_ms >= duration:
                message = _("Line %(line)d: the cue starts after the recording ends (%(end)s).") % {
                    "line": cue.line,
                    "end": _clock(duration),
                }
                raise ValidationError(
                    message,
                    code="invalid_captions",
                    details={"file": message, "line": cue.line},
                )
    with transaction.atomic():
        transcript, _created = Transcript.objects.select_for_update().get_or_create(
            recording=recording
        )
        Cue.objects.filter(transcript=transcript).delete()
        Cue.objects.bulk_create(
            [
                Cue(
                    transcript=transcript,
                    index=index,
                    start_ms=cue.start_ms,
                    end_ms=min(cue.end_ms, duration) if duration else cue.end_ms,
                    text=cue.text,
                    speaker=cue.speaker,
                )
                for index, cue in enumerate(parsed)
            ],
            batch_size=500,
        )
        now = timezone.now()
        transcript.status = TranscriptStatus.READY
        transcript.source = TranscriptSource.UPLOAD
        transcript.progress = 1.0
        transcript.error = ""
        transcript.error_code = ""
        transcript.run_token = ""
        transcript.model = ""
        transcript.file_name = name
        transcript.uploaded_by = actor
        transcript.started_at = transcript.started_at or now
        transcript.finished_at = now
        transcript.save()
        transcript_changed(recording_id=recording.pk)  # recaps rebuild (after commit)
    return transcript


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


MS_LIMIT = 10**12  # about 31 years: anything beyond is not a media time


def _ms(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MS_LIMIT:
        raise _invalid(
            field, _("%(field)s must be a whole number of milliseconds.") % {"field": field}
        )
    return value


def cue_update(*, recording: Recording, cue_id: int, actor, changes: dict) -> Cue:
    """Change a cue's text and/or timing. Validated: text of 1 to 2000
    characters without control characters; 0 <= start < end <= duration.
    Each change is kept as a CueRevision (who, when, before, after)."""
    unknown = set(changes) - {"text", "start_ms", "end_ms"}
    if unknown:
        raise _invalid(sorted(unknown)[0], _("Unknown field."))
    with transaction.atomic():
        cue = (
            Cue.objects.select_for_update()
            .filter(pk=cue_id, transcript__recording=recording)
            .first()
        )
        if cue is None:
            raise NotFoundError(_("No such caption in this recording."), code="cue_not_found")
        text = cue.text
        if "text" in changes:
            value = changes["text"]
            text = " ".join(value.split()) if isinstance(value, str) else ""
            if not text or len(text) > CUE_TEXT_MAX:
                raise _invalid("text", _("A caption has 1 to 2000 characters."))
            if text_has_control(text, bidi=True):
                raise _invalid("text", _("A caption cannot hold control characters."))
        start = _ms("start_ms", changes["start_ms"]) if "start_ms" in changes else cue.start_ms
        end = _ms("end_ms", changes["end_ms"]) if "end_ms" in changes else cue.end_ms
        if start < 0:
            raise _invalid("start_ms", _("A caption cannot start before the recording."))
        if end <= start:
            raise _invalid("end_ms", _("A caption must end after it starts."))
        duration = recording.duration_ms
        if duration and end > duration:
            raise _invalid(
                "end_ms",
                _("A caption must end within the recording (%(end)s).") % {"end": _clock(duration)},
            )
        if (text, start, end) == (cue.text, cue.start_ms, cue.end_ms):
            return cue
        CueRevision.objects.create(
            cue=cue,
            previous_text=cue.text,
            previous_start_ms=cue.start_ms,
            previous_end_ms=cue.end_ms,
            new_text=text,
            new_start_ms=start,
            new_end_ms=end,
            editor=actor,
        )
        cue.text, cue.start_ms, cue.end_ms = text, start, end
        cue.edited_at = timezone.now()
        cue.save(update_fields=["text", "start_ms", "end_ms", "edited_at"])
        Transcript.objects.filter(pk=cue.transcript_id).update(updated_at=timezone.now())
        transcript_changed(recording_id=recording.pk)  # recaps rebuild (after commit)
    return cue


def captions_preference_set(*, user: User, captions_on: bool) -> None:
    if not isinstance(captions_on, bool):
        raise _invalid("captions_on", _("captions_on must be true or false."))
    User.objects.filter(pk=user.pk).update(captions_on=captions_on)
    user.captions_on = captions_on
