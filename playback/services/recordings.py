"""Recordings: uploads (checked with PyAV), per-recording playback settings
(trim, chapter names, polls that replay, pause at polls, forward skipping),
and the demo recording."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from analytics.models import EventMode
from analytics.services import event_record
from classroom.models import (
    Announcement,
    ChatChannel,
    ChatMessage,
    LiveSession,
    Poll,
    PollKind,
    PollState,
    Question,
)
from core.errors import NotFoundError, ValidationError
from core.text import text_has_control, text_visible
from courses.models import Enrollment, Role
from playback.media import MediaInfo, media_probe, synthetic_media_write
from playback.models import (
    Recording,
    RecordingSource,
    RecordingSpan,
    RecordingStatus,
    TimelineEntry,
)
from playback.services.timeline import recording_timeline_build_on_commit

DEFAULT_UPLOAD_MAX_BYTES = 2 * 1024**3
TITLE_MAX = 200
CHAPTER_TITLE_MAX = 120
DEFAULT_SETTINGS: dict[str, Any] = {
    "pause_at_polls": True,
    "forward_skip": True,  # may learners skip ahead before they completed it?
    "replay_polls": None,  # None: every poll of the session; else a list of poll ids
    "chapters": {},  # timeline entry key -> title given by staff
    "completion_threshold": 0.9,
    "poll_timeout_seconds": 90,
}
POLL_TIMEOUT_RANGE = (10, 600)
THRESHOLD_RANGE = (0.5, 1.0)


def upload_max_bytes() -> int:
    return int(getattr(settings, "RECORDING_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES))


def recording_settings_get(recording: Recording) -> dict[str, Any]:
    """The recording's playback settings with defaults filled in."""
    stored = recording.settings if isinstance(recording.settings, dict) else {}
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in stored.items() if k in DEFAULT_SETTINGS}}
    merged["chapters"] = dict(merged["chapters"] or {})
    return merged


def recording_ready_announce(recording_id: int) -> None:
    """Tell the apps above (playback/hooks.py `recording_ready`) that a
    recording became ready; call inside the transaction that made it so."""
    from playback.hooks import recording_ready

    recording_ready(recording_id=recording_id)


def recording_bounds(recording: Recording) -> tuple[int, int]:
    """[start, end) in media ms after trimming."""
    duration = recording.duration_ms or 0
    end = recording.trim_end_ms if recording.trim_end_ms is not None else duration
    end = min(end, duration) if duration else end
    start = min(recording.trim_start_ms, max(0, end - 1))
    return start, end


# --- Upload -------------------------------------------------------------------------------


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, code=code, details={field: message})


def _probe_upload(uploaded) -> MediaInfo:
    """Probe from the file on disk when Django spooled it there; small uploads
    held in memory are written to a temporary file first (PyAV needs to seek)."""
    path = getattr(uploaded, "temporary_file_path", None)
    if path is not None:
        return media_probe(path())
    with tempfile.NamedTemporaryFile(suffix=".upload") as handle:
        uploaded.seek(0)
        for chunk in uploaded.chunks():
            handle.write(chunk)
        handle.flush()
        return media_probe(handle.name)


