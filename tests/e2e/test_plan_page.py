"""The "Prepare polls" page in Chromium: write questions into the course bank,
build the session plan (settings, order, removal), then launch a planned
question from the instructor console."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import BankQuestion, LiveSession, Poll, SessionPlanItem, SessionState
from tests.e2e.test_polls_live import DESKTOP, make_classroom, open_live, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def classroom():
    return make_classroom()


def test_staff_prepare_a_plan_and_launch_it_from_the_console(
    browser, asgi_server, classroom, output_dir
):
    session = classroom["session"]
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.SCHEDULED, started_at=None)
    errors: list[str] = []
    context, page = open_page(
        browser,
        asgi_server,
        classroom["teacher"],
        f"/courses/{session.course_id}/",
        DESKTOP,
        errors=errors,
    )
    page.screenshot(path=output_dir / "course-page.png", full_page=True)
    page.get_by_role("link", name=f"Prepare polls: {session.title}").click()
    page.wait_for_url(f"{asgi_server}/sessions/{session.pk}/plan/")
    expect(page.get_by_role("heading", name="Prepare polls")).to_be_visible()
    expect(page.locator("[data-ref=plan-empty]")).to_contain_text("No questions in the plan yet")
    expect(page.locator("[data-ref=bank-empty]")).to_contain_text("The question bank")
    form = page.locator(".poll-create-form")
    # Every type has its own fields
    for kind in ("single", "multiple", "true_false", "yes_no_abstain", "rating", "short_text"):
        form.get_by_label("Type").select_option(kind)
        form.screenshot(path=output_dir / f"editor-{kind}.png")

    # A numeric question goes to the bank
    form.get_by_label("Type").select_option("numeric")
    form.get_by_label("Question").fill("How many ATP does one glucose yield, roughly?")
    form.get_by_label("Correct value").fill("30")
    form.get_by_label("Tolerance (±)").fill("2")
    form.screenshot(path=output_dir / "editor-numeric.png")
    form.get_by_role("button", name="Save to bank", exact=True).click()
    bank = page.locator("[data-ref=bank-list]")
    expect(bank).to_contain_text("How many ATP does one glucose yield, roughly?")
    expect(bank).to_contain_text("Correct: 30 (± 2)")
    expect(form.get_by_label("Question")).to_have_value("")

    # A check of the form names the field
    form.get_by_label("Type").select_option("multiple")
    form.get_by_label("Question").fill("Which happen in the mitochondrion?")
    form.get_by_role("button", name="Save to bank", exact=True).click()
    expect(form.locator("[data-error-for=options]")).to_have_text("Every option needs a text.")

    # A multiple-answer quiz goes to the bank and the plan, with its settings
    form.get_by_label("Option A", exact=True).fill("Krebs cycle")
    form.get_by_label("Option B", exact=True).fill("Glycolysis")
    form.get_by_role("button", name="Add option").click()
    form.get_by_label("Option C", exact=True).fill("Electron transport chain")
    form.get_by_label("Option A is correct").check()
    form.get_by_label("Option C is correct").check()
    form.get_by_text("Launch settings").click()
    form.get_by_label("Who answers").select_option("per_table")
    form.get_by_label("Timer").select_option("60")
    form.get_by_role("button", name="Save and add to plan").click()
    plan = page.locator("[data-ref=plan-list]")
    expect(plan.locator(".plan-row")).to_have_count(1)
    expect(plan).to_contain_text("Which happen in the mitochondrion?")
    expect(plan).to_contain_text("Everyone, broken down by table · 1 min")
    expect(page.locator("[data-ref=plan-count]")).to_have_text("1")

    # The numeric question joins the plan from the bank, with a 30 s timer
    numeric = bank.locator(".bank-item", has_text="How many ATP")
    numeric.get_by_role(
        "button", name="Add to plan: How many ATP does one glucose yield, roughly?"
    ).click()
    numeric.get_by_label("Timer").select_option("30")
    numeric.get_by_label("Show live results to learners").check()
    numeric.get_by_role("button", name="Add", exact=True).click()
    expect(plan.locator(".plan-row")).to_have_count(2)
    expect(numeric.locator(".badge")).to_have_text("in the plan")
    expect(plan.locator(".plan-row").nth(1)).to_contain_text("30 s · Live results")

    # Reorder: the numeric question first; the focus stays on it
    plan.get_by_role(
        "button", name="Move up: How many ATP does one glucose yield, roughly?"
    ).click()
    expect(plan.locator(".plan-row").first).to_contain_text("How many ATP")
    expect(
        plan.get_by_role("button", name="Move down: How many ATP does one glucose yield, roughly?")
    ).to_be_focused()
    page.screenshot(path=output_dir / "plan-page.png", full_page=True)
    items = list(SessionPlanItem.objects.filter(session=session).order_by("position"))
    assert [item.question.kind for item in items] == ["numeric", "multiple"]
    assert items[0].settings["timer_seconds"] == 30 and items[0].settings["show_live_results"]
    assert items[1].settings["scope"] == "per_table" and items[1].settings["timer_seconds"] == 60
    assert BankQuestion.objects.get(kind="multiple").definition["correct"] == ["a", "c"]

    # Remove and add back: it goes to the end
    plan.get_by_role(
        "button", name="Remove from the plan: Which happen in the mitochondrion?"
    ).click()
    expect(plan.locator(".plan-row")).to_have_count(1)
    bank.get_by_role("button", name="Add to plan: Which happen in the mitochondrion?").click()
    bank.get_by_role("button", name="Add", exact=True).click()
    expect(plan.locator(".plan-row")).to_have_count(2)
    expect(plan.locator(".plan-row").nth(1)).to_contain_text("Whole class · no timer")

    # In the console, the plan is one click away once the session is live
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.LIVE, started_at=timezone.now()
    )
    learner_context, ann = open_live(browser, asgi_server, classroom["ann"], session, errors=errors)
    console_context, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, errors=errors
    )
    planned = teacher.locator("[data-ref=poll-plan-list] .plan-item")
    expect(planned).to_have_count(2)
    expect(planned.first).to_contain_text("How many ATP")
    expect(planned.first).to_contain_text("Numeric answer · Whole class · 30 s · Live results")
    planned.first.get_by_role(
        "button", name="Launch: How many ATP does one glucose yield, roughly?"
    ).click()
    live_card = teacher.locator(".poll-live").first
    expect(live_card).to_contain_text("How many ATP does one glucose yield, roughly?")
    expect(live_card.locator("[data-part=timer]")).to_be_visible()
    expect(live_card.locator("[data-part=correct]")).to_have_text("Correct answer: 30 (± 2)")
    expect(planned.first.locator(".badge")).to_have_text("launched")
    expect(planned.first.get_by_role("button")).to_have_text("Launch again")

    card = ann.locator(".poll-card").first
    expect(card).to_contain_text("How many ATP does one glucose yield, roughly?")
    expect(card.locator("[data-part=timer]")).to_be_visible()
    card.get_by_label("Your answer").fill("31")
    card.get_by_role("button", name="Submit").click()
    expect(card.locator("[data-part=status]")).to_have_text("Your answer: 31 ✓ saved")
    expect(live_card.locator("[data-part=responses]")).to_have_text("1")
    expect(live_card.locator(".poll-numbers")).to_contain_text("Mean31")
    expect(live_card.locator(".poll-bar--correct")).to_have_count(1)  # staff see it
    expect(card.locator(".poll-numbers")).to_contain_text("Mean31")  # live results
    for _ in range(3):  # however often the card is drawn, no bar is marked correct
        ann.wait_for_timeout(300)
        expect(card.locator(".poll-bar--correct")).to_have_count(0)
        expect(card.locator(".poll-numbers")).not_to_contain_text("Correct")

    # A second planned question while the first is open: both show, newest first
    planned.nth(1).get_by_role("button", name="Launch: Which happen in the mitochondrion?").click()
    expect(ann.locator(".poll-card")).to_have_count(2)
    newest = ann.locator(".poll-card").first
    expect(newest).to_contain_text("Choose all that apply.")
    newest.get_by_role("checkbox", name="Krebs cycle").check()
    newest.get_by_role("checkbox", name="Electron transport chain").check()
    newest.get_by_role("button", name="Submit").click()
    expect(newest.locator("[data-part=status]")).to_have_text(
        "Your answer: A. Krebs cycle, C. Electron transport chain ✓ saved"
    )
    expect(teacher.locator(".poll-live")).to_have_count(2)
    ann.screenshot(path=output_dir / "learner-two-polls.png", full_page=True)
    teacher.wait_for_timeout(400)  # let the bars finish growing
    teacher.screenshot(path=output_dir / "console-plan-launched.png", full_page=True)
    poll = Poll.objects.get(session=session, kind="numeric")
    assert poll.kind == "numeric" and poll.is_quiz and poll.show_live_results
    assert poll.closes_at is not None
    assert (poll.closes_at - poll.opened_at).total_seconds() == 30
    assert errors == []
    for each in (context, learner_context, console_context):
        each.close()
