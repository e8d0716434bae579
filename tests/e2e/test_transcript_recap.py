"""The transcript beside the player, course search and the session recap in
real Chromium against Daphne: the highlighted line follows playback without
taking focus, a click and Enter on a line seek, the in-recording search
counts and steps through matches; axe (WCAG 2.1 A/AA) on the player with
its transcript open, the course search page, the learner's recap and the
staff's recap editor."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import LiveSession, Poll, PollKind, PollState, SessionState
from courses.models import Role
from playback.models import Recording, RecordingSpan, RecordingStatus
from playback.services.timeline import recording_timeline_build
from recaps.services import recap_build, recap_publish
from tests.e2e.axe import axe_violations
from tests.e2e.test_playback import media_env, media_source, open_page, wait_ready  # noqa: F401
from tests.factories import CourseFactory, EnrollmentFactory, PollResponseFactory
from tests.recaps.helpers import transcript_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

LINES = [
    (0.0, "Welcome back: today we study the cell and its organelles.", "Dr Lee"),
    (2.5, "The nucleus holds the genetic material of the cell.", "Dr Lee"),
    (5.0, "Mitochondria make most of the energy the cell uses.", "Dr Lee"),
    (7.5, "Do plant cells have mitochondria too?", "Ann Okafor"),
    (10.0, "Yes, plant cells have both mitochondria and chloroplasts.", "Dr Lee"),
    (12.5, "The Golgi apparatus packages proteins for export from the cell.", "Dr Lee"),
]


@pytest.fixture
def lesson(media_env, media_source):  # noqa: F811
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    ann = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name="Ann Okafor").user
    lee = EnrollmentFactory(course=course, role=Role.INSTRUCTOR, user__display_name="Dr Lee").user
    started = timezone.now() - timedelta(days=1)
    session = LiveSession.objects.create(
        course=course, title="Week 1: What is a cell?", scheduled_start=started,
        scheduled_end=started + timedelta(hours=1), state=SessionState.ENDED,
        started_at=started, ended_at=started + timedelta(minutes=30),
    )  # fmt: skip
    folder = media_env / "recordings" / f"course-{course.pk}"
    folder.mkdir(parents=True)
    shutil.copy(media_source, folder / "lecture.webm")
    recording = Recording.objects.create(
        course=course, live_session=session, title=session.title, status=RecordingStatus.READY,
        file=f"recordings/course-{course.pk}/lecture.webm", mime_type="video/webm",
        duration_ms=16_000, size_bytes=media_source.stat().st_size, video_codec="vp8",
        audio_codec="opus", recorded_from=started,
    )  # fmt: skip
    RecordingSpan.objects.create(
        recording=recording, started_at=started, ended_at=started + timedelta(seconds=16)
    )
    poll = Poll.objects.create(
        session=session, kind=PollKind.SINGLE, prompt="Which organelle makes most of the ATP?",
        definition={"options": [{"id": "a", "text": "Nucleus"}, {"id": "b", "text": "Mitochondrion"}],
                    "correct": ["b"]},
        is_quiz=True, state=PollState.CLOSED, opened_at=started + timedelta(seconds=15),
        closed_at=started + timedelta(seconds=30),
    )  # fmt: skip
    PollResponseFactory(poll=poll, user=ann, answer={"option": "b"}, is_correct=True)
    recording_timeline_build(recording_id=recording.pk)
    transcript_of(recording, LINES)
    recap = recap_build(session_id=session.pk)
    recap_publish(recap_id=recap.pk, actor=lee)
    return {"course": course, "ann": ann, "lee": lee, "session": session, "recording": recording}


def _no_violations(page, name):
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"


def _at_least(page, seconds):
    page.wait_for_function(
        f"() => document.querySelector('[data-ref=media]').currentTime >= {seconds}", timeout=10_000
    )


def test_transcript_follows_seeks_and_searches_and_the_recap_reads_well(
    browser, lesson, asgi_server, output_dir
):
    errors: list[str] = []
    recording, session = lesson["recording"], lesson["session"]
    ann = open_page(browser, asgi_server, lesson["ann"], errors)
    ann.emulate_media(reduced_motion="reduce")
    ann.goto(f"{asgi_server}/recordings/{recording.pk}/")
    expect(ann.get_by_role("link", name="Session recap")).to_be_visible()
    ann.get_by_role("button", name="Start watching").click()
    wait_ready(ann)

    # The transcript tab: six lines, speakers where they change.
    ann.get_by_role("tab", name="Transcript").click()
    lines = ann.locator(".tx-line")
    expect(lines).to_have_count(len(LINES))
    expect(ann.locator(".tx-speaker")).to_have_text(["Dr Lee", "Ann Okafor", "Dr Lee"])
    _no_violations(ann, "player with transcript")

    # Playing: the line being said lights up; focus stays on Play.
    ann.get_by_role("button", name="Play").click()
    _at_least(ann, 5.3)
    expect(ann.locator(".tx-line--now")).to_have_attribute("data-start", "5000")
    expect(ann.locator(".tx-line--now button")).to_have_attribute("aria-current", "true")
    assert ann.evaluate("() => document.activeElement.dataset.ref") == "play"
    ann.screenshot(path=output_dir / "01-player-transcript-following.png", full_page=True)

    # A click on a line seeks there (through the room's own seek).
    ann.get_by_role("button", name="Pause").click()
    lines.nth(5).locator("button").click()
    ann.wait_for_function(
        "() => Math.abs(document.querySelector('[data-ref=media]').currentTime - 12.5) < 0.3",
        timeout=10_000,
    )
    expect(ann.locator(".tx-line--now")).to_have_attribute("data-start", "12500")

    # Keyboard: arrows move between lines, Enter seeks.
    ann.keyboard.press("ArrowUp")
    ann.keyboard.press("ArrowUp")
    assert ann.evaluate("() => document.activeElement.closest('.tx-line').dataset.start") == "7500"
    ann.keyboard.press("Enter")
    ann.wait_for_function(
        "() => Math.abs(document.querySelector('[data-ref=media]').currentTime - 7.5) < 0.3",
        timeout=10_000,
    )

    # Search within the recording: count, next, previous, Escape.
    search = ann.get_by_role("searchbox", name="Search this recording")
    search.fill("mitochondria")
    count = ann.locator("[data-tx=count]")
    expect(count).to_have_text("2 of 3 matches")  # the first match after 7.5 s is line 4
    expect(ann.locator(".tx-line mark")).to_have_count(3)
    search.press("Enter")
    expect(count).to_have_text("3 of 3 matches")
    search.press("Enter")
    expect(count).to_have_text("1 of 3 matches")
    search.press("Shift+Enter")
    expect(count).to_have_text("3 of 3 matches")
    ann.get_by_role("button", name="Previous match").click()
    expect(count).to_have_text("2 of 3 matches")
    ann.get_by_label("Only matching lines").check()
    expect(ann.locator(".tx-line:visible")).to_have_count(3)
    ann.screenshot(path=output_dir / "02-player-transcript-search.png", full_page=True)
    _no_violations(ann, "player with a search")
    search.press("Escape")
    expect(count).to_have_text("")
    expect(ann.locator(".tx-line:visible")).to_have_count(len(LINES))
    search.fill("zebra")
    expect(count).to_have_text("No matches in this recording")

    # Course search: a hit opens the recording at its moment.
    ann.goto(f"{asgi_server}/courses/{lesson['course'].pk}/transcripts/search/?q=chloroplasts")
    hit = ann.locator(".search-hit__link")
    expect(hit).to_have_count(1)
    expect(ann.locator(".search-hit mark")).to_have_count(1)
    assert hit.get_attribute("href") == f"/recordings/{recording.pk}/?t=7"
    ann.screenshot(path=output_dir / "03-course-search.png", full_page=True)
    _no_violations(ann, "course search")
    # "Watch from 0:10" opens her room at the moment (three seconds before the line).
    ann.get_by_role("button", name="Watch from 0:10").click()
    wait_ready(ann)
    ann.wait_for_function(
        "() => Math.abs(document.querySelector('[data-ref=media]').currentTime - 7) < 0.5",
        timeout=10_000,
    )
    ann.goto(f"{asgi_server}/courses/{lesson['course'].pk}/transcripts/search/?q=%3F%21")
    expect(ann.get_by_role("alert")).to_contain_text("punctuation alone")
    _no_violations(ann, "course search error")

    # The learner's recap: key points link to their moments; the poll with its result.
    ann.goto(f"{asgi_server}/sessions/{session.pk}/recap/")
    expect(ann.get_by_role("heading", name="Key points")).to_be_visible()
    assert ann.locator(".recap-points a").count() >= 3
    expect(ann.locator(".recap-poll")).to_contain_text("The right answer: Mitochondrion")
    ann.screenshot(path=output_dir / "04-recap-learner.png", full_page=True)
    _no_violations(ann, "recap (learner)")

    # Staff: the editor.
    lee = open_page(browser, asgi_server, lesson["lee"], errors)
    lee.goto(f"{asgi_server}/sessions/{session.pk}/recap/?edit=1")
    expect(lee.get_by_role("heading", name="Edit the recap")).to_be_visible()
    lee.screenshot(path=output_dir / "05-recap-staff-edit.png", full_page=True)
    _no_violations(lee, "recap editor")
    lee.get_by_label("Note to learners (optional)").fill("Read chapter 2 before Thursday.")
    lee.get_by_role("button", name="Save").click()
    expect(lee.locator(".recap-note")).to_contain_text("Read chapter 2")
    _no_violations(lee, "recap (staff)")
    assert errors == []
