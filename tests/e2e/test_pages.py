"""Pages of issue 11 in real Chromium against Daphne: what a learner sees when
media is off, Join from the home page, no upvote of one's own question, where
a past session leads (recording, chat transcript) and the ended console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import ChatChannel, ChatMessage, LiveSession, Seat, SessionState, Table
from courses.models import Role
from livemedia.conf import LEARNER_MEDIA_OFF
from playback.models import Recording, RecordingStatus
from tests.conftest import daphne_process
from tests.factories import PASSWORD, CourseFactory, EnrollmentFactory, LiveSessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LAPTOP = {"width": 1280, "height": 860}


@pytest.fixture
def no_media_server(transactional_db):
    """Daphne whose media server does not answer (nothing listens on port 9)."""
    with daphne_process({"JANUS_URL": "ws://127.0.0.1:9/janus"}) as url:
        yield url


@pytest.fixture
def course_people():
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    table = Table.objects.create(course=course, name="Table 1", position=1)
    people = {
        "teacher": EnrollmentFactory(
            course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Maya Alvarez"
        ).user
    }
    for key, name in (("ann", "Ann Okafor"), ("ben", "Ben Carter")):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        Seat.objects.create(course=course, table=table, user=user)
        people[key] = user
    return {"course": course, "table": table, **people}


def log_in(browser, base_url, user, errors, path="/"):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
    page.goto(f"{base_url}/accounts/login/?next={path}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def test_a_learner_joins_from_home_reads_a_plain_media_line_and_cannot_upvote_herself(
    browser, no_media_server, course_people, output_dir
):
    now = timezone.now()
    session = LiveSessionFactory(
        course=course_people["course"],
        title="Week 3: Mitochondria",
        scheduled_start=now - timedelta(minutes=5),
        scheduled_end=now + timedelta(minutes=55),
        state=SessionState.LIVE,
        started_at=now - timedelta(minutes=5),
        anonymous_questions_allowed=True,
    )
    errors: list[str] = []
    ann = log_in(browser, no_media_server, course_people["ann"], errors)
    join = ann.get_by_role("link", name=f"Join: {session.title}")
    expect(join).to_be_visible()
    ann.screenshot(path=output_dir / "01-home-join.png", full_page=True)
    teacher = log_in(browser, no_media_server, course_people["teacher"], errors)
    expect(teacher.get_by_role("link", name=f"Open console: {session.title}")).to_be_visible()
    expect(teacher.get_by_role("link", name=f"Join: {session.title}")).to_have_count(0)

    join.click()
    ann.wait_for_url(f"{no_media_server}/sessions/{session.pk}/live/")
    expect(ann.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    banner = ann.locator("[data-ref=media-banner]")
    expect(banner).to_have_text(LEARNER_MEDIA_OFF, timeout=15_000)
    body = ann.locator("body").inner_text()
    assert "apt-get" not in body and "Janus" not in body
    ann.screenshot(path=output_dir / "02-learner-media-off.png", full_page=True)

    # Staff still learn why and how to turn it on.
    teacher.get_by_role("link", name=f"Open console: {session.title}").click()
    expect(teacher.locator("[data-ref=media-banner]")).to_contain_text("Janus", timeout=15_000)
    expect(teacher.locator("[data-ref=media-fix]")).to_contain_text("apt-get install")

    # Ann asks anonymously: no Upvote on her own question; Ben has one.
    ann.get_by_label("Your question").fill("Do mitochondria have their own DNA?")
    ann.get_by_label("Ask anonymously").check()
    ann.get_by_role("button", name="Ask", exact=True).click()
    ann_list = ann.locator("[data-ref=qa-list]")
    expect(ann_list).to_contain_text("Do mitochondria have their own DNA?")
    ben = log_in(
        browser, no_media_server, course_people["ben"], errors, f"/sessions/{session.pk}/live/"
    )
    ben_list = ben.locator("[data-ref=qa-list]")
    expect(ben_list).to_contain_text("Do mitochondria have their own DNA?")
    expect(ben_list.locator("[data-part=upvote]")).to_be_visible()
    expect(ann_list.locator("[data-part=upvote]")).to_be_hidden()
    ann.reload()  # a new snapshot still knows the question is hers
    expect(ann.locator("[data-ref=qa-list]")).to_contain_text("own DNA")
    expect(ann.locator("[data-ref=qa-list] [data-part=upvote]")).to_be_hidden()
    ann.screenshot(path=output_dir / "03-own-question-no-upvote.png", full_page=True)
    assert errors == []


def test_a_past_session_leads_to_its_recording_and_chat_and_its_console_makes_no_poll(
    browser, asgi_server, course_people, output_dir
):
    start = timezone.now() - timedelta(days=2)
    session = LiveSessionFactory(
        course=course_people["course"],
        title="Week 1: What is a cell?",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        state=SessionState.ENDED,
        started_at=start,
        ended_at=start + timedelta(hours=1),
    )
    recording = Recording.objects.create(
        course=course_people["course"],
        live_session=session,
        title=session.title,
        status=RecordingStatus.READY,
        file="recordings/week-1.webm",
        duration_ms=60_000,
    )
    for author, body, channel in (
        (course_people["teacher"], "Welcome! Slides are on the course page.", ChatChannel.CLASS),
        (course_people["ann"], "Is the cell wall only in plants?", ChatChannel.CLASS),
        (course_people["ben"], "Let's take the membrane question", ChatChannel.TABLE),
        (course_people["teacher"], "Ann's table is doing well", ChatChannel.STAFF),
    ):
        ChatMessage.objects.create(
            session=session,
            channel=channel,
            author=author,
            body=body,
            table=course_people["table"] if channel == ChatChannel.TABLE else None,
        )
    errors: list[str] = []
    course_path = f"/courses/{course_people['course'].pk}/"
    ann = log_in(browser, asgi_server, course_people["ann"], errors, course_path)
    expect(ann.get_by_role("link", name=f"Recording: {session.title}")).to_have_attribute(
        "href", f"/recordings/{recording.pk}/"
    )
    ann.screenshot(path=output_dir / "01-course-past-sessions.png", full_page=True)
    ann.get_by_role("link", name=f"Chat: {session.title}").click()
    expect(ann.get_by_role("heading", name=f"Chat of {session.title}")).to_be_visible()
    expect(ann.get_by_text("Is the cell wall only in plants?")).to_be_visible()
    expect(ann.get_by_text("Let's take the membrane question")).to_be_visible()
    expect(ann.get_by_text("Ann's table is doing well")).to_have_count(0)
    ann.screenshot(path=output_dir / "02-learner-chat-transcript.png", full_page=True)

    teacher = log_in(browser, asgi_server, course_people["teacher"], errors, course_path)
    teacher.get_by_role("link", name=f"Chat: {session.title}").click()
    expect(teacher.get_by_text("Ann's table is doing well")).to_be_visible()
    teacher.screenshot(path=output_dir / "03-staff-chat-transcript.png", full_page=True)

    # The ended console offers no new poll.
    teacher.goto(f"{asgi_server}/sessions/{session.pk}/live/")
    expect(teacher.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    expect(teacher.locator("[data-ref=poll-live-note]")).to_have_text(
        "The session has ended: no new polls."
    )
    expect(teacher.locator("[data-ref=poll-create-toggle]")).to_be_hidden()
    expect(teacher.locator("[data-ref=poll-create]")).to_be_hidden()
    teacher.screenshot(path=output_dir / "04-ended-console.png", full_page=True)
    assert LiveSession.objects.get(pk=session.pk).polls.count() == 0
    assert errors == []
