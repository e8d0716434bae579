"""Time-synced notes (playback.services.notes)."""

from __future__ import annotations

import pytest

from analytics.models import LearningEvent
from core.errors import ConflictError, NotFoundError
from playback.access import access_recording
from playback.selectors import notes_visible
from playback.services import notes, rooms
from tests.playback.helpers import frames

pytestmark = pytest.mark.django_db


def _add(recording, tables, who, visibility, body="note", media_ms=1000, room_id=None):
    table_id = tables["a"].pk if who in ("ann", "bob") else tables["b"].pk
    return notes.note_add(
        recording=recording,
        user=tables[who],
        table_id=table_id,
        body=body,
        visibility=visibility,
        media_ms=media_ms,
        room_id=room_id,
    )


def _bodies(recording, tables, who):
    table_id = tables["a"].pk if who in ("ann", "bob") else tables["b"].pk
    return [
        n["body"] for n in notes_visible(recording=recording, user=tables[who], table_id=table_id)
    ]


def test_visibility_decides_who_reads_a_note(recording, tables):
    _add(recording, tables, "ann", "private", "mine")
    _add(recording, tables, "ann", "table", "for table A", media_ms=2000)
    _add(recording, tables, "ann", "course", "for all", media_ms=3000)
    assert _bodies(recording, tables, "ann") == ["mine", "for table A", "for all"]
    assert _bodies(recording, tables, "bob") == ["for table A", "for all"]
    assert _bodies(recording, tables, "cat") == ["for all"]
    assert LearningEvent.objects.filter(verb="noted", mode="playback").count() == 3


def test_a_note_in_a_room_is_a_frame_on_the_right_stream(
    recording, tables, django_capture_on_commit_callbacks
):
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    with django_capture_on_commit_callbacks(execute=True):
        _add(recording, tables, "ann", "table", room_id=room.pk)
        _add(recording, tables, "ann", "private", room_id=room.pk)
    streams = [(f["type"], f["stream"]) for f in frames(room.pk)]
    assert streams == [
        ("note.added", f"table.{tables['a'].pk}"),
        ("note.added", f"user.{tables['ann'].pk}"),
    ]


def test_narrowing_a_note_takes_it_back_from_those_who_lose_it(
    recording, tables, django_capture_on_commit_callbacks
):
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    note = _add(recording, tables, "ann", "course", room_id=room.pk)
    with django_capture_on_commit_callbacks(execute=True):
        notes.note_update(
            user=tables["ann"],
            note_id=note.pk,
            table_id=tables["a"].pk,
            visibility="private",
            room_id=room.pk,
        )
    assert [(f["type"], f["stream"]) for f in frames(room.pk)] == [
        ("note.deleted", "all"),
        ("note.changed", f"user.{tables['ann'].pk}"),
    ]
    assert _bodies(recording, tables, "bob") == []


def test_only_the_author_edits_or_deletes(recording, tables):
    note = _add(recording, tables, "ann", "course")
    with pytest.raises(NotFoundError):
        notes.note_delete(user=tables["bob"], note_id=note.pk)
    notes.note_delete(user=tables["ann"], note_id=note.pk)
    assert _bodies(recording, tables, "ann") == []


def test_unseated_people_cannot_share_with_a_table(recording, tables, learner):
    with pytest.raises(ConflictError) as error:
        notes.note_add(
            recording=recording,
            user=learner,
            table_id=None,
            body="x",
            visibility="table",
            media_ms=0,
        )
    assert error.value.code == "not_seated"
    for body, code in (("", "note_empty"), ("\u200b", "note_empty"), ("x" * 4001, "note_too_long")):
        with pytest.raises(Exception) as invalid:
            notes.note_add(recording=recording, user=learner, table_id=None, body=body, media_ms=0)
        assert invalid.value.code == code


def test_my_notes_export_as_markdown_with_timestamps(recording, tables):
    _add(recording, tables, "ann", "private", "First idea", media_ms=4_200)
    _add(recording, tables, "ann", "table", "Second\nline", media_ms=5_000)
    _add(recording, tables, "bob", "course", "Not mine", media_ms=1_000)
    text = notes.notes_markdown(recording=recording, user=tables["ann"])
    assert text.splitlines()[0] == f"# {recording.title}"
    assert "- **00:05** Second\n  line _(My table)_" in text
    assert "- **00:04** First idea" in text
    assert "Not mine" not in text
    linked = notes.notes_markdown(
        recording=recording, user=tables["ann"], base_url="https://x/rec/1/"
    )
    assert "- [00:05](https://x/rec/1/?t=5) Second" in linked


def test_a_note_of_another_recording_cannot_be_touched_from_a_room(
    recording, tables, course, media_files, media_root, ended_session
):
    from tests.playback.conftest import make_recording

    other = make_recording(course, media_files, media_root, session=ended_session)
    note = _add(other, tables, "ann", "course", "elsewhere")
    room, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    with pytest.raises(NotFoundError):
        notes.note_update(
            user=tables["ann"],
            note_id=note.pk,
            table_id=tables["a"].pk,
            body="moved",
            room_id=room.pk,
        )
    with pytest.raises(NotFoundError):
        notes.note_delete(user=tables["ann"], note_id=note.pk, room_id=room.pk)
