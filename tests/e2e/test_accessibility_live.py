"""WCAG 2.1 AA in the states of the live classroom that a resting page never
shows (issue 17, docs/accessibility.md): every poll kind open for voting, a
timer running, a full chat with long names, a refused action, each room mode
(table talk, visiting, on stage, podium), on the learner view and the
instructor console. axe-core checks each state; the screen-reader announcer
is read after each live change (one polite and one assertive region,
coalesced, timers at milestones only); the learner view reflows at 320 px."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import ChatMessage, LiveSession, Seat, SessionState, Table
from courses.models import Role
from tests.e2e.axe import axe_violations
from tests.factories import PASSWORD, CourseFactory, EnrollmentFactory, LiveSessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(150)]

DESKTOP = {"width": 1440, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
NARROW = {"width": 320, "height": 640}
LONG_NAME = "Maximiliana Alexandrovna Bartholomew-Featherstonehaugh-Worthington"

# One poll of every kind, opened at once by the console.
POLLS = [
    ("single", "Which organelle makes most ATP?", {"options": ["Nucleus", "Mitochondrion"]}),
    ("multiple", "Which are organelles?", {"options": ["Ribosome", "Golgi", "Cytosol"]}),
    ("true_false", "Cells have membranes.", {}),
    ("yes_no_abstain", "Ready to move on?", {}),
    ("rating", "How clear was that?", {"scale": 5}),
    ("short_text", "One word for a membrane's job", {}),
    ("numeric", "How many chromosomes in a human cell?", {}),
]


@pytest.fixture
def room():
    course = CourseFactory(title="Membranes", code="BIO-201")
    teacher = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Maya Alvarez"
    ).user
    tables = [Table.objects.create(course=course, name=f"Table {n}", position=n) for n in (1, 2)]
    ann = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name="Ann Okafor").user
    long = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=LONG_NAME).user
    cleo = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name="Cleo Diaz").user
    Seat.objects.create(course=course, table=tables[0], user=ann)
    Seat.objects.create(course=course, table=tables[0], user=long)
    Seat.objects.create(course=course, table=tables[1], user=cleo)
    session = LiveSessionFactory(course=course, title="Week 2: Membranes and transport")
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.LIVE, started_at=timezone.now()
    )
    # The chat is full: many messages, long names, long unbroken words, sent
    # over the last minutes (history: not inside the 5 s chat rate window of
    # a learner who types right after the page opens).
    start = timezone.now() - timedelta(minutes=10)
    for n in range(60):
        message = ChatMessage.objects.create(
            session=session,
            channel="class",
            author=long if n % 2 else ann,
            body=f"Message {n}: "
            + ("Supercalifragilisticexpialidocious-osmosis-" * (3 if n % 7 == 0 else 1)),
        )
        ChatMessage.objects.filter(pk=message.pk).update(created_at=start + timedelta(seconds=n))
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        redis.Redis.from_url(url).delete(f"roundtable:frames:live.{session.pk}")
    return {"session": session, "teacher": teacher, "ann": ann, "cleo": cleo, "tables": tables}


def open_live(browser, base, user, session, viewport, errors):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
    page.goto(f"{base}/accounts/login/?next=/sessions/{session.pk}/live/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/sessions/{session.pk}/live/")
    expect(page.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    return context, page


def check(page, state: str, problems: list, shots=None) -> None:
    page.wait_for_timeout(250)  # cards slide in, bars grow
    for violation in axe_violations(page):
        print("AXE", state, violation)
        problems.append(
            f"{state}: {violation['id']} ({violation['impact']}) {violation['help']} "
            f"at {violation['targets']}"
        )
    if shots is not None:
        page.screenshot(path=str(shots / f"{state}.png"), full_page=True)


def said_log(page) -> list[str]:
    """Everything the page's announcer has read out, oldest first."""
    return page.evaluate("window.roundtableLive.announcer.log.map((entry) => entry.text)")


