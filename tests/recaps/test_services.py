"""The recap's contents built from a session's stored rows and its
recording's transcript; rebuilds; staff edits; publication; the summariser
interface."""

from __future__ import annotations

from datetime import timedelta

import pytest

from classroom.models import Announcement, ChatMessage, LiveSession, SessionState
from classroom.services.sessions import live_session_end
from core.errors import ConflictError, ValidationError
from recaps import hooks as recap_hooks
from recaps.models import Recap, RecapStatus
from recaps.services import recap_build, recap_edit, recap_points_reset, recap_publish
from recaps.summarisers import KeyPoint, TextRankSummariser, TimedText, summariser_get
from tests.factories import (
    EnrollmentFactory,
    PollFactory,
    PollResponseFactory,
    QuestionFactory,
    TableFactory,
)
from tests.recaps.helpers import LECTURE, ended_session, recording_row, transcript_of
from transcripts.changes import transcript_changed

pytestmark = pytest.mark.django_db


def at(session, seconds):
    return session.started_at + timedelta(seconds=seconds)


@pytest.fixture
def lesson(course, instructor):
    """An ended session with a recording and its transcript, two polls, three
    questions, an announcement and a burst of chat at 1:00–1:59."""
    session = ended_session(course)
    recording = recording_row(course, session=session, title="Week 1 lecture")
    transcript_of(recording, LECTURE)
    learners = [EnrollmentFactory(course=course, role="learner").user for _ in range(4)]
    quiz = PollFactory(session=session, prompt="Which way does supply slope?", opened_at=at(session, 8),
                       definition={"options": [{"id": "up", "text": "Upward"}, {"id": "down", "text": "Downward"}],
                                   "correct": ["up"]})  # fmt: skip
    for learner, right in zip(learners, (True, True, True, False), strict=True):
        PollResponseFactory(poll=quiz, user=learner, is_correct=right,
                            answer={"option": "up" if right else "down"})  # fmt: skip
    survey = PollFactory(session=session, prompt="How clear was this?", kind="rating", is_quiz=False,
                         definition={"scale": 5}, opened_at=at(session, 80))  # fmt: skip
    for learner, value in zip(learners[:2], (4, 5), strict=True):
        PollResponseFactory(poll=survey, user=learner, is_correct=None, answer={"value": value})
    asked = QuestionFactory(session=session, author=learners[0], body="What happens when demand rises?",
                            upvote_count=3)  # fmt: skip
    answered_at = at(session, 75)
    type(asked).objects.filter(pk=asked.pk).update(
        created_at=at(session, 64), answered_at=answered_at, answered_by=instructor
    )
    anon = QuestionFactory(
        session=session, author=learners[1], body="Is insulin elastic?", is_anonymous=True
    )
    type(anon).objects.filter(pk=anon.pk).update(created_at=at(session, 60))
    gone = QuestionFactory(session=session, author=learners[2], body="deleted question")
    type(gone).objects.filter(pk=gone.pk).update(deleted_at=at(session, 70))
    note = Announcement.objects.create(
        session=session, author=instructor, body="Problem set 2 is due Friday."
    )
    Announcement.objects.filter(pk=note.pk).update(created_at=at(session, 40))
    table = TableFactory(course=course, name="A")
    rows = []
    for second in (61, 65, 70, 88, 95):
        rows.append(
            ChatMessage(
                session=session, channel="class", author=learners[0], body=f"class {second}"
            )
        )
    rows.append(
        ChatMessage(
            session=session, channel="table", table=table, author=learners[1], body="table secret"
        )
    )
    rows.append(ChatMessage(session=session, channel="staff", author=instructor, body="staff only"))
    rows.append(ChatMessage(session=session, channel="class", author=learners[2], body="early"))
    created = ChatMessage.objects.bulk_create(rows)
    seconds = [61, 65, 70, 88, 95, 100, 101, 5]
    for message, second in zip(created, seconds, strict=True):
        ChatMessage.objects.filter(pk=message.pk).update(created_at=at(session, second))
    return {"session": session, "recording": recording, "quiz": quiz, "survey": survey,
            "asked": asked, "anon": anon, "learners": learners}  # fmt: skip


