"""Timeline building from a recorded session's stored rows (playback.services.timeline)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.services import event_record
from classroom.models import (
    Announcement,
    ChatChannel,
    ChatMessage,
    Poll,
    PollKind,
    PollState,
    Question,
)
from playback.models import RecordingSpan, TimelineEntry
from playback.selectors import chapters_get, recording_polls_get, timeline_visible
from playback.services.recordings import recording_settings_update
from playback.services.timeline import MediaClock, Span, recording_timeline_build

pytestmark = pytest.mark.django_db


def _at(model, moment, **fields):
    row = model.objects.create(**fields)
    model.objects.filter(pk=row.pk).update(created_at=moment)
    return row


@pytest.fixture
def story(recording, ended_session, instructor, tables):
    """Recorded 0–60 s, paused 60–120 s, recorded again 120–180 s (media 60–120 s)."""
    t0 = ended_session.started_at
    s = lambda seconds: t0 + timedelta(seconds=seconds)  # noqa: E731
    RecordingSpan.objects.create(
        recording=recording, started_at=t0, ended_at=s(60), media_offset_ms=0
    )
    RecordingSpan.objects.create(
        recording=recording, started_at=s(120), ended_at=s(180), media_offset_ms=60_000
    )
    recording.duration_ms = 120_000
    recording.save(update_fields=["duration_ms"])
    session = ended_session
    rows = {
        "chat_before_pause": _at(
            ChatMessage,
            s(10),
            session=session,
            channel=ChatChannel.CLASS,
            author=tables["ann"],
            body="hello",
        ),
        "chat_in_pause": _at(
            ChatMessage,
            s(90),
            session=session,
            channel=ChatChannel.CLASS,
            author=tables["bob"],
            body="during the pause",
        ),
        "chat_after_pause": _at(
            ChatMessage,
            s(130),
            session=session,
            channel=ChatChannel.CLASS,
            author=tables["cat"],
            body="after",
        ),
        "table_chat": _at(
            ChatMessage,
            s(20),
            session=session,
            channel=ChatChannel.TABLE,
            table=tables["a"],
            author=tables["ann"],
            body="table A only",
        ),
        "staff_chat": _at(
            ChatMessage,
            s(25),
            session=session,
            channel=ChatChannel.STAFF,
            author=instructor,
            body="staff only",
        ),
        "deleted": _at(
            ChatMessage,
            s(26),
            session=session,
            channel=ChatChannel.CLASS,
            author=tables["ann"],
            body="oops",
            deleted_at=s(27),
        ),
        "question": _at(
            Question,
            s(15),
            session=session,
            author=tables["bob"],
            is_anonymous=True,
            body="anonymous?",
        ),
        "announcement": _at(
            Announcement, s(140), session=session, author=instructor, body="Break over"
        ),
    }
    rows["poll"] = Poll.objects.create(
        session=session,
        kind=PollKind.SINGLE,
        prompt="Pick b",
        definition={
            "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
            "correct": ["b"],
        },
        is_quiz=True,
        state=PollState.CLOSED,
        opened_at=s(30),
        closed_at=s(150),
    )
    for verb, seconds, extensions, object_type, object_id in (
        ("reacted", 41, {"reaction": "clap"}, "live_session", session.pk),
        ("reacted", 45, {"reaction": "clap"}, "live_session", session.pk),
        ("reacted", 52, {"reaction": "laugh"}, "live_session", session.pk),
        ("mode_changed", 125, {"mode": "table_talk", "table_id": None}, "live_session", session.pk),
        ("invited_to_podium", 5, {}, "user", tables["cat"].pk),
    ):
        event_record(
            actor=instructor,
            verb=verb,
            object_type=object_type,
            object_id=object_id,
            course_id=session.course_id,
            live_session_id=session.pk,
            occurred_at=s(seconds),
            extensions=extensions,
        )
    return rows


def _offsets(recording) -> dict[str, int]:
    return dict(TimelineEntry.objects.filter(recording=recording).values_list("key", "offset_ms"))


def test_offsets_follow_the_spans_across_a_recording_pause(recording, story, tables):
    recording_timeline_build(recording_id=recording.pk)
    offsets = _offsets(recording)
    assert offsets[f"chat:{story['chat_before_pause'].pk}"] == 10_000
    # Said while recording was paused: placed at the pause point.
    assert offsets[f"chat:{story['chat_in_pause'].pk}"] == 60_000
    # 130 s wall clock = 10 s into the second span, which starts at media 60 s.
    assert offsets[f"chat:{story['chat_after_pause'].pk}"] == 70_000
    assert offsets[f"announcement:{story['announcement'].pk}"] == 80_000
    assert offsets[f"poll_opened:{story['poll'].pk}"] == 30_000
    assert offsets[f"poll_closed:{story['poll'].pk}"] == 90_000
    assert offsets["reactions:40000"] == 40_000 and offsets["reactions:50000"] == 50_000
    pause = TimelineEntry.objects.get(recording=recording, kind="recording_paused")
    assert pause.offset_ms == 60_000 and pause.data["paused_seconds"] == 60
    mode = TimelineEntry.objects.get(recording=recording, kind="mode_changed")
    assert (mode.offset_ms, mode.is_chapter, mode.title) == (65_000, True, "Table talk")
    podium = TimelineEntry.objects.get(recording=recording, kind="podium_changed")
    assert podium.offset_ms == 5_000
    assert podium.data == {
        "action": "invited",
        "user": {"id": tables["cat"].pk, "name": tables["cat"].name},
    }


def test_reactions_are_counted_per_ten_seconds(recording, story):
    recording_timeline_build(recording_id=recording.pk)
    first = TimelineEntry.objects.get(recording=recording, key="reactions:40000")
    second = TimelineEntry.objects.get(recording=recording, key="reactions:50000")
    assert first.data == {"counts": {"clap": 2}, "total": 2}
    assert second.data == {"counts": {"laugh": 1}, "total": 1}


def test_deleted_messages_never_reach_the_timeline_and_anonymous_questions_keep_no_author(
    recording, story
):
    recording_timeline_build(recording_id=recording.pk)
    assert not TimelineEntry.objects.filter(key=f"chat:{story['deleted'].pk}").exists()
    question = TimelineEntry.objects.get(key=f"question:{story['question'].pk}")
    assert question.data["author"] is None and question.data["anonymous"] is True


def test_each_viewer_sees_only_the_chat_they_could_read_live(recording, story, tables):
    recording_timeline_build(recording_id=recording.pk)

    def keys(**viewer):
        return {item["key"] for item in timeline_visible(recording=recording, **viewer)}

    table_key, staff_key = f"chat:{story['table_chat'].pk}", f"chat:{story['staff_chat'].pk}"
    assert table_key in keys(is_staff=False, table_id=tables["a"].pk)
    assert table_key not in keys(is_staff=False, table_id=tables["b"].pk)
    assert staff_key not in keys(is_staff=False, table_id=tables["a"].pk)
    assert {table_key, staff_key} <= keys(is_staff=True, table_id=None)


def test_rebuilding_is_idempotent_and_keeps_chapter_names(recording, story, instructor):
    first = recording_timeline_build(recording_id=recording.pk)
    mode_key = TimelineEntry.objects.get(recording=recording, kind="mode_changed").key
    recording_settings_update(
        recording_id=recording.pk, actor=instructor, changes={"chapters": {mode_key: "Group work"}}
    )
    before = sorted(
        TimelineEntry.objects.filter(recording=recording).values_list("key", "offset_ms")
    )
    second = recording_timeline_build(recording_id=recording.pk)
    after = sorted(
        TimelineEntry.objects.filter(recording=recording).values_list("key", "offset_ms")
    )
    assert first == second == len(after) and before == after
    recording.refresh_from_db()
    titles = [chapter["title"] for chapter in chapters_get(recording=recording)]
    assert titles == ["Start", "Poll: Pick b", "Group work"]


def test_polls_come_with_their_offsets_and_replay_choice(recording, story, instructor):
    recording_timeline_build(recording_id=recording.pk)
    [item] = recording_polls_get(recording=recording)
    assert (item.poll.pk, item.offset_ms, item.replays) == (story["poll"].pk, 30_000, True)
    recording_settings_update(
        recording_id=recording.pk, actor=instructor, changes={"replay_polls": []}
    )
    recording.refresh_from_db()
    assert recording_polls_get(recording=recording)[0].replays is False


def test_without_spans_time_zero_is_the_recording_start(recording, story):
    recording.recorded_from = story["poll"].opened_at - timedelta(seconds=5)
    recording.save(update_fields=["recorded_from"])
    recording_timeline_build(recording_id=recording.pk)  # no spans: the story fixture made some
    RecordingSpan.objects.filter(recording=recording).delete()
    recording_timeline_build(recording_id=recording.pk)
    assert _offsets(recording)[f"poll_opened:{story['poll'].pk}"] == 5_000


def test_media_clock_maps_moments_before_between_and_after_spans(ended_session):
    t0 = ended_session.started_at
    s = lambda seconds: t0 + timedelta(seconds=seconds)  # noqa: E731
    clock = MediaClock([Span(s(10), s(20), 0), Span(s(30), s(40), 10_000)], zero=None)
    assert [clock.offset_ms(s(x)) for x in (0, 10, 15, 25, 30, 35, 50)] == [
        0,
        0,
        5_000,
        10_000,
        10_000,
        15_000,
        20_000,
    ]
    assert MediaClock([], zero=None).offset_ms(t0) is None
