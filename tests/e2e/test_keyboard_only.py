"""A whole session with the keyboard alone (issue 17, docs/accessibility.md):
in real Chromium against Daphne, an instructor runs the session and a learner
takes part using only Tab, Shift+Tab, Enter, Space, arrow keys and typing: no
mouse, no element.click(). Every stop of the Tab walk must be on screen and
show a focus indicator (a computed outline or box-shadow on the control, its
label or its drawn twin), and no element may take a positive tabindex (the
order is the page's reading order). The learner then watches a recording
with the player's keyboard controls."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from classroom.models import LiveSession, Poll, PollResponse, SessionState
from tests.e2e.axe import axe_violations
from tests.e2e.test_accessibility_live import POLLS, room, wider_than  # noqa: F401 (fixture)
from tests.e2e.test_playback import (  # noqa: F401 (fixtures)
    _session_cookie,
    media_env,
    media_source,
    wait_ready,
    watch_party,
)
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

LAPTOP = {"width": 1280, "height": 800}
DESKTOP = {"width": 1440, "height": 900}

# What the focused element is, and whether focus is visible on it.
FOCUS_STATE = """([selector, name]) => {
  const e = document.activeElement;
  const shown = (el) => {
    if (!el) return false;
    const s = getComputedStyle(el);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
      || (s.boxShadow && s.boxShadow !== 'none');
  };
  // A native control drawn by a sibling (rating buttons) or its label (choices);
  // a range slider rings its thumb (a pseudo-element computed styles cannot read).
  // (The document itself before the first stop.)
  // The browser must treat the focus as keyboard focus (:focus-visible), and the page must draw it.
  const hiddenNative = getComputedStyle(e).opacity === '0';
  const visible = e === document.body || e.matches(':focus-visible') && (shown(e)
    || shown(e.closest('label')) || (hiddenNative && shown(e.nextElementSibling))
    || e.type === 'range');
  const box = e.getBoundingClientRect();
  const text = (e.getAttribute('aria-label') || e.textContent || e.value || '').trim();
  const matches = e.matches(selector) && (!name || text.includes(name));
  return {matches, visible, onScreen: box.width > 0 && box.height > 0,
          what: `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${text.slice(0, 40)}"`};
}"""


def tab_to(page, selector: str, name: str | None = None, *, back=False, limit=150) -> list:
    """Press Tab (Shift+Tab with back) until the focus is on `selector` (whose
    name contains `name`); every stop on the way must show its focus."""
    walked = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        state = page.evaluate(FOCUS_STATE, [selector, name])
        walked.append(state["what"])
        assert state["onScreen"], f"focus went to something not shown: {state['what']}"
        assert state["visible"], f"no visible focus on {state['what']}"
        if state["matches"]:
            return walked
    raise AssertionError(f"Tab never reached {selector} {name!r}; walked {walked[-15:]}")


def no_positive_tabindex(page) -> None:
    assert (
        page.evaluate(
            "() => [...document.querySelectorAll('[tabindex]')].filter((e) => e.tabIndex > 0).length"
        )
        == 0
    )


def keyboard_login(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    tab_to(page, "input[name=username]")
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}{next_path}")


def test_a_whole_session_and_a_recording_by_keyboard_alone(
    browser,
    media_env,  # noqa: F811 (the fixture imported above)
    watch_party,  # noqa: F811
    asgi_server,
    room,  # noqa: F811
    output_dir,
):
    session = room["session"]
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.SCHEDULED)
    errors: list[str] = []
    teacher_context = browser.new_context(viewport=DESKTOP)
    teacher = teacher_context.new_page()
    teacher.set_default_timeout(10_000)
    teacher.on("pageerror", lambda error: errors.append(f"teacher: {error}"))
    teacher.on("dialog", lambda dialog: dialog.accept())  # "End the session?" (Enter accepts)
    learner_context = browser.new_context(viewport=LAPTOP)
    ann = learner_context.new_page()
    ann.set_default_timeout(10_000)
    ann.on("pageerror", lambda error: errors.append(f"ann: {error}"))

    # The learner logs in and joins from the course page
    course_path = f"/courses/{session.course_id}/"
    keyboard_login(ann, asgi_server, room["ann"], course_path)
    tab_to(ann, "a", f"Join: {session.title}")
    ann.keyboard.press("Enter")
    ann.wait_for_url(f"{asgi_server}/sessions/{session.pk}/live/")
    expect(ann.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    no_positive_tabindex(ann)
    # (The focus check can fail: with the page's focus rings switched off it does.)
    no_rings = ann.add_style_tag(
        content="*:focus-visible { outline: none !important; box-shadow: none !important; }"
    )
    with pytest.raises(AssertionError, match="no visible focus"):
        tab_to(ann, "#never-there", limit=3)
    no_rings.evaluate("(element) => element.remove()")

    # The instructor opens the console and starts the session
    keyboard_login(teacher, asgi_server, room["teacher"], course_path)
    tab_to(teacher, "a", f"Open console: {session.title}")
    teacher.keyboard.press("Enter")
    expect(teacher.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    no_positive_tabindex(teacher)
    tab_to(teacher, "button", "Start session")
    teacher.keyboard.press("Enter")
    expect(ann.locator("[data-ref=mode-banner]")).to_contain_text("Lecture")

    # Modes: table talk, then Table 1 on stage (the table picked with the arrows)
    tab_to(teacher, ".mode-button", "Table talk")
    teacher.keyboard.press("Enter")
    expect(ann.locator("[data-ref=mode-banner]")).to_contain_text("Table talk")
    tab_to(teacher, "#mode-table")
    teacher.keyboard.press("Home")  # Table 1
    tab_to(teacher, ".mode-button", "Table on stage")
    teacher.keyboard.press("Space")
    expect(ann.locator("[data-ref=mode-banner]")).to_contain_text("Your table is on stage")

    # A timer, typed: label, minutes, Enter
    tab_to(teacher, "#timer-label")
    teacher.keyboard.press("Control+A")
    teacher.keyboard.type("Discuss")
    teacher.keyboard.press("Tab")
    teacher.keyboard.press("Control+A")
    teacher.keyboard.type("3")
    teacher.keyboard.press("Enter")
    expect(ann.locator("[data-ref=timers] .timer")).to_contain_text("Discuss")

    # A poll written and launched from the keyboard
    tab_to(teacher, "button", "New poll")
    teacher.keyboard.press("Enter")
    expect(teacher.locator("#poll-new-prompt")).to_be_focused()  # focus moves into the form
    teacher.keyboard.type("Which organelle makes most ATP?")
    tab_to(teacher, "input[type=text]")
    teacher.keyboard.type("Nucleus")
    tab_to(teacher, "input[type=text]")
    teacher.keyboard.type("Mitochondrion")
    tab_to(teacher, "button", "Launch")
    teacher.keyboard.press("Enter")
    keyboard_poll = ann.locator(".poll-card", has_text="Which organelle makes most ATP?")
    expect(keyboard_poll).to_be_visible()
    # ...and every other kind, opened by script (the learner answers them all below)
    teacher.evaluate(
        """(polls) => Promise.all(polls.slice(1).map(([kind, prompt, definition]) =>
            window.roundtableLive.act('poll.open', {kind, prompt, definition})))""",
        POLLS,
    )
    expect(ann.locator(".poll-card")).to_have_count(len(POLLS))
    ann.screenshot(path=output_dir / "learner-polls.png", full_page=True)

    # The learner votes in every poll type: arrows pick a radio, Space ticks a box
    cards = ann.locator(".poll-card")
    for index in range(cards.count()):
        card = cards.nth(index)
        kind = card.get_attribute("data-kind")
        key = card.get_attribute("data-key")
        inside = f".poll-card[data-key='{key}']"
        if kind in ("single", "true_false", "yes_no_abstain", "rating"):
            tab_to(ann, f"{inside} input[type=radio]")
            ann.keyboard.press("ArrowRight")  # moves and selects
        elif kind == "multiple":
            tab_to(ann, f"{inside} input[type=checkbox]")
            ann.keyboard.press("Space")
            ann.keyboard.press("Tab")
            ann.keyboard.press("Space")
        elif kind == "short_text":
            tab_to(ann, f"{inside} textarea")
            ann.keyboard.type("Separates")
        else:
            tab_to(ann, f"{inside} input[type=number]")
            ann.keyboard.type("46")
        tab_to(ann, f"{inside} button[type=submit]")
        ann.keyboard.press("Enter")
        expect(card.locator("[data-part=status]")).to_contain_text("saved")
    assert PollResponse.objects.filter(poll__session=session).count() == len(POLLS)

    # The instructor closes the keyboard-made poll
    live_card = teacher.locator(".poll-live", has_text="Which organelle makes most ATP?")
    key = live_card.get_attribute("data-key")
    tab_to(teacher, f".poll-live[data-key='{key}'] button", "Close poll")
    teacher.keyboard.press("Enter")
    expect(ann.locator(".poll-card", has_text="Which organelle makes most ATP?")).to_have_count(0)
    assert Poll.objects.get(prompt="Which organelle makes most ATP?").state == "closed"

    # Chat: type, Enter sends
    tab_to(ann, "#chat-input")
    ann.keyboard.type("Hello from the keyboard")
    ann.keyboard.press("Enter")
    expect(teacher.locator("[data-ref=chat-log]")).to_contain_text("Hello from the keyboard")

    # Ask a question, and upvote another learner's
    cleo_question = "Why do cells need cholesterol?"
    tab_to(ann, "#qa-input", back=True)
    ann.keyboard.type("What does the Golgi do?")
    tab_to(ann, "button[type=submit]", "Ask")
    ann.keyboard.press("Enter")
    expect(teacher.locator("[data-ref=qa-list]")).to_contain_text("What does the Golgi do?")
    cleo_context = browser.new_context(storage_state=None)
    cleo_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": _session_cookie(room["cleo"]),
                "url": asgi_server,
            }
        ]
    )
    cleo = cleo_context.new_page()
    cleo.goto(f"{asgi_server}/sessions/{session.pk}/live/")
    expect(cleo.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    cleo.evaluate("(body) => window.roundtableLive.act('question.ask', {body})", cleo_question)
    expect(ann.locator("[data-ref=qa-list]")).to_contain_text(cleo_question)
    tab_to(ann, "button.upvote")
    ann.keyboard.press("Enter")
    expect(teacher.locator("[data-ref=qa-list] .question", has_text=cleo_question)).to_contain_text(
        "1"
    )

    # Raise a hand (Space), react (Enter), ask for help
    tab_to(ann, "[data-ref=hand-button]", back=True)
    ann.keyboard.press("Space")
    expect(teacher.locator("[data-ref=hands-list]")).to_contain_text("Ann Okafor")
    tab_to(ann, "button.reaction", "Clap")
    ann.keyboard.press("Enter")
    expect(teacher.locator("[data-ref=engagement-body]")).to_contain_text("Clap")
    tab_to(ann, "[data-ref=help-button]")
    ann.keyboard.press("Enter")
    expect(ann.locator("[data-ref=help-status]")).to_contain_text("asked for help")
    expect(teacher.locator("[data-ref=help-list]")).to_contain_text("Table 1")

    # The instructor acknowledges the hand (invites to the podium) and broadcasts
    tab_to(teacher, "button", "Invite to podium: Ann Okafor")
    teacher.keyboard.press("Enter")
    expect(ann.locator("[data-ref=podium-me]")).to_contain_text("You are on the podium")
    expect(ann.locator("[data-ref=sr-assertive]")).to_contain_text("invited you to the podium")
    tab_to(teacher, "#announce-input", back=True)
    teacher.keyboard.type("Two minutes left, then we compare.")
    teacher.keyboard.press("Tab")
    teacher.keyboard.press("Enter")
    expect(ann.locator("[data-ref=latest-announcement]")).to_contain_text("Two minutes left")
    teacher.screenshot(path=output_dir / "console-by-keyboard.png", full_page=True)
    ann.screenshot(path=output_dir / "learner-by-keyboard.png", full_page=True)

    # The instructor ends the session (Shift+Tab back up to the header)
    tab_to(teacher, "button", "End session", back=True, limit=250)
    teacher.keyboard.press("Enter")
    expect(ann.get_by_role("heading", name="This session has ended")).to_be_visible()
    assert LiveSession.objects.get(pk=session.pk).state == SessionState.ENDED
    assert Poll.objects.filter(session=session).count() == len(POLLS)

    # A recording: the room opened, then play, seek, mute and pause by keyboard
    recording = watch_party["recording"]
    viewer_context = browser.new_context(viewport=LAPTOP)
    viewer_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": _session_cookie(watch_party["ann"]),
                "url": asgi_server,
            }
        ]
    )
    viewer = viewer_context.new_page()
    viewer.set_default_timeout(15_000)
    viewer.on("pageerror", lambda error: errors.append(f"viewer: {error}"))
    viewer.goto(f"{asgi_server}/recordings/{recording.pk}/")
    tab_to(viewer, "button", "Open the table room")
    viewer.keyboard.press("Enter")
    wait_ready(viewer)
    no_positive_tabindex(viewer)
    media = "document.querySelector('[data-ref=media]')"
    tab_to(viewer, "[data-ref=play]")
    viewer.keyboard.press("Space")
    viewer.wait_for_function(f"() => !{media}.paused")
    tab_to(viewer, "[data-ref=seek]")
    before = viewer.evaluate("() => Number(document.querySelector('[data-ref=seek]').value)")
    for _ in range(5):
        viewer.keyboard.press("ArrowRight")
    viewer.wait_for_function(
        "(before) => Number(document.querySelector('[data-ref=seek]').value) > before", arg=before
    )
    tab_to(viewer, "[data-ref=mute]")
    viewer.keyboard.press("Enter")
    expect(viewer.locator("[data-ref=mute]")).to_have_attribute("aria-pressed", "true")
    tab_to(viewer, "[data-ref=play]", back=True)
    viewer.keyboard.press("Enter")
    viewer.wait_for_function(f"() => {media}.paused")
    # A comment in the room's chat, typed and sent with Enter
    tab_to(viewer, "#pb-chat-input")
    viewer.keyboard.type("Pausing here for the diagram")
    viewer.keyboard.press("Enter")
    expect(viewer.locator("[data-ref=feed]")).to_contain_text("Pausing here for the diagram")
    # The notes tab by arrow keys, a note typed and added with Enter
    tab_to(viewer, "[role=tab]", "Chat", back=True)
    viewer.keyboard.press("ArrowRight")
    expect(viewer.locator("#tab-notes")).to_be_focused()
    tab_to(viewer, "#pb-note-body")
    viewer.keyboard.type("Mitochondria: the powerhouse.")
    tab_to(viewer, "button[type=submit]", "Add note")
    viewer.keyboard.press("Enter")
    expect(viewer.locator("[data-ref=notes]")).to_contain_text("Mitochondria: the powerhouse.")
    viewer.screenshot(path=output_dir / "playback-by-keyboard.png", full_page=True)

    # The playback room with its notes, then its chat, under axe; then at 320 px
    problems = [f"notes: {v}" for v in axe_violations(viewer)]
    viewer.locator("#tab-notes").focus()
    viewer.keyboard.press("ArrowLeft")
    expect(viewer.locator("#tab-chat")).to_have_attribute("aria-selected", "true")
    problems += [f"chat: {v}" for v in axe_violations(viewer)]
    assert not problems, problems
    viewer.set_viewport_size({"width": 320, "height": 640})
    viewer.wait_for_timeout(300)
    width = viewer.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the playback room overflows 320 px ({width}px) {wider_than(viewer, 320)}"
    viewer.screenshot(path=output_dir / "playback-320px.png", full_page=True)

    assert errors == []
    for context in (teacher_context, learner_context, cleo_context, viewer_context):
        context.close()
