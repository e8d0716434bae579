"""Polls in the live classroom, in real Chromium against Daphne: the instructor
creates and launches a quiz, three learners answer, the instructor closes and
publishes, the learners see the result (docs/polls.md, issue 4)."""

from __future__ import annotations

import json
import os

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import LiveSession, Poll, PollResponse, Seat, SessionState, Table
from courses.models import Role
from tests.factories import PASSWORD, CourseFactory, EnrollmentFactory, LiveSessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

DESKTOP = {"width": 1440, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Every frame a page receives, recorded before the page's own scripts run.
RECORD_FRAMES = """
window.receivedFrames = [];
window.WebSocket = class extends window.WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.addEventListener("message", (event) => window.receivedFrames.push(event.data));
  }
};
"""
# Keys that carry a correct answer (or reveal it) in poll payloads.
SECRET_KEYS = {"correct", "accepted", "correct_value", "correct_count", "right"}


@pytest.fixture
def classroom():
    return make_classroom()


def make_classroom() -> dict:
    """A live session; Ann and Ben sit at Table 1, Cleo at Table 2."""
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    teacher = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Maya Alvarez"
    ).user
    tables = [Table.objects.create(course=course, name=f"Table {n}", position=n) for n in (1, 2)]
    people = {"teacher": teacher}
    for key, name, table in (
        ("ann", "Ann Okafor", tables[0]),
        ("ben", "Ben Carter", tables[0]),
        ("cleo", "Cleo Diaz", tables[1]),
    ):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        Seat.objects.create(course=course, table=table, user=user)
        people[key] = user
    session = LiveSessionFactory(course=course, title="Week 3: Cellular respiration")
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.LIVE, started_at=timezone.now()
    )
    url = os.environ.get("REDIS_URL")
    if url:  # the frame buffer outlives test databases that reuse session ids
        import redis

        redis.Redis.from_url(url).delete(f"roundtable:frames:live.{session.pk}")
    return {"course": course, "session": session, "tables": tables, **people}


def open_page(browser, base_url, user, path, viewport=LAPTOP, *, errors=None, record=False):
    context = browser.new_context(viewport=viewport)
    if record:
        context.add_init_script(RECORD_FRAMES)
    page = context.new_page()
    page.set_default_timeout(10_000)
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
    page.goto(f"{base_url}/accounts/login/?next={path}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}{path}")
    return context, page