def test_recap_holds_polls_questions_announcements_chat_and_key_points(lesson):
    session, recording = lesson["session"], lesson["recording"]
    recap = recap_build(session_id=session.pk)
    assert recap.status == RecapStatus.DRAFT and recap.recording_id == recording.pk
    content = recap.content
    rec_url = f"/recordings/{recording.pk}/?t="

    quiz, survey = content["polls"]
    assert quiz["prompt"] == "Which way does supply slope?"
    assert quiz["responses"] == 4 and quiz["correct_count"] == 3 and quiz["percent_correct"] == 75
    assert quiz["right_answer"] == "Upward"
    assert [(r["label"], r["count"], r["percent"], r["correct"]) for r in quiz["rows"]] == [
        ("Upward", 3, 75, True),
        ("Downward", 1, 25, False),
    ]
    assert quiz["offset_ms"] == 8000 and quiz["url"] == rec_url + "8"
    assert survey["graded"] is False and survey["right_answer"] == ""
    assert survey["summary"] == "Mean rating 4.5"

    anon, asked = content["questions"]  # in the order asked; the deleted one is gone
    assert (
        anon["author"] == "Anonymous" and anon["answered"] is False and anon["answer_excerpt"] == ""
    )
    assert asked["answered"] and asked["upvotes"] == 3 and asked["offset_ms"] == 64_000
    assert asked["answer_url"] == rec_url + "75"
    # The spoken answer: what was said between the question (64 s) and "answered" (75 s).
    assert "equilibrium price rises" in asked["answer_excerpt"]
    assert "insulin" not in asked["answer_excerpt"]

    (announcement,) = content["announcements"]
    assert (
        announcement["body"] == "Problem set 2 is due Friday."
        and announcement["offset_ms"] == 40_000
    )

    # Chat: 1:00–1:59 had 6 class/table messages (staff chat not counted);
    # samples come from the class channel only.
    (peak,) = content["chat_peaks"]
    assert peak["start_ms"] == 60_000 and peak["messages"] == 6 and peak["url"] == rec_url + "60"
    samples = [line["body"] for line in peak["samples"]]
    assert samples == ["class 61", "class 65", "class 70"]
    assert "table secret" not in str(content) and "staff only" not in str(content)

    assert content["chapters"][0]["title"] == "Start"

    # Key points: real sentences of the transcript, each at its cue's start.
    starts = {int(s * 1000): text for s, text, *_ in LECTURE}
    assert 3 <= len(recap.points) <= 8
    for point in recap.points:
        assert starts[point["start_ms"]] == point["text"]
    assert "Okay." not in [p["text"] for p in recap.points]
    assert [p["start_ms"] for p in recap.points] == sorted(p["start_ms"] for p in recap.points)
    assert recap.summariser == "textrank" and recap.transcript_status == "ready"


def test_ending_a_session_builds_its_recap_after_commit(
    course, instructor, tasks_run_in_process, django_capture_on_commit_callbacks
):
    session = ended_session(course)
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE, ended_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        live_session_end(session_id=session.pk, actor=instructor)
    recap = Recap.objects.get(session=session)
    assert recap.version == 1 and recap.points == [] and recap.transcript_status == ""


def test_a_changed_transcript_rebuilds_but_keeps_staff_points(
    lesson, instructor, tasks_run_in_process, django_capture_on_commit_callbacks
):
    session, recording = lesson["session"], lesson["recording"]
    recap = recap_build(session_id=session.pk)
    first_version = recap.version
    with django_capture_on_commit_callbacks(execute=True):
        transcript_changed(recording_id=recording.pk)
    recap.refresh_from_db()
    assert recap.version == first_version + 1
    # Staff edit a point: rebuilds keep their points, refresh the rest.
    points = [
        {**recap.points[0], "text": "Supply slopes upward: producers sell more at higher prices."}
    ]
    recap_edit(recap_id=recap.pk, actor=instructor, points=points, note="Read chapter 3.")
    ChatMessage.objects.filter(session=session).delete()
    recap = recap_build(session_id=session.pk)
    assert [p["text"] for p in recap.points] == [
        "Supply slopes upward: producers sell more at higher prices."
    ]
    assert recap.points[0]["origin"] == "staff"
    assert recap.note == "Read chapter 3." and recap.content["chat_peaks"] == []
    # Back to the summariser's points.
    recap = recap_points_reset(recap_id=recap.pk, actor=instructor)
    assert len(recap.points) >= 3 and not recap.points_edited


