from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_demo_instructor_logs_in_and_sees_the_course_and_sessions(browser, live_server, output_dir):
    call_command("seed_demo")
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.screenshot(path=output_dir / "login.png", full_page=True)
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill("roundtable-demo")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(f"{live_server.url}/")
    card = page.get_by_role("article", name="Introduction to Cell Biology")
    assert card.is_visible()
    assert card.get_by_text("Week 2: Membranes and transport").is_visible()
    assert card.get_by_text("Week 1: What is a cell?").is_visible()
    assert card.get_by_text("Instructor", exact=True).is_visible()
    page.screenshot(path=output_dir / "home.png", full_page=True)

    page.get_by_role("link", name="Introduction to Cell Biology").click()
    page.get_by_role("heading", name="Schedule a session").wait_for()
    assert page.get_by_text("Amara Okafor").is_visible()
    page.screenshot(path=output_dir / "course.png", full_page=True)

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=context.storage_state()
    )
    phone_page = phone.new_page()
    phone_page.goto(f"{live_server.url}/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page overflows a phone screen ({width}px)"
    phone_page.screenshot(path=output_dir / "home-phone.png", full_page=True)
    phone.close()
    context.close()


def test_wrong_password_shows_an_error(browser, live_server, output_dir):
    call_command("seed_demo")
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert (
        page.get_by_role("alert").inner_text().startswith("Your username and password didn't match")
    )
    page.screenshot(path=output_dir / "login-error.png")
    page.close()