def open_live(browser, base_url, user, session, viewport=LAPTOP, **kwargs):
    context, page = open_page(
        browser, base_url, user, f"/sessions/{session.pk}/live/", viewport, **kwargs
    )
    expect(page.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    return context, page


def secrets_in(value, path="") -> list[str]:
    """Paths of keys that would reveal a correct answer."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_KEYS and item not in (None, [], {}):
                found.append(f"{path}.{key}")
            found.extend(secrets_in(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(secrets_in(item, f"{path}[{index}]"))
    return found


def assert_no_correct_answer_in(page, name: str) -> None:
    """Nothing the learner's browser received or shows gives the answer away."""
    frames = [json.loads(text) for text in page.evaluate("window.receivedFrames")]
    poll_frames = [
        frame
        for frame in frames
        if frame.get("type", "").startswith("poll.") or frame.get("type") == "snapshot"
    ]
    assert poll_frames, f"{name} received no poll frame"
    for frame in poll_frames:
        data = frame.get("data", {})
        payload = data.get("polls", []) if frame["type"] == "snapshot" else data
        assert secrets_in(payload) == [], f"{name} got {frame['type']}: {secrets_in(payload)}"
    state = page.evaluate("JSON.stringify([...window.roundtableLive.state.polls.values()])")
    assert secrets_in(json.loads(state)) == [], (
        f"{name}'s state holds {secrets_in(json.loads(state))}"
    )
    card = page.locator(".poll-card").first
    expect(card.locator(".poll-bar--correct")).to_have_count(0)
    expect(card.locator(".poll-outcome")).to_be_hidden()
    text = page.locator("body").inner_text()
    for leak in ("The correct answer", "You were right", "✓ correct", "Not this time"):
        assert leak not in text, f"{name}'s page says {leak!r} before publication"


def seconds_left(timer) -> int:
    minutes, seconds = timer.inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def answer(page, option: str) -> None:
    card = page.locator(".poll-card").first
    card.get_by_role("radio", name=option, exact=True).check()
    card.locator("[data-part=submit]").click()


def test_instructor_runs_a_quiz_three_learners_answer_and_see_the_result(
    browser, asgi_server, classroom, output_dir
):
    session = classroom["session"]
    errors: list[str] = []
    contexts = []
    learners = {}
    for key in ("ann", "ben", "cleo"):
        context, page = open_live(
            browser, asgi_server, classroom[key], session, errors=errors, record=True
        )
        contexts.append(context)
        learners[key] = page
    ann, ben, cleo = learners["ann"], learners["ben"], learners["cleo"]
    context, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, errors=errors
    )
    contexts.append(context)
    panel = teacher.locator(".polls-panel")
    expect(panel.locator("[data-ref=poll-plan-empty]")).to_contain_text("Nothing planned")

    # The instructor writes a quiz on the fly: three options, B is correct
    teacher.get_by_role("button", name="New poll").click()
    form = panel.locator(".poll-create-form")
    expect(form.get_by_label("Type")).to_have_value("single")
    form.get_by_label("Question").fill("Which organelle makes most of a cell's ATP?")
    form.get_by_label("Option A", exact=True).fill("Nucleus")
    form.get_by_label("Option B", exact=True).fill("Mitochondrion")
    form.get_by_role("button", name="Add option").click()
    expect(form.get_by_label("Option C", exact=True)).to_be_focused()
    form.get_by_label("Option C", exact=True).fill("Ribosome")
    expect(form.get_by_label("Quiz: grade answers")).to_be_disabled()  # no correct answer yet
    form.get_by_label("Option B is correct").check()
    expect(form.get_by_label("Quiz: grade answers")).to_be_checked()
    expect(form.get_by_label("Points")).to_have_value("1")
    form.get_by_label("Show live results to learners").check()
    teacher.screenshot(path=output_dir / "console-create-quiz.png", full_page=True)
    form.get_by_role("button", name="Launch").click()
    expect(form).to_be_hidden()

    live_card = panel.locator(".poll-live").first
    expect(live_card).to_contain_text("Which organelle makes most of a cell's ATP?")
    expect(live_card.locator(".badge")).to_have_text("Open")
    expect(live_card.locator("[data-part=responses]")).to_have_text("0")
    expect(live_card.locator("[data-part=rate]")).to_contain_text("0/3")
    expect(live_card.locator("[data-part=correct]")).to_contain_text(
        "Correct answer: B. Mitochondrion"
    )
    missing = live_card.locator("[data-part=missing]")
    for name in ("Ann Okafor", "Ben Carter", "Cleo Diaz"):
        expect(missing).to_contain_text(name)

    # The poll appears for every learner without a reload
    for page in learners.values():
        card = page.locator(".poll-card").first
        expect(card).to_contain_text("Which organelle makes most of a cell's ATP?")
        expect(card.get_by_role("radio", name="Mitochondrion", exact=True)).to_be_enabled()
    ann.screenshot(path=output_dir / "learner-poll-open.png", full_page=True)

    # They answer; each sees their answer confirmed
    answer(ann, "Mitochondrion")
    answer(ben, "Nucleus")
    answer(cleo, "Ribosome")
    expect(ann.locator(".poll-card [data-part=status]")).to_have_text(
        "Your answer: B. Mitochondrion ✓ saved"
    )
    expect(ben.locator(".poll-card [data-part=status]")).to_have_text(
        "Your answer: A. Nucleus ✓ saved"
    )
    expect(cleo.locator(".poll-card [data-part=status]")).to_contain_text("C. Ribosome")

    # The console counts 3 of 3 present; nobody is missing
    expect(live_card.locator("[data-part=responses]")).to_have_text("3")
    expect(live_card.locator("[data-part=rate]")).to_have_text("3/3 present · 100%")
    expect(missing.locator("li")).to_have_count(0)
    expect(live_card.locator("[data-part=missing-title]")).to_have_text(
        "Everyone here has answered."
    )
    expect(live_card.locator("[data-part=right]")).to_have_text("1 of 3 right")

    # Ben changes his mind: still three answers, now two for B
    ben_card = ben.locator(".poll-card").first
    expect(ben_card.get_by_role("button", name="Change my answer")).to_be_disabled()
    ben_card.get_by_role("radio", name="Mitochondrion", exact=True).check()
    ben_card.get_by_role("button", name="Change my answer").click()
    expect(ben_card.locator("[data-part=status]")).to_have_text(
        "Your answer: B. Mitochondrion ✓ saved"
    )
    bar_b = live_card.locator(".poll-bar", has_text="B. Mitochondrion")
    expect(bar_b.locator(".poll-bar__count")).to_have_text("2 · 67%")
    expect(live_card.locator("[data-part=responses]")).to_have_text("3")
    expect(live_card.locator("[data-part=rate]")).to_have_text("3/3 present · 100%")
    expect(live_card.locator("[data-part=right]")).to_have_text("2 of 3 right")

    # With live results on, learners see the distribution (never the answer)
    cleo_card = cleo.locator(".poll-card").first
    expect(cleo_card.locator("[data-part=results-title]")).to_have_text("Live results · 3 answers")
    expect(
        cleo_card.locator(".poll-bar", has_text="B. Mitochondrion").locator(".poll-bar__count")
    ).to_have_text("2 · 67%")
    for name, page in learners.items():
        assert_no_correct_answer_in(page, name)
    teacher.wait_for_timeout(400)  # let the bars finish growing
    teacher.screenshot(path=output_dir / "console-live-tally.png", full_page=True)
    cleo.screenshot(path=output_dir / "learner-live-results.png", full_page=True)

    # Closed: learners wait for the results, and still cannot tell the answer
    live_card.get_by_role("button", name="Close poll").click()
    expect(live_card.locator(".badge")).to_have_text("Closed")
    for name, page in learners.items():
        card = page.locator(".poll-card").first
        expect(card.locator("[data-part=phase]")).to_have_text("Poll closed — waiting for results")
        expect(card.locator("[data-part=submit]")).to_be_hidden()
        expect(card.get_by_role("radio", name="Nucleus", exact=True)).to_be_disabled()
        assert_no_correct_answer_in(page, name)
    ann.screenshot(path=output_dir / "learner-poll-closed.png", full_page=True)

    # Published: the distribution and who was right
    expect(live_card.get_by_role("button", name="Reopen")).to_be_visible()
    live_card.get_by_role("button", name="Publish results").click()
    expect(live_card.locator(".badge")).to_have_text("Results published")
    expect(live_card.get_by_role("button", name="Reopen")).to_be_hidden()
    for page in (ann, ben):
        outcome = page.locator(".poll-card [data-part=outcome]")
        expect(outcome).to_contain_text("You were right!")
        expect(outcome).to_contain_text("The correct answer was: B. Mitochondrion")
    outcome = cleo.locator(".poll-card [data-part=outcome]")
    expect(outcome).to_contain_text("Not this time.")
    expect(outcome).to_contain_text("The correct answer was: B. Mitochondrion")
    for page in learners.values():
        card = page.locator(".poll-card").first
        expect(card.locator("[data-part=results-title]")).to_have_text("Results · 3 answers")
        expect(card.locator(".poll-bar--correct")).to_contain_text("B. Mitochondrion")
        expect(card.locator("[data-part=phase]")).to_be_hidden()
    ann.wait_for_timeout(400)
    ann.screenshot(path=output_dir / "learner-right.png", full_page=True)
    cleo.screenshot(path=output_dir / "learner-wrong.png", full_page=True)
    teacher.screenshot(path=output_dir / "console-published.png", full_page=True)

    poll = Poll.objects.get(session=session)
    assert poll.is_quiz and poll.published_at is not None
    responses = {r.user.display_name: r for r in PollResponse.objects.filter(poll=poll)}
    assert len(responses) == 3
    assert responses["Ben Carter"].change_count == 1
    assert responses["Ben Carter"].first_answer == {"option": "a"}
    assert [responses[n].is_correct for n in ("Ann Okafor", "Ben Carter", "Cleo Diaz")] == [
        True,
        True,
        False,
    ]

    # The next poll (an anonymous opinion): the quiz moves to "Earlier polls"
    teacher.get_by_role("button", name="New poll").click()
    form.get_by_label("Type").select_option("yes_no_abstain")
    form.get_by_label("Question").fill("Ready to move on to the Krebs cycle?")
    form.get_by_label("Anonymous: staff see counts only").check()
    form.get_by_role("button", name="Launch").click()
    expect(panel.locator(".poll-live")).to_have_count(1)
    opinion = panel.locator(".poll-live").first
    expect(opinion).to_contain_text("Ready to move on to the Krebs cycle?")
    expect(opinion).to_contain_text("Anonymous poll: counts only, no names.")
    expect(opinion.locator("[data-part=missing-wrap]")).to_be_hidden()
    earlier = panel.locator("[data-ref=poll-earlier-wrap]")
    expect(earlier.locator("[data-ref=poll-earlier-summary]")).to_have_text("Earlier polls (1)")
    expect(earlier).to_contain_text("3 answers · 2 of 3 right · Results published")
    card = ann.locator(".poll-card").first
    expect(card).to_contain_text("Ready to move on to the Krebs cycle?")
    card.get_by_role("radio", name="Abstain").check()
    card.get_by_role("button", name="Submit").click()
    expect(card.locator("[data-part=status]")).to_have_text("Your answer: Abstain ✓ saved")
    expect(opinion.locator("[data-part=responses]")).to_have_text("1")
    ann.get_by_text("Earlier polls (1)").click()
    expect(ann.locator(".poll-earlier__item")).to_contain_text(
        "Your answer: B. Mitochondrion · ✓ right"
    )
    earlier.locator("[data-ref=poll-earlier-summary]").click()
    earlier.locator(".poll-earlier__item summary").click()
    expect(earlier.locator(".poll-bar--correct")).to_contain_text("B. Mitochondrion")
    ann.wait_for_timeout(400)
    ann.screenshot(path=output_dir / "learner-next-poll.png", full_page=True)
    teacher.screenshot(path=output_dir / "console-next-poll.png", full_page=True)
    assert PollResponse.objects.get(poll__prompt__startswith="Ready").user_id is None

    # A reload shows the same outcome (from the snapshot's my_correct)
    ann.reload()
    ann.get_by_text("Earlier polls (1)").click()
    expect(ann.locator(".poll-earlier__item")).to_contain_text("✓ right")
    phone = browser.new_context(viewport=PHONE, storage_state=contexts[2].storage_state())
    contexts.append(phone)
    phone_page = phone.new_page()
    phone_page.goto(f"{asgi_server}/sessions/{session.pk}/live/")
    phone_page.get_by_text("Earlier polls (1)").click()
    expect(phone_page.locator(".poll-earlier__item")).to_contain_text("✗ not right")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the learner view overflows a phone ({width}px)"
    phone_page.screenshot(path=output_dir / "learner-phone-result.png", full_page=True)
    assert errors == []
    for context in contexts:
        context.close()


