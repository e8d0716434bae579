"""Time-synced notes on a recording: private, shared with my table, or
public to the course. Shown beside the video; exported as Markdown."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import EventMode
from analytics.services import event_record
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from core.rooms.limits import rate_limit
from core.text import text_visible
from playback import events
from playback.models import Note, NoteVisibility, PlaybackConnection, PlaybackRoom, Recording
from playback.services.rooms import media_ms_clean

NOTE_MAX_LENGTH = 4000
NOTE_LIMIT = (20, 60)  # notes per seconds per user


def _body_clean(body: Any) -> str:
    body = body.strip() if isinstance(body, str) else ""
    if not text_visible(body):
        raise ValidationError(_("The note is empty."), code="note_empty", details={"body": "empty"})
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationError(
            _("A note has at most %(n)d characters.") % {"n": NOTE_MAX_LENGTH},
            code="note_too_long",
            details={"body": "too long"},
        )
    return body


def _visibility_clean(visibility: Any, table_id: int | None) -> str:
    if visibility not in NoteVisibility.values:
        raise ValidationError(
            _("Choose who sees the note: only me, my table or the course."),
            code="invalid_visibility",
            details={"visibility": list(NoteVisibility.values)},
        )
    if visibility == NoteVisibility.TABLE and table_id is None:
        raise ConflictError(_("You are not seated at a table in this course."), code="not_seated")
    return visibility


def _other_rooms(recording_id: int, room_id: int | None) -> list[int]:
    """Other rooms of the recording where someone is connected right now."""
    return sorted(
        set(
            PlaybackConnection.objects.filter(room__recording_id=recording_id)
            .exclude(room_id=room_id)
            .values_list("room_id", flat=True)
        )
    )


def _room_locked(room_id: int | None) -> PlaybackRoom | None:
    if room_id is None:
        return None
    return PlaybackRoom.objects.select_for_update().filter(pk=room_id).first()


def _record(note: Note, actor, verb: str, room: PlaybackRoom | None, **extensions) -> None:
    recording = note.recording
    if room is not None:
        extensions.update({"room_id": room.pk, "room_kind": room.kind})
    event_record(
        actor=actor,
        verb=verb,
        object_type="note",
        object_id=note.pk,
        course_id=recording.course_id,
        live_session_id=recording.live_session_id,
        recording_id=recording.pk,
        mode=EventMode.PLAYBACK,
        media_time_ms=note.media_ms,
        response=note.body if verb != "deleted_note" else "",
        extensions={"visibility": note.visibility, **extensions},
    )


def note_add(
    *,
    recording: Recording,
    user,
    table_id: int | None,
    body: Any,
    visibility: Any = NoteVisibility.PRIVATE,
    media_ms: Any,
    room_id: int | None = None,
    may_participate: bool = True,
) -> Note:
    body = _body_clean(body)
    visibility = _visibility_clean(visibility, table_id)
    if visibility != NoteVisibility.PRIVATE and not may_participate:
        raise PermissionDeniedError(_("Observers keep private notes only."), code="forbidden")
    media = media_ms_clean(recording, media_ms)
    limit, seconds = NOTE_LIMIT
    rate_limit(f"playback:note:{user.pk}", limit, seconds)
    with transaction.atomic():
        room = _room_locked(room_id)
        note = Note.objects.create(
            recording=recording,
            author=user,
            room=room,
            visibility=visibility,
            table_id=table_id if visibility == NoteVisibility.TABLE else None,
            media_ms=media,
            body=body,
        )
        events.note_changed(
            room, note, frame_type="note.added", other_room_ids=_other_rooms(recording.pk, room_id)
        )
        _record(note, user, "noted", room)
    return note


def _note_of(user, note_id: Any, room: PlaybackRoom | None) -> Note:
    """The user's own note, and when acting from a room, a note on that
    room's recording only (its frames go to that room's people)."""
    if isinstance(note_id, bool) or not isinstance(note_id, int):
        raise ValidationError(_("'note_id' must be an integer."), code="invalid")
    note = (
        Note.objects.select_for_update(of=("self",))
        .select_related("recording", "author")
        .filter(pk=note_id, deleted_at__isnull=True)
        .first()
    )
    if (
        note is None
        or note.author_id != user.pk
        or (room is not None and note.recording_id != room.recording_id)
    ):
        raise NotFoundError(_("No such note of yours."), code="note_not_found")
    return note


def note_update(
    *,
    user,
    note_id: Any,
    table_id: int | None,
    body: Any = None,
    visibility: Any = None,
    room_id: int | None = None,
    may_participate: bool = True,
) -> Note:
    with transaction.atomic():
        room = _room_locked(room_id)
        note = _note_of(user, note_id, room)
        previous = Note(
            pk=note.pk,
            author_id=note.author_id,
            visibility=note.visibility,
            table_id=note.table_id,
        )
        if body is not None:
            note.body = _body_clean(body)
        if visibility is not None:
            note.visibility = _visibility_clean(visibility, table_id)
            if note.visibility != NoteVisibility.PRIVATE and not may_participate:
                raise PermissionDeniedError(
                    _("Observers keep private notes only."), code="forbidden"
                )
            note.table_id = table_id if note.visibility == NoteVisibility.TABLE else None
        note.save(update_fields=["body", "visibility", "table", "updated_at"])
        events.note_changed(
            room,
            note,
            frame_type="note.changed",
            other_room_ids=_other_rooms(note.recording_id, room_id),
            previous=previous,
        )
        _record(note, user, "edited_note", room)
    return note


def note_delete(*, user, note_id: Any, room_id: int | None = None) -> None:
    with transaction.atomic():
        room = _room_locked(room_id)
        note = _note_of(user, note_id, room)
        note.deleted_at = timezone.now()
        note.save(update_fields=["deleted_at", "updated_at"])
        events.note_changed(
            room,
            note,
            frame_type="note.deleted",
            other_room_ids=_other_rooms(note.recording_id, room_id),
        )
        _record(note, user, "deleted_note", room)


def _clock(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def notes_markdown(*, recording: Recording, user, base_url: str = "") -> str:
    """My notes on the recording as Markdown, one timestamped item each (the
    timestamp links to that moment of the player when a base URL is given)."""
    notes = Note.objects.filter(recording=recording, author=user, deleted_at__isnull=True).order_by(
        "media_ms", "id"
    )
    labels = dict(NoteVisibility.choices)
    lines = [
        f"# {recording.title}",
        "",
        f"{recording.course.code} · {recording.course.title}",
        "",
    ]
    if not notes:
        lines.append("_No notes yet._")
    for note in notes:
        stamp = _clock(note.media_ms)
        stamp = f"[{stamp}]({base_url}?t={note.media_ms // 1000})" if base_url else f"**{stamp}**"
        shared = (
            "" if note.visibility == NoteVisibility.PRIVATE else f" _({labels[note.visibility]})_"
        )
        body = note.body.replace("\n", "\n  ")
        lines.append(f"- {stamp} {body}{shared}")
    return "\n".join(lines) + "\n"
