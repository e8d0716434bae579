"""Notifications in Chromium: a learner sees the bell's badge (and it
updates live), opens the notifications page, follows one (the open is
recorded), and changes a preference; the header, both pages and the phone
layout are screenshotted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from analytics.models import LearningEvent
from notifications.kinds import KIND_SYSTEM
from notifications.models import NotificationPreference
from notifications.services import notification_create
from tests.conftest import require_redis
from tests.e2e.test_polls_live import PHONE, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def notify(user, key: str, title: str, body: str, url: str):
    return notification_create(
        user=user, kind=KIND_SYSTEM, key=key, title=title, body=body, url=url
    )


def test_a_learner_follows_a_notification_and_changes_a_preference(
    browser, asgi_server, course, learner, output_dir
):
    require_redis()  # the test process and Daphne share frames through Redis
    notify(learner, "welcome", "Welcome to Roundtable", "Your courses are on the home page.", "/")
    followup = notify(
        learner,
        "followup.1",
        "2 quiz questions to review",
        "You answered 2 of 5 quiz questions on supply curves wrong.",
        f"/courses/{course.pk}/",
    )
    errors: list[str] = []
    context, page = open_page(browser, asgi_server, learner, "/", errors=errors)
    bell = page.get_by_role("link", name="Notifications, 2 unread")
    expect(bell).to_be_visible()
    expect(page.locator("[data-bell-badge]")).to_have_text("2")
    expect(page.locator(".bell")).to_have_attribute("data-status", "open")

    # A new one arrives while the page is open: the badge follows, politely announced.
    notify(learner, "nudge.1", "Say something next time", "A question counts too.", "/")
    expect(page.locator("[data-bell-badge]")).to_have_text("3")
    expect(page.locator("[data-bell-live]")).to_have_text(
        "New notification: Say something next time"
    )
    expect(page.get_by_role("link", name="Notifications, 3 unread")).to_be_visible()
    page.locator(".topbar").screenshot(path=output_dir / "header-bell.png")

    # Keyboard: the bell is a link reached with Tab and followed with Enter.
    page.locator("[data-bell-link]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{asgi_server}/notifications/")
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    expect(page.locator(".notif--unread")).to_have_count(3)
    page.screenshot(path=output_dir / "notifications-page.png", full_page=True)

    page.get_by_role("link", name="Unread: 2 quiz questions to review").click()
    page.wait_for_url(f"{asgi_server}/courses/{course.pk}/")
    opened = LearningEvent.objects.get(verb="opened_notification")
    assert (opened.object_id, opened.extensions["via"]) == (str(followup.pk), "in_app")
    expect(page.locator("[data-bell-badge]")).to_have_text("2")

    page.goto(f"{asgi_server}/notifications/preferences/")
    expect(page.get_by_text(f"Times are in your time zone, {learner.time_zone}.")).to_be_visible()
    page.get_by_label("Announcements from Roundtable: Email").select_option("daily")
    page.get_by_label("Quiet from").fill("22:30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Notification settings saved.")).to_be_visible()
    expect(page.get_by_label("Announcements from Roundtable: Email")).to_have_value("daily")
    page.screenshot(path=output_dir / "preferences-page.png", full_page=True)
    stored = NotificationPreference.objects.get(user=learner, kind=KIND_SYSTEM, channel="email")
    assert stored.frequency == "daily"

    # The same pages on a phone.
    page.set_viewport_size(PHONE)
    page.screenshot(path=output_dir / "preferences-phone.png", full_page=True)
    page.goto(f"{asgi_server}/notifications/")
    page.screenshot(path=output_dir / "notifications-phone.png", full_page=True)
    assert errors == []
    context.close()