def test_timed_typed_answer_poll_closes_itself_and_errors_show_next_to_it(
    browser, asgi_server, classroom, output_dir
):
    session = classroom["session"]
    errors: list[str] = []
    context_a, ann = open_live(browser, asgi_server, classroom["ann"], session, errors=errors)
    context_t, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, errors=errors
    )
    panel = teacher.locator(".polls-panel")
    teacher.get_by_role("button", name="New poll").click()
    form = panel.locator(".poll-create-form")
    form.get_by_label("Type").select_option("short_text")
    form.get_by_label("Question").fill("One word for what a membrane does")

    # Client-side checks name the field
    form.get_by_label("Timer").select_option("custom")
    form.get_by_label("Seconds").fill("2")
    form.get_by_role("button", name="Launch").click()
    expect(form.locator("[data-error-for=timer_seconds]")).to_have_text("From 5 to 3,600 seconds.")
    form.get_by_label("Seconds").fill("15")
    form.get_by_role("button", name="Launch").click()
    card = ann.locator(".poll-card").first
    expect(card).to_contain_text("One word for what a membrane does")
    expect(card.locator("[data-part=timer]")).to_be_visible()
    expect(panel.locator(".poll-live [data-part=timer]")).to_be_visible()
    seconds = [seconds_left(card.locator("[data-part=timer]"))]
    ann.wait_for_timeout(1_300)
    seconds.append(seconds_left(card.locator("[data-part=timer]")))
    assert 10 <= seconds[1] < seconds[0] <= 15, seconds

    # Typed answers: a counter, then the confirmation
    box = card.get_by_label("Your answer")
    box.fill("Separates")
    expect(card.locator("[data-part=counter]")).to_have_text("9 / 2,000")
    card.get_by_role("button", name="Submit").click()
    expect(card.locator("[data-part=status]")).to_have_text("Your answer: Separates ✓ saved")
    expect(panel.locator(".poll-live .poll-ranked")).to_contain_text("Separates")

    # A refused answer is shown next to the poll, not lost in a toast
    box.fill("x" * 2000)
    expect(card.locator("[data-part=counter]")).to_have_text("2,000 / 2,000")
    box.evaluate("(element) => { element.value = element.value + 'y'; }")
    card.get_by_role("button", name="Change my answer").click()
    expect(card.locator("[data-part=error]")).to_have_text(
        "An answer has at most 2,000 characters."
    )
    ann.screenshot(path=output_dir / "learner-typed-error.png", full_page=True)
    box.fill("Filters")
    # The server's own refusal (an answer it cannot accept) shows the same way
    ann.evaluate(
        """() => {
            const app = window.roundtableLive;
            const act = app.act.bind(app);
            app.act = (type, data, options) =>
                act(type, type === "poll.vote" ? {...data, answer: {text: 42}} : data, options);
        }"""
    )
    card.get_by_role("button", name="Change my answer").click()
    expect(card.locator("[data-part=error]")).to_have_text("Not saved: The answer is empty.")

    # The countdown reaches zero: the poll closes for everyone by itself
    expect(card.locator("[data-part=phase]")).to_have_text(
        "Poll closed — waiting for results", timeout=20_000
    )
    expect(panel.locator(".poll-live .badge")).to_have_text("Closed")
    poll = Poll.objects.get(session=session)
    assert poll.state == "closed" and poll.closed_at is not None
    assert PollResponse.objects.get(poll=poll).answer == {"text": "Separates"}
    teacher.screenshot(path=output_dir / "console-typed-closed.png", full_page=True)
    assert errors == []
    context_a.close()
    context_t.close()