def test_edit_validates_and_detects_a_rebuild_in_between(lesson, instructor):
    recap = recap_build(session_id=lesson["session"].pk)
    with pytest.raises(ValidationError):
        recap_edit(recap_id=recap.pk, actor=instructor, points=[{"text": "x" * 501}])
    with pytest.raises(ValidationError):
        recap_edit(recap_id=recap.pk, actor=instructor, points=[{"text": "ok", "start_ms": -1}])
    with pytest.raises(ValidationError):
        recap_edit(recap_id=recap.pk, actor=instructor, note="n" * 4001)
    seen = recap.version
    recap_build(session_id=lesson["session"].pk)
    with pytest.raises(ConflictError):
        recap_edit(recap_id=recap.pk, actor=instructor, note="late", version=seen)
    recap.refresh_from_db()
    assert recap.note == "" and not recap.points_edited  # nothing half-saved


def test_publish_calls_its_hook_once(lesson, instructor):
    recap = recap_build(session_id=lesson["session"].pk)
    seen = []

    def spy(**kwargs):
        seen.append(kwargs)

    recap_hooks.recap_published.register(spy)
    try:
        recap_publish(recap_id=recap.pk, actor=instructor)
        recap_publish(recap_id=recap.pk, actor=instructor)  # already published: no second call
        recap = recap_publish(recap_id=recap.pk, actor=instructor, publish=False)
        assert recap.status == RecapStatus.DRAFT and recap.published_at is None
    finally:
        recap_hooks.recap_published.unregister(spy)
    assert seen == [{"recap_id": recap.pk, "session_id": lesson["session"].pk}]


def test_a_session_without_recording_has_wall_clock_offsets_and_no_links(course, instructor):
    session = ended_session(course)
    PollFactory(session=session, opened_at=at(session, 120))
    recap = recap_build(session_id=session.pk)
    (poll,) = recap.content["polls"]
    assert poll["offset_ms"] == 120_000 and poll["url"] == ""
    assert recap.content["has_recording"] is False and recap.points == []


def test_sessions_not_ended_get_no_recap(course):
    session = ended_session(course)
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE)
    assert recap_build(session_id=session.pk) is None
    assert not Recap.objects.exists()


# --- The summariser interface ---------------------------------------------------------------


def test_textrank_maps_points_to_cues_even_without_punctuation():
    cues = [
        TimedText(i * 5000, i * 5000 + 4000, text)
        for i, text in enumerate(
            [
                "opportunity cost is the value of the next best alternative",
                "um so",
                "every choice has an opportunity cost even when no money changes hands",
                "the next best alternative is what you give up",
                "comparative advantage comes from lower opportunity cost",
                "trade lets both sides specialise in their comparative advantage",
            ]
        )
    ]
    points = TextRankSummariser().key_points(cues, limit=3)
    assert len(points) == 3
    by_start = {cue.start_ms: cue.text for cue in cues}
    for point in points:
        assert point.text.rstrip(".") == by_start[point.start_ms]
    assert TextRankSummariser().key_points([], limit=3) == []
    assert TextRankSummariser().key_points(cues[:1], limit=3) in ([], [KeyPoint(
        text=cues[0].text + ".", start_ms=0)])  # fmt: skip


class FirstLines:
    """A stand-in backend (e.g. a language model) through the same interface."""

    name = "first-lines"

    def key_points(self, cues, *, limit):
        return [KeyPoint(text=cue.text, start_ms=cue.start_ms) for cue in cues[:limit]]


def test_the_summariser_is_a_setting(lesson, settings):
    settings.RECAP_SUMMARISER = "tests.recaps.test_services.FirstLines"
    assert isinstance(summariser_get(), FirstLines)
    recap = recap_build(session_id=lesson["session"].pk)
    assert recap.summariser == "first-lines"
    assert recap.points[0]["text"] == LECTURE[0][1] and recap.points[0]["start_ms"] == 0