def recording_upload(
    *,
    course,
    actor,
    uploaded,
    title: str,
    live_session_id: int | None = None,
) -> Recording:
    """Store a staff upload as a ready recording. The type is decided by
    reading the file with PyAV, never by its name; a bad file raises a
    ValidationError and nothing is kept (no row, no stored file)."""
    if uploaded is None or not getattr(uploaded, "size", 0):
        raise _invalid("file", _("Choose a file to upload: a file is required."), "invalid_media")
    title = _title_clean((title or "").strip() or Path(getattr(uploaded, "name", "") or "").stem)
    limit = upload_max_bytes()
    if uploaded.size > limit:
        raise _invalid(
            "file",
            _("The file is larger than the limit of %(mb)d MB.") % {"mb": limit // 1024**2},
            "file_too_large",
        )
    session = None
    if live_session_id is not None:
        session = LiveSession.objects.filter(pk=live_session_id, course=course).first()
        if session is None:
            raise NotFoundError(_("No such session in this course."), code="session_not_found")
    info = _probe_upload(uploaded)
    stored_name = None
    try:
        with transaction.atomic():
            recording = Recording(
                course=course,
                live_session=session,
                title=title,
                source=RecordingSource.UPLOAD,
                status=RecordingStatus.READY,
                mime_type=info.mime_type,
                duration_ms=info.duration_ms,
                size_bytes=uploaded.size,
                audio_codec=info.audio_codec,
                video_codec=info.video_codec,
                width=info.width,
                height=info.height,
                created_by=actor,
            )
            uploaded.seek(0)
            recording.file.save(f"{uuid.uuid4().hex}.{info.extension}", uploaded, save=False)
            stored_name = recording.file.name
            recording.save()
            event_record(
                actor=actor,
                verb="uploaded",
                object_type="recording",
                object_id=recording.pk,
                course_id=course.pk,
                recording_id=recording.pk,
                live_session_id=session.pk if session else None,
                mode=EventMode.PLAYBACK,
                extensions={"mime_type": info.mime_type, "size_bytes": uploaded.size},
            )
            if session is not None:
                recording_timeline_build_on_commit(recording.pk)
            recording_ready_announce(recording.pk)
    except Exception:
        if stored_name:
            with contextlib.suppress(OSError):
                Recording._meta.get_field("file").storage.delete(stored_name)
        raise
    return recording


def recording_from_path(
    *,
    course,
    path: str | Path,
    title: str,
    live_session=None,
    recorded_from=None,
    actor=None,
    source: str = RecordingSource.LIVE,
) -> Recording:
    """Store a media file produced on the server (a recorder, the demo data)."""
    info = media_probe(path)
    with transaction.atomic(), open(path, "rb") as handle:
        recording = Recording(
            course=course,
            live_session=live_session,
            title=title,
            source=source,
            status=RecordingStatus.READY,
            mime_type=info.mime_type,
            duration_ms=info.duration_ms,
            size_bytes=Path(path).stat().st_size,
            audio_codec=info.audio_codec,
            video_codec=info.video_codec,
            width=info.width,
            height=info.height,
            recorded_from=recorded_from,
            created_by=actor,
        )
        recording.file.save(f"{uuid.uuid4().hex}.{info.extension}", File(handle), save=False)
        recording.save()
        if live_session is not None:
            recording_timeline_build_on_commit(recording.pk)
        recording_ready_announce(recording.pk)
    return recording


# --- Settings -------------------------------------------------------------------------------


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(field, _("%(field)s must be true or false.") % {"field": field})
    return value


def _int_or_none(field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, _("%(field)s must be a whole number.") % {"field": field})
    return value


def _title_clean(value: Any) -> str:
    """1 to 200 characters, at least one of them visible, no control character
    (NUL cannot be stored at all)."""
    title = value.strip() if isinstance(value, str) else ""
    if not title or len(title) > TITLE_MAX:
        raise _invalid("title", _("A title has 1 to 200 characters."))
    if text_has_control(title, bidi=True):
        raise _invalid("title", _("A title cannot hold control characters."))
    if not text_visible(title):
        raise _invalid("title", _("A title needs a visible character."))
    return title


def recording_settings_update(*, recording_id: int, actor, changes: dict[str, Any]) -> Recording:
    """Staff choices for one recording. `changes` may hold title, trim_start_ms,
    trim_end_ms (null: to the end), pause_at_polls, forward_skip, replay_polls
    (null: all; else poll ids of the session), chapters ({key: title}; an
    empty title restores the default), completion_threshold (0.5–1),
    poll_timeout_seconds (10–600)."""
    unknown = set(changes) - {"title", "trim_start_ms", "trim_end_ms", *DEFAULT_SETTINGS}
    if unknown:
        raise _invalid(sorted(unknown)[0], _("Unknown setting."))
    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
        if recording is None:
            raise NotFoundError(_("Recording not found."), code="recording_not_found")
        current = recording_settings_get(recording)
        fields = ["settings", "updated_at"]
        if "title" in changes:
            recording.title = _title_clean(changes["title"])
            fields.append("title")
        duration = recording.duration_ms or 0
        if "trim_start_ms" in changes or "trim_end_ms" in changes:
            start = _int_or_none(
                "trim_start_ms", changes.get("trim_start_ms", recording.trim_start_ms)
            )
            end = _int_or_none("trim_end_ms", changes.get("trim_end_ms", recording.trim_end_ms))
            start = start or 0
            if start < 0 or (duration and start >= duration):
                raise _invalid("trim_start_ms", _("The start must lie inside the recording."))
            if end is not None and (end <= start + 1000 or (duration and end > duration)):
                raise _invalid(
                    "trim_end_ms",
                    _(
                        "The end must come at least a second after the start and inside the recording."
                    ),
                )
            if end is not None and duration and end == duration:
                end = None
            recording.trim_start_ms, recording.trim_end_ms = start, end
            fields += ["trim_start_ms", "trim_end_ms"]
        for flag in ("pause_at_polls", "forward_skip"):
            if flag in changes:
                current[flag] = _bool(flag, changes[flag])
        if "replay_polls" in changes:
            current["replay_polls"] = _replay_polls_clean(recording, changes["replay_polls"])
        if "chapters" in changes:
            current["chapters"] = _chapters_clean(
                recording, current["chapters"], changes["chapters"]
            )
        if "completion_threshold" in changes:
            value = changes["completion_threshold"]
            low, high = THRESHOLD_RANGE
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not low <= value <= high
            ):
                raise _invalid("completion_threshold", _("The threshold runs from 50 % to 100 %."))
            current["completion_threshold"] = round(float(value), 3)
        if "poll_timeout_seconds" in changes:
            value = _int_or_none("poll_timeout_seconds", changes["poll_timeout_seconds"])
            low, high = POLL_TIMEOUT_RANGE
            if value is None or not low <= value <= high:
                raise _invalid(
                    "poll_timeout_seconds", _("The poll timeout runs from 10 to 600 seconds.")
                )
            current["poll_timeout_seconds"] = value
        recording.settings = current
        recording.save(update_fields=fields)
        event_record(
            actor=actor,
            verb="configured",
            object_type="recording",
            object_id=recording.pk,
            course_id=recording.course_id,
            recording_id=recording.pk,
            mode=EventMode.PLAYBACK,
            extensions={"changed": sorted(changes)},
        )
    return recording