def test_live_states_pass_axe_and_are_announced_without_flooding(
    browser, asgi_server, room, output_dir
):
    session, errors, problems = room["session"], [], []
    ann_context, ann = open_live(browser, asgi_server, room["ann"], session, LAPTOP, errors)
    cleo_context, cleo = open_live(browser, asgi_server, room["cleo"], session, NARROW, errors)
    teacher_context, teacher = open_live(
        browser, asgi_server, room["teacher"], session, DESKTOP, errors
    )
    table1, table2 = room["tables"]
    expect(ann.locator("[data-ref=chat-log] .msg")).to_have_count(60)
    # Everything announced lands in one region per politeness, nowhere else.
    for page in (ann, teacher):
        regions = page.evaluate(
            """() => [...document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=status],'
                + ' [role=alert], [role=log]')].filter((e) => !e.closest('[hidden]'))
                .map((e) => e.dataset.ref || e.className)"""
        )
        assert sorted(regions) == ["sr-assertive", "sr-polite"], regions

    # A timer running (announced at one minute left, never each second), a
    # second one already in its warning time, and every poll kind open at once
    teacher.evaluate(
        """() => Promise.all([
            window.roundtableLive.act('timer.start', {label: 'Wrap up', seconds: 62}),
            window.roundtableLive.act('timer.start', {label: 'Last call', seconds: 25}),
        ])"""
    )
    results = teacher.evaluate(
        """(polls) => Promise.all(polls.map(([kind, prompt, definition]) =>
            window.roundtableLive.act('poll.open',
                {kind, prompt, definition, settings: {show_live_results: true}})))""",
        POLLS,
    )
    assert all(result["ok"] for result in results), results
    expect(ann.locator(".poll-card")).to_have_count(len(POLLS))
    expect(ann.locator("[data-ref=timers] .timer--warning")).to_contain_text("Ending soon")
    # Seven polls opened in a row are read in at most two updates (the first
    # ones, then one count at most 4 s later), never seven readings.
    ann.wait_for_function(
        """() => window.roundtableLive.announcer.log
            .map((entry) => entry.text.match(/^(\\d) new polls/)?.[1] ?? (entry.text.startsWith('New poll') ? 1 : 0))
            .reduce((a, b) => a + Number(b), 0) === 7""",
        timeout=8_000,
    )
    polls_said = [line for line in said_log(ann) if "poll" in line]
    assert len(polls_said) <= 2, polls_said

    # A refused answer shows next to its poll and is said; so is a refused action
    numeric = ann.locator(".poll-card[data-kind=numeric]")
    numeric.get_by_role("button", name="Submit").click()
    expect(numeric.locator("[data-part=error]")).to_have_text("Enter a number first.")
    expect(ann.locator("[data-ref=sr-assertive]")).to_contain_text("Enter a number first.")
    ann.evaluate("window.roundtableLive.act('question.upvote', {question_id: 999999})")
    expect(ann.locator("[data-ref=toasts] .toast")).to_have_count(1)
    expect(ann.locator("[data-ref=sr-assertive]")).not_to_contain_text("Enter a number first.")
    single = ann.locator(".poll-card[data-kind=single]")
    single.get_by_role("radio", name="Mitochondrion").check()
    single.get_by_role("button", name="Submit").click()
    expect(single.locator("[data-part=status]")).to_contain_text("saved")
    expect(ann.locator("[data-ref=sr-polite]")).to_contain_text("Answer saved: B. Mitochondrion")
    ann.get_by_role("button", name="Raise hand").click()
    expect(teacher.locator("[data-ref=hands-list]")).to_contain_text("Ann Okafor")
    expect(teacher.locator("[data-ref=sr-polite]")).to_contain_text("Ann Okafor raised a hand.")
    # The console's new-poll form refused: the errors name their fields, focus goes to the first
    teacher.get_by_role("button", name="New poll").click()
    teacher.locator(".poll-create-form").get_by_role("button", name="Launch").click()
    prompt = teacher.locator("#poll-new-prompt")
    expect(prompt).to_be_focused()
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(prompt).to_have_attribute("aria-describedby", re.compile("error"))
    check(ann, "learner-polls-timers-errors-chat-full", problems, output_dir)
    check(teacher, "console-polls-timers-hand-form-errors-chat-full", problems, output_dir)
    teacher.get_by_role("button", name="New poll").click()  # closed again

    # Modes, each said once to the learner (at once when their table is heard)
    modes = [
        ("table_talk", {}, "Table talk — talk with your table", "polite"),
        ("visiting", {"table_id": table1.pk}, "visiting your table", "assertive"),
        ("stage", {"table_id": table1.pk}, "Your table is on stage", "assertive"),
        ("podium", {}, "Podium — the speakers", "polite"),
    ]
    for mode, extra, words, politeness in modes:
        teacher.evaluate(
            "(data) => window.roundtableLive.act('mode.set', data)", {"mode": mode, **extra}
        )
        expect(ann.locator("[data-ref=mode-banner]")).to_contain_text(words)
        expect(ann.locator(f"[data-ref=sr-{politeness}]")).to_contain_text(words)
        if mode != "podium":
            check(ann, f"learner-mode-{mode}", problems, output_dir)
        if mode == "stage":
            expect(cleo.locator("[data-ref=sr-polite]")).to_contain_text(
                "another table is on stage — listen in"
            )
            check(teacher, "console-mode-stage", problems, output_dir)

    # The timer said its minute once, and nothing each second
    spoken = " ".join(said_log(ann))
    timer_lines = re.findall(r"Wrap up: [^.]+", spoken)
    assert timer_lines.count("Wrap up: 1 minute left") == 1, spoken
    # Milestones only, each once (a slow run may reach the 30 s warning too)
    assert set(timer_lines) <= {"Wrap up: 1 minute left", "Wrap up: ending soon"}, spoken
    assert len(timer_lines) == len(set(timer_lines)), spoken

    # A raised hand acknowledged (invited to the podium): said at once
    teacher.get_by_role("button", name="Invite to podium: Ann Okafor").click()
    expect(ann.locator("[data-ref=sr-assertive]")).to_contain_text(
        "The instructor invited you to the podium"
    )
    check(ann, "learner-on-podium", problems, output_dir)

    # Reactions and talk have text: the console's engagement row says them in words
    ann.get_by_role("button", name="Clap").click()
    expect(teacher.locator("[data-ref=engagement-body]")).to_contain_text("Clap")

    # The narrow learner view (320 px) with all of this: no sideways scroll
    cleo.wait_for_timeout(400)
    width = cleo.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"the learner view overflows 320 px ({width}px)"
    for name in ("Raise hand", "Ask for help", "Send"):
        button = cleo.get_by_role("button", name=name, exact=True)
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"], (name, box)
    check(cleo, "learner-320px", problems, output_dir)

    # Reduced motion: nothing animates or slides (new cards, timers, toasts, bursts)
    ann.emulate_media(reduced_motion="reduce")
    ann.get_by_role("button", name="Thumbs up").click()  # a burst
    teacher.evaluate("() => window.roundtableLive.act('timer.start', {label: 'Calm', seconds: 20})")
    expect(ann.locator("[data-ref=timers] .timer--warning", has_text="Calm")).to_be_visible()
    moving = ann.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap((e) => [e, '::before', '::after']
            .map((pseudo) => pseudo === e ? getComputedStyle(e) : getComputedStyle(e, pseudo))
            .filter((s) => (s.animationName !== 'none' && parseFloat(s.animationDuration) > 0.01)
                || parseFloat(s.transitionDuration) > 0.01)
            .map(() => e.className))"""
    )
    assert moving == [], moving

    print("\n".join(problems))
    assert not problems, "\n".join(problems)
    assert errors == []
    for context in (ann_context, cleo_context, teacher_context):
        context.close()


def login(browser, base, user, viewport, **options):
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    return context, page


def wider_than(page, width: int) -> list[str]:
    """The first elements that stick out past `width` (what breaks the reflow)."""
    return page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > w + 1)
            .slice(0, 4).map((e) => `${e.tagName}.${e.className}`
                + ` ${Math.round(e.getBoundingClientRect().left)}-${Math.round(e.getBoundingClientRect().right)}`)""",
        width,
    )


