"""Reinforcement in Chromium: an instructor holds and edits the follow-up of
a session in which a learner answered two quiz questions wrong, then sends
it; the learner finds it in the bell and in an email (Django's outbox, sent
by the notifications sender), reviews both cards with the keyboard and sees
when each comes back. Screenshots of every reinforcement page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import LiveSession, SessionState
from classroom.services.sessions import live_session_end
from courses.models import Role
from notifications.services.preferences import preferences_update
from notifications.services.sending import deliveries_send
from reinforcement.models import FollowUpPlan, PlanStatus, ReviewCard
from reinforcement.tasks import plan_send
from tests.e2e.test_polls_live import DESKTOP, PHONE, open_page
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory
from tests.reinforcement.conftest import quiz_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(150)]


@pytest.mark.usefixtures("tasks_run_in_process")
def test_followup_held_edited_sent_then_reviewed(browser, asgi_server, output_dir):
    course = CourseFactory(title="Principles of Economics", code="ECON-101")
    teacher = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Lee"
    ).user
    ann, ben, cleo = (
        EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        for name in ("Ann Okafor", "Ben Carter", "Cleo Diaz")
    )
    preferences_update(user=ann, quiet_hours={"enabled": False})
    session, _polls = quiz_session(
        course,
        [ann, ben, cleo],
        answers={(ann, 0): False, (ann, 1): False, (ben, 0): True, (ben, 1): True, (cleo, 0): True},
        title="Week 4: Supply and demand",
        started=timezone.now() - timedelta(minutes=60),
    )
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE, ended_at=None)
    LiveSessionFactory(
        course=course,
        title="Week 5: Elasticity",
        scheduled_start=timezone.now() + timedelta(days=3),
    )
    live_session_end(session_id=session.pk, actor=teacher)  # the hook plans it (held for 1 h)
    assert FollowUpPlan.objects.get(session=session).status == PlanStatus.HELD

    # The instructor holds the plan, words the message, and sends it.
    context, page = open_page(browser, asgi_server, teacher, f"/courses/{course.pk}/", DESKTOP)
    page.get_by_role("link", name="Reinforcement", exact=True).click()
    page.get_by_role("link", name="Week 4: Supply and demand").click()
    expect(
        page.get_by_role("heading", name="Follow-up of “Week 4: Supply and demand”")
    ).to_be_visible()
    expect(page.locator("[data-plan-status]")).to_contain_text("In the hold window")
    page.screenshot(path=output_dir / "plan-held-window.png", full_page=True)
    page.get_by_role("button", name="Hold").click()
    expect(page.locator("[data-plan-status]")).to_contain_text("Held by staff")
    page.get_by_label("Shown above each learner's follow-up and in the notification").fill(
        "Both questions come back in chapter 4 — read it before Thursday."
    )
    page.get_by_role("button", name="Save message").click()
    expect(page.get_by_text("Message saved.")).to_be_visible()
    page.get_by_text("Ann Okafor").click()
    page.screenshot(path=output_dir / "plan-edited.png", full_page=True)
    page.get_by_role("button", name="Send now").click()
    expect(
        page.get_by_text("Sending the follow-up").or_(page.get_by_text("Follow-up sent."))
    ).to_be_visible()
    plan_send.apply(args=[FollowUpPlan.objects.get(session=session).pk])  # the worker's part
    page.reload()
    expect(page.locator("[data-plan-status]")).to_contain_text("Sent")
    context.close()

    # The email goes out through the notifications sender.
    deliveries_send()
    emails = [message for message in mail.outbox if ann.email in message.to]
    assert len(emails) == 1
    assert "Week 4: Supply and demand" in emails[0].subject
    assert "You answered 2 of 2 quiz questions wrong" in emails[0].body
    link = next(
        url
        for url in re.findall(r"https?://\S+", emails[0].body)
        if "/notifications/" in url and "unsubscribe" not in url and "preferences" not in url
    )

    # The learner: the bell, the email's link, both cards reviewed by keyboard.
    errors: list[str] = []
    context, page = open_page(browser, asgi_server, ann, "/", PHONE, errors=errors)
    expect(page.locator("[data-bell-badge]")).to_be_visible()
    page.locator("[data-bell-link]").click()
    expect(page.get_by_text("Your follow-up for “Week 4: Supply and demand”").first).to_be_visible()
    page.screenshot(path=output_dir / "bell-list-phone.png", full_page=True)
    page.goto(re.sub(r"^https?://[^/]+", asgi_server, link))
    page.wait_for_url(f"{asgi_server}/courses/{course.pk}/followups/")
    expect(page.get_by_role("heading", name="My follow-up")).to_be_visible()
    expect(page.get_by_text("Both questions come back in chapter 4")).to_be_visible()
    page.screenshot(path=output_dir / "followups-phone.png", full_page=True)
    page.get_by_role("link", name="Review questions").first.click()
    expect(page.get_by_text("Today: 0 of 2 reviewed")).to_be_visible()
    page.screenshot(path=output_dir / "review-question-phone.png", full_page=True)
    for number in (1, 2):
        expect(page.locator(".review-option input").first).to_be_focused()  # focus on the answer
        # Alpha (right): Space on the focused option, or its number key.
        page.keyboard.press("Space" if number == 1 else "1")
        expect(page.locator(".review-option input").first).to_be_checked()
        page.get_by_role("button", name="Check answer").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Right!")).to_be_visible()
        expect(page.locator("[data-next-due]")).to_contain_text("This card comes back in")
        expect(page.get_by_text(f"Today: {number} of 2 reviewed")).to_be_visible()
        page.screenshot(path=output_dir / f"review-feedback-{number}-phone.png", full_page=True)
        page.get_by_role("link", name="Next card").click()
    expect(page.get_by_role("heading", name="All caught up")).to_be_visible()
    expect(page.get_by_text("Your next card is due in")).to_be_visible()
    page.screenshot(path=output_dir / "review-empty-phone.png", full_page=True)
    # A whole session on demand: practice, not counted as a scheduled review.
    page.get_by_role("link", name="Week 4: Supply and demand").click()
    expect(page.get_by_text("Question 1 of 2").first).to_be_visible()
    page.get_by_label("Beta").check()
    page.get_by_role("button", name="Check answer").click()
    expect(page.get_by_role("heading", name="Not quite.")).to_be_visible()
    page.screenshot(path=output_dir / "practice-feedback-phone.png", full_page=True)
    context.close()
    assert errors == []

    now = timezone.now()
    cards = list(ReviewCard.objects.filter(user=ann))
    assert len(cards) == 2
    assert all(
        card.due > now and card.answers.filter(source="scheduled").count() == 1 for card in cards
    )

    # Staff see who reviewed and who has not.
    context, page = open_page(
        browser, asgi_server, teacher, f"/courses/{course.pk}/reinforcement/", DESKTOP
    )
    expect(page.get_by_role("heading", name="Most-missed questions")).to_be_visible()
    page.screenshot(path=output_dir / "staff-course.png", full_page=True)
    context.close()