def test_a_table_shares_one_answer(browser, asgi_server, classroom, output_dir):
    session = classroom["session"]
    errors: list[str] = []
    contexts = []
    pages = {}
    for key in ("ann", "ben"):
        context, pages[key] = open_live(
            browser, asgi_server, classroom[key], session, errors=errors
        )
        contexts.append(context)
    context, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, errors=errors
    )
    contexts.append(context)
    panel = teacher.locator(".polls-panel")
    teacher.get_by_role("button", name="New poll").click()
    form = panel.locator(".poll-create-form")
    form.get_by_label("Type").select_option("rating")
    form.get_by_label("Question").fill("How confident is your table about glycolysis?")
    form.get_by_text("1 to 10").click()
    form.get_by_label("Who answers").select_option("one_per_table")
    expect(form.get_by_label("Anonymous: staff see counts only")).to_be_disabled()
    form.get_by_role("button", name="Launch").click()

    ann, ben = pages["ann"], pages["ben"]
    ann_card = ann.locator(".poll-card").first
    expect(ann_card).to_contain_text("One answer for your whole table")
    ann_card.get_by_label("7 of 10").check(force=True)
    ann_card.get_by_role("button", name="Submit").click()
    ben_card = ben.locator(".poll-card").first
    expect(ben_card.locator("[data-part=status]")).to_have_text(
        "Your table's answer: 7 of 10 (set by Ann Okafor) ✓ saved"
    )
    expect(ben_card.get_by_label("7 of 10")).to_be_checked()
    ben_card.get_by_label("9 of 10").check(force=True)
    ben_card.get_by_role("button", name="Change my answer").click()
    expect(ann_card.locator("[data-part=status]")).to_have_text(
        "Your table's answer: 9 of 10 (set by Ben Carter) ✓ saved"
    )
    expect(ann_card.get_by_label("9 of 10")).to_be_checked()
    live_card = panel.locator(".poll-live").first
    expect(live_card.locator("[data-part=responses]")).to_have_text("1")
    expect(live_card.locator(".poll-table", has_text="Table 1")).to_contain_text("9 of 10")
    expect(live_card.locator(".poll-table", has_text="Table 2")).to_contain_text("no answer yet")
    teacher.wait_for_timeout(400)
    teacher.screenshot(path=output_dir / "console-table-answers.png", full_page=True)
    ann.screenshot(path=output_dir / "learner-table-answer.png", full_page=True)
    assert PollResponse.objects.count() == 1
    assert errors == []
    for context in contexts:
        context.close()