def overflow(page) -> int:
    """How far the page scrolls sideways (0: it reflows)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_forms_with_errors_pass_axe_and_pages_reflow_at_320_px_and_200_percent(
    browser, asgi_server, room, output_dir
):
    session, teacher, problems = room["session"], room["teacher"], []
    course_id = session.course_id
    context, page = login(browser, asgi_server, teacher, LAPTOP)

    # Seating: a refused move and a table without a name
    page.goto(f"{asgi_server}/courses/{course_id}/seating/")
    page.get_by_label("Learners per table").fill("0")
    page.get_by_role("button", name="Seat learners", exact=True).click()
    expect(page.locator(".field__error").first).to_be_visible()
    invalid = page.locator("[aria-invalid=true]").first
    error_id = invalid.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{error_id}")).not_to_be_empty()  # the error describes its field
    check(page, "seating-auto-error", problems, output_dir)
    page.get_by_role("button", name="Add table", exact=True).click()
    expect(page.locator(".field__error").first).to_be_visible()
    check(page, "seating-add-table-error", problems, output_dir)

    # Poll plan: a question saved empty names its fields
    page.goto(f"{asgi_server}/sessions/{session.pk}/plan/")
    form = page.locator("[data-ref=new-question]")
    form.get_by_role("button", name="Save to bank", exact=True).click()
    expect(form.locator(".field__error:not([hidden])").first).to_be_visible()
    prompt = form.get_by_role("textbox", name="Question")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    described = prompt.get_attribute("aria-describedby") or ""
    assert any(page.locator(f"#{name}").inner_text().strip() for name in described.split()), (
        "the field's error is not in its description"
    )
    check(page, "plan-question-errors", problems, output_dir)
    context.close()

    # 320 CSS px wide (a phone, or 1280 px at 400 %) and 1280 px at 200 %
    # (640 CSS px at 2 device pixels each): no sideways scrolling, nothing cut.
    pages = {
        teacher: [
            "/",
            f"/courses/{course_id}/",
            f"/courses/{course_id}/seating/",
            f"/sessions/{session.pk}/plan/",
            f"/sessions/{session.pk}/live/",
            f"/courses/{course_id}/recordings/",
            "/insights/",
        ],
        room["ann"]: ["/", f"/courses/{course_id}/", "/notifications/"],
    }
    too_wide = []
    for user, paths in pages.items():
        for viewport, scale in ((NARROW, 1), ({"width": 640, "height": 720}, 2)):
            context, page = login(browser, asgi_server, user, viewport, device_scale_factor=scale)
            for path in paths:
                page.goto(asgi_server + path)
                if path.endswith("/live/"):  # the console drawn from its snapshot, not loading
                    expect(page.locator("[data-ref=main]")).to_be_visible()
                    expect(page.get_by_text("Loading the session…")).to_be_hidden()
                page.wait_for_timeout(300)
                extra = overflow(page)
                if extra > 0:
                    culprits = wider_than(page, viewport["width"])
                    too_wide.append(
                        f"{user.username} {path} at {viewport['width']}px: +{extra}px {culprits}"
                    )
                # The page's main heading and its first control stay in view horizontally
                heading = page.locator("h1").first.bounding_box()
                assert heading and heading["x"] >= 0, (path, heading)
                if viewport is NARROW:
                    name = path.strip("/").replace("/", "-") or "home"
                    page.screenshot(
                        path=str(output_dir / f"320-{user.username}-{name}.png"), full_page=True
                    )
            context.close()
    print("\n".join(problems))
    assert not too_wide, "\n".join(too_wide)
    assert not problems, "\n".join(problems)