def _replay_polls_clean(recording: Recording, value: Any) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in value
    ):
        raise _invalid("replay_polls", _("Give the ids of the polls that replay."))
    known = set(
        Poll.objects.filter(session_id=recording.live_session_id).values_list("pk", flat=True)
    )
    if not set(value) <= known:
        raise _invalid("replay_polls", _("These polls are not part of this recording."))
    return sorted(set(value))


def _chapters_clean(recording: Recording, current: dict, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _invalid("chapters", _("Chapters are given as {key: title}."))
    keys = set(
        TimelineEntry.objects.filter(recording=recording, is_chapter=True).values_list(
            "key", flat=True
        )
    )
    keys.add("start")
    chapters = dict(current)
    for key, title in value.items():
        if key not in keys:
            raise _invalid("chapters", _("No such chapter: %(key)s.") % {"key": key})
        title = title.strip() if isinstance(title, str) else ""
        if len(title) > CHAPTER_TITLE_MAX:
            raise _invalid("chapters", _("A chapter title has at most 120 characters."))
        if title:
            chapters[key] = title
        else:
            chapters.pop(key, None)
    return chapters


def recording_delete(*, recording_id: int, actor) -> None:
    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
        if recording is None:
            raise NotFoundError(_("Recording not found."), code="recording_not_found")
        name = recording.file.name
        course_id = recording.course_id
        recording.delete()
        event_record(
            actor=actor,
            verb="deleted",
            object_type="recording",
            object_id=recording_id,
            course_id=course_id,
            recording_id=recording_id,
            mode=EventMode.PLAYBACK,
        )
        if name:
            storage = Recording._meta.get_field("file").storage
            transaction.on_commit(lambda: storage.delete(name))


# --- Demo data ------------------------------------------------------------------------------

DEMO_SECONDS = 150


def demo_recording_ensure(course, session, *, seconds: int = DEMO_SECONDS) -> Recording:
    """The recording of a past demo session, with a story on its timeline
    (chat, a question, reactions, a mode change, a recording pause, two quiz
    polls). Idempotent: a second call returns the existing recording. Media
    is generated with PyAV (test pattern and tone); nothing is downloaded."""
    from datetime import timedelta

    existing = Recording.objects.filter(course=course, live_session=session).first()
    if existing is not None:
        return existing
    started = session.started_at or session.scheduled_start
    with tempfile.TemporaryDirectory() as folder:
        path = synthetic_media_write(Path(folder) / "demo.webm", seconds=seconds, kind="webm")
        with transaction.atomic():
            _demo_session_story(course, session, started, seconds)
            recording = recording_from_path(
                course=course,
                path=path,
                title=session.title,
                live_session=session,
                recorded_from=started,
            )
            # Recorded for 90 s, paused for 5 minutes of table talk, then the rest.
            first = min(90, seconds // 2)
            RecordingSpan.objects.create(
                recording=recording,
                started_at=started,
                ended_at=started + timedelta(seconds=first),
                media_offset_ms=0,
            )
            RecordingSpan.objects.create(
                recording=recording,
                started_at=started + timedelta(seconds=first + 300),
                ended_at=started + timedelta(seconds=seconds + 300),
                media_offset_ms=first * 1000,
            )
    return recording


def _demo_session_story(course, session, started, seconds: int) -> None:
    """Stored rows of what happened in the demo session (only if it has none)."""
    from datetime import timedelta

    if Poll.objects.filter(session=session).exists():
        return
    people = list(
        Enrollment.objects.filter(course=course, is_active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )
    staff = next((e.user for e in people if e.role == Role.INSTRUCTOR), None)
    learners = [e.user for e in people if e.role == Role.LEARNER]
    at = lambda s: started + timedelta(seconds=s)  # noqa: E731
    after_pause = lambda s: started + timedelta(seconds=s + 300)  # noqa: E731

    def created(model, moment, **fields):
        row = model.objects.create(**fields)
        model.objects.filter(pk=row.pk).update(created_at=moment)
        return row

    if staff:
        created(
            Announcement,
            at(5),
            session=session,
            author=staff,
            body="Welcome! Slides are in the course folder.",
        )
    lines = [
        (12, "Good morning everyone"),
        (20, "Is this the same as last year's chapter 2?"),
        (48, "The membrane picture helps a lot"),
        (70, "Could you repeat the part about organelles?"),
    ]
    for index, (second, body) in enumerate(lines):
        if learners:
            created(
                ChatMessage,
                at(second),
                session=session,
                channel=ChatChannel.CLASS,
                author=learners[index % len(learners)],
                body=body,
            )
    if learners:
        created(
            Question,
            at(35),
            session=session,
            author=learners[1 % len(learners)],
            body="Do plant cells have mitochondria too?",
            upvote_count=4,
        )
    first_poll = min(60, seconds // 3)
    Poll.objects.create(
        session=session,
        kind=PollKind.SINGLE,
        prompt="Which organelle makes most of the cell's ATP?",
        definition={
            "options": [
                {"id": "a", "text": "Nucleus"},
                {"id": "b", "text": "Mitochondrion"},
                {"id": "c", "text": "Golgi apparatus"},
            ],
            "correct": ["b"],
        },
        is_quiz=True,
        state=PollState.CLOSED,
        opened_at=at(first_poll),
        closed_at=at(first_poll + 40),
        published_at=at(first_poll + 45),
        created_by=staff,
    )
    second_poll = min(120, seconds - 15)
    Poll.objects.create(
        session=session,
        kind=PollKind.TRUE_FALSE,
        prompt="Every cell has a cell wall.",
        definition={
            "options": [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}],
            "correct": ["false"],
        },
        is_quiz=True,
        state=PollState.CLOSED,
        opened_at=after_pause(second_poll),
        closed_at=after_pause(second_poll + 30),
        created_by=staff,
    )
    if staff:
        for second, mode in ((0, "lecture"), (seconds // 2 + 300 + 1, "table_talk")):
            event_record(
                actor=staff,
                verb="mode_changed",
                object_type="live_session",
                object_id=session.pk,
                course_id=course.pk,
                live_session_id=session.pk,
                occurred_at=started + timedelta(seconds=second),
                extensions={"mode": mode, "table_id": None},
            )
    for index, learner in enumerate(learners[:8]):
        event_record(
            actor=learner,
            verb="reacted",
            object_type="live_session",
            object_id=session.pk,
            course_id=course.pk,
            live_session_id=session.pk,
            occurred_at=at(50 + index % 4),
            extensions={"reaction": "clap" if index % 2 else "thumbs_up"},
        )
