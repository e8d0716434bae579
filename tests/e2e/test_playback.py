"""Watching a recording together in real Chromium against Daphne: two
learners of one table in two browser contexts (separate cookies)."""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import LiveSession, Poll, PollKind, PollState, Seat, SessionState, Table
from courses.models import Role
from playback.media import synthetic_media_write
from playback.models import Recording, RecordingSpan, RecordingStatus
from playback.services.timeline import recording_timeline_build
from tests.factories import CourseFactory, EnrollmentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
POLL_AT_S = 5
SPREAD_LIMIT_MS = 250


@pytest.fixture(scope="module")
def media_source(tmp_path_factory) -> Path:
    return synthetic_media_write(
        tmp_path_factory.mktemp("e2e-media") / "lecture.webm", seconds=16, kind="webm"
    )


@pytest.fixture
def media_env(tmp_path, monkeypatch):
    """The Daphne subprocess must serve files from the same MEDIA_ROOT."""
    root = tmp_path / "media"
    root.mkdir()
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    monkeypatch.setattr(settings, "MEDIA_ROOT", root)
    return root


@pytest.fixture
def watch_party(media_env, media_source):
    """A recorded session with a quiz poll 5 s in; Ann and Ben sit at Table 1."""
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    table = Table.objects.create(course=course, name="Table 1")
    people = {}
    for key, name in (("ann", "Ann Okafor"), ("ben", "Ben Carter")):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        Seat.objects.create(course=course, table=table, user=user)
        people[key] = user
    started = timezone.now() - timedelta(days=1)
    session = LiveSession.objects.create(
        course=course,
        title="Week 1: What is a cell?",
        scheduled_start=started,
        scheduled_end=started + timedelta(hours=1),
        state=SessionState.ENDED,
        started_at=started,
        ended_at=started + timedelta(minutes=30),
    )
    folder = media_env / "recordings" / f"course-{course.pk}"
    folder.mkdir(parents=True)
    shutil.copy(media_source, folder / "lecture.webm")
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title=session.title,
        status=RecordingStatus.READY,
        file=f"recordings/course-{course.pk}/lecture.webm",
        mime_type="video/webm",
        duration_ms=16_000,
        size_bytes=media_source.stat().st_size,
        video_codec="vp8",
        audio_codec="opus",
        recorded_from=started,
    )
    RecordingSpan.objects.create(
        recording=recording, started_at=started, ended_at=started + timedelta(seconds=16)
    )
    poll = Poll.objects.create(
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
        opened_at=started + timedelta(seconds=POLL_AT_S),
        closed_at=started + timedelta(seconds=POLL_AT_S + 20),
    )
    recording_timeline_build(recording_id=recording.pk)
    return {"course": course, "recording": recording, "poll": poll, **people}


def _session_cookie(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def open_page(browser, base_url, user, errors, viewport=LAPTOP):
    context = browser.new_context(viewport=viewport)
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": _session_cookie(user), "url": base_url}]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
    return page


def wait_ready(page) -> None:
    page.wait_for_function(
        "() => window.__playback && window.__playback.state && window.__playbackConn"
        " && window.__playbackConn.clock.samples.length >= 3"
        " && document.querySelector('[data-ref=media]').readyState >= 1",
        timeout=15_000,
    )


def positions(pages) -> list[float]:
    """Each page's media position (ms) brought to one common instant: every
    page reads its position with its own wall clock; same machine, same clock."""
    reads = [
        page.evaluate(
            "() => [document.querySelector('[data-ref=media]').currentTime * 1000,"
            " performance.timeOrigin + performance.now(),"
            " document.querySelector('[data-ref=media]').paused ? 0 : 1]"
        )
        for page in pages
    ]
    reference = max(at for _pos, at, _playing in reads)
    return [pos + (reference - at) * playing for pos, at, playing in reads]


def wait_playing_past(page, ms: float, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"() => {{ const m = document.querySelector('[data-ref=media]');"
        f" return !m.paused && m.currentTime * 1000 > {ms}; }}",
        timeout=timeout,
    )


def test_two_learners_watch_together_answer_the_poll_and_share_a_note(
    browser, media_env, watch_party, asgi_server, output_dir
):
    assert os.environ["MEDIA_ROOT"] == str(media_env)
    errors: list[str] = []
    recording = watch_party["recording"]
    ann = open_page(browser, asgi_server, watch_party["ann"], errors)
    ben = open_page(browser, asgi_server, watch_party["ben"], errors)

    # Ann opens the table room from the recording page; Ben follows the same way.
    ann.goto(f"{asgi_server}/recordings/{recording.pk}/")
    ann.screenshot(path=output_dir / "01-recording-page.png", full_page=True)
    ann.get_by_role("button", name="Open the table room").click()
    wait_ready(ann)
    ben.goto(f"{asgi_server}/recordings/{recording.pk}/")
    ben.get_by_role("button", name="Join them").click()
    wait_ready(ben)
    assert ann.url == ben.url
    expect(ann.locator(".pb-member--online")).to_have_count(2)

    # One presses play: both play, from the same position at the same moment.
    # Ben's page says who did it in a banner that floats over the player: his
    # video does not move.
    video_box = (
        "() => JSON.stringify(document.querySelector('[data-ref=media]').getBoundingClientRect())"
    )
    before = ben.evaluate(video_box)
    ann.get_by_role("button", name="Play").click()
    expect(ben.locator("[data-ref=banner]")).to_have_text("Ann Okafor pressed play")
    expect(ben.locator("[data-ref=banner]")).to_be_visible()
    assert ben.evaluate(video_box) == before
    ben.screenshot(path=output_dir / "02a-banner-over-the-player-ben.png", full_page=True)
    expect(ben.locator("[data-ref=banner]")).to_be_hidden(timeout=6_000)
    assert ben.evaluate(video_box) == before
    for page in (ann, ben):
        wait_playing_past(page, 1200)
    played = positions([ann, ben])
    spread = max(played) - min(played)
    print(f"spread after play: {spread:.0f} ms")
    assert spread < SPREAD_LIMIT_MS, f"after play: {spread:.0f} ms apart"
    ann.screenshot(path=output_dir / "02-both-playing-ann.png", full_page=True)

    # Ben seeks (group seek: both load, then play together).
    ben.evaluate(
        "() => { const s = document.querySelector('[data-ref=seek]'); s.value = '500';"
        " s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }"
    )
    for page in (ann, ben):
        page.wait_for_function("() => window.__playback.state.cause === 'ready'", timeout=10_000)
        wait_playing_past(page, 900)
    time.sleep(0.4)
    seek_positions = positions([ann, ben])
    spread = max(seek_positions) - min(seek_positions)
    print(f"spread after seek: {spread:.0f} ms")
    assert spread < SPREAD_LIMIT_MS, f"after seek: {seek_positions} ({spread:.0f} ms apart)"
    assert 600 <= min(seek_positions) <= 3500

    # The poll pops up at its moment and pauses both.
    for page in (ann, ben):
        expect(page.locator(".pb-poll__card")).to_be_visible(timeout=10_000)
        page.wait_for_function(
            "() => window.__playback.state.state === 'waiting'"
            " && document.querySelector('[data-ref=media]').paused"
        )
    stopped = positions([ann, ben])
    assert all(abs(p - POLL_AT_S * 1000) < 150 for p in stopped), stopped
    ann.screenshot(path=output_dir / "03-poll-ann.png", full_page=True)
    # The correct answer is nowhere in the page before answering.
    shown = ann.evaluate("(id) => window.__playback.polls.get(id)", watch_party["poll"].pk)
    assert "correct" not in shown["definition"] and shown["mine"] is None

    # Ann answers wrong and is offered to rewatch; Ben answers right; play resumes.
    ann.get_by_label("Nucleus").check()
    ann.get_by_role("button", name="Submit answer").click()
    expect(ann.get_by_text("Not quite.")).to_be_visible()
    expect(ann.get_by_role("button", name="Rewatch from 0:00")).to_be_visible()
    expect(ann.get_by_text("Correct answer: Mitochondrion")).to_be_visible()
    expect(ben.get_by_text("1 of 2 answered")).to_be_visible()
    ann.screenshot(path=output_dir / "04-ann-answered-wrong.png", full_page=True)
    ben.get_by_label("Mitochondrion").check()
    ben.get_by_role("button", name="Submit answer").click()
    # Everyone answered: both keep reading their result under a visible
    # countdown while the room stays paused, then it plays on by itself.
    for page in (ann, ben):
        expect(page.locator(".pb-poll__countdown")).to_have_text(
            re.compile(r"Everyone has answered\. Playing on in [1-5] s")
        )
    expect(ben.get_by_text("Correct!")).to_be_visible()
    expect(ann.get_by_text("Correct answer: Mitochondrion")).to_be_visible()
    first = ann.locator(".pb-poll__countdown").inner_text()
    time.sleep(1.5)
    assert ann.locator(".pb-poll__countdown").inner_text() != first  # it counts down
    expect(ben.get_by_text("Correct!")).to_be_visible()
    assert all(
        p.evaluate("() => document.querySelector('[data-ref=media]').paused") for p in (ann, ben)
    )
    ben.screenshot(path=output_dir / "04b-countdown-ben.png", full_page=True)
    for page in (ann, ben):
        wait_playing_past(page, POLL_AT_S * 1000 + 400)
        expect(page.locator(".pb-poll__card")).to_be_hidden()
    resumed = positions([ann, ben])
    print(f"spread after the poll: {max(resumed) - min(resumed):.0f} ms; stopped at {stopped}")
    assert max(resumed) - min(resumed) < SPREAD_LIMIT_MS, resumed
    ben.screenshot(path=output_dir / "05-resumed-ben.png", full_page=True)

    # A note for the table reaches the table mate.
    ann.get_by_role("tab", name="Notes").click()
    ann.get_by_label("Note at").fill("ATP is made in the mitochondria — review slide 12")
    ann.get_by_label("Who sees it").select_option("table")
    ann.get_by_role("button", name="Add note").click()
    ben.get_by_role("tab", name="Notes").click()
    expect(ben.locator(".pb-note")).to_contain_text("review slide 12")
    expect(ben.locator(".pb-note")).to_contain_text("Ann Okafor")
    ben.screenshot(path=output_dir / "06-ben-sees-the-note.png", full_page=True)

    # A comment in the chat attaches to the current time.
    ben.get_by_role("tab", name="Chat").click()
    ben.get_by_label("Comment").fill("Makes sense now")
    ben.keyboard.press("Enter")
    expect(ann.locator(".pb-feed__item--comment")).to_contain_text("Makes sense now")

    # Keyboard: space pauses for both.
    ann.locator("body").click(position={"x": 5, "y": 5})
    ann.keyboard.press("k")
    for page in (ann, ben):
        page.wait_for_function("() => window.__playback.state.state === 'paused'")
    paused = positions([ann, ben])
    assert max(paused) - min(paused) < SPREAD_LIMIT_MS, paused

    # Readable on a phone.
    phone = open_page(browser, asgi_server, watch_party["ben"], errors, viewport=PHONE)
    phone.goto(ben.url)
    wait_ready(phone)
    phone.screenshot(path=output_dir / "07-phone.png", full_page=True)
    assert errors == []


def test_alone_the_quiz_feedback_stays_until_continue(
    browser, media_env, watch_party, asgi_server, output_dir
):
    errors: list[str] = []
    recording = watch_party["recording"]
    ann = open_page(browser, asgi_server, watch_party["ann"], errors)
    ann.goto(f"{asgi_server}/recordings/{recording.pk}/")
    ann.get_by_role("button", name="Start watching").click()
    wait_ready(ann)
    ann.get_by_role("button", name="Play").click()
    expect(ann.locator(".pb-poll__card")).to_be_visible(timeout=12_000)
    ann.get_by_label("Golgi apparatus").check()
    ann.get_by_role("button", name="Submit answer").click()

    # Right/wrong and the correct answer stay on screen, the video paused,
    # until Ann continues; the Continue button has the keyboard focus.
    expect(ann.get_by_text("Not quite.")).to_be_visible()
    time.sleep(2.5)
    expect(ann.get_by_text("Not quite.")).to_be_visible()
    expect(ann.get_by_text("Correct answer: Mitochondrion")).to_be_visible()
    assert ann.evaluate("() => document.querySelector('[data-ref=media]').paused")
    assert ann.evaluate("() => window.__playback.state.state") == "waiting"
    expect(ann.get_by_role("button", name="Continue")).to_be_focused()
    ann.screenshot(path=output_dir / "01-feedback-alone.png", full_page=True)
    ann.keyboard.press("Enter")
    wait_playing_past(ann, POLL_AT_S * 1000 + 300)
    expect(ann.locator(".pb-poll__card")).to_be_hidden()
    ann.screenshot(path=output_dir / "02-after-continue.png", full_page=True)
    assert errors == []


def test_the_drift_rules_run_in_the_browser_as_specified(browser, asgi_server):
    """static/playback/sync.js: under 100 ms nothing; 100 ms–2 s a rate change
    within ±5 %; beyond 2 s a seek; only when the drift persists. The clock
    keeps the lowest-delay sample of the last 8."""
    page = browser.new_page()
    page.goto(f"{asgi_server}/healthz")
    result = page.evaluate(
        """async () => {
        const m = await import('/static/playback/sync.js');
        const decide = (drifts) => { const c = new m.DriftCorrector(); return drifts.map((d) => c.decide(d)); };
        const clock = new m.ServerClock();
        clock.add(0, 1000, 100);     // delay 100, offset 950
        clock.add(200, 1190, 220);   // delay 20, offset 980: the best
        for (let i = 0; i < 7; i += 1) clock.add(300 + i, 5000, 600 + i);  // 9 samples: the best is still among the last 8
        const withBest = clock.offset;
        clock.add(1000, 9000, 1400);  // a tenth sample: the best one leaves the last 8
        return {
          small: decide([60, 80, 90]),
          transient: decide([500, 20, 500]),
          ahead: decide([400, 400, 400]),
          behind: decide([-1500, -1500, -1500]),
          far: decide([3000, 3000, 3000]),
          expected: m.expectedPosition({state: 'playing', position_ms: 1000, at_ms: 5000, rate: 1.5, until_ms: 2000}, 5400),
          capped: m.expectedPosition({state: 'playing', position_ms: 1000, at_ms: 5000, rate: 1, until_ms: 2000}, 9000),
          beforeStart: m.expectedPosition({state: 'playing', position_ms: 1000, at_ms: 5000, rate: 1}, 4000),
          withBest, bestGone: clock.offset,
        };
    }"""
    )
    assert [d["action"] for d in result["small"]] == ["none", "none", "none"]
    assert [d["action"] for d in result["transient"]] == ["hold", "none", "hold"]
    ahead, behind = result["ahead"][-1], result["behind"][-1]
    assert ahead["action"] == "rate" and 0.95 <= ahead["rate"] < 1
    assert behind["action"] == "rate" and 1 < behind["rate"] <= 1.05
    assert result["far"][-1]["action"] == "seek"
    assert result["expected"] == 1600 and result["capped"] == 2000 and result["beforeStart"] == 1000
    assert result["withBest"] == 980 and result["bestGone"] != 980
    page.close()
