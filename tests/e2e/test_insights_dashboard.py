"""The insights pages in real Chromium against Daphne: an instructor opens the
course dashboard from the course page, filters it (the filter lands in the
address), drills into a learner, opens a chart's data table; a learner opens
her own progress page. axe-core checks each page for WCAG 2.1 A/AA problems;
screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.services import event_record
from classroom.models import Attendance, SessionState
from tests.e2e.axe import axe_violations
from tests.e2e.test_pages import log_in
from tests.factories import LiveSessionFactory
from tests.insights.semester import semester_build

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(150)]

PHONE = {"width": 390, "height": 844}


def _accessible(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_an_instructor_filters_the_dashboard_drills_into_a_learner_and_reads_a_chart_as_a_table(
    browser, asgi_server, output_dir
):
    semester = semester_build()
    course = semester.course
    errors: list[str] = []

    teacher = log_in(browser, asgi_server, semester.instructor, errors, f"/courses/{course.pk}/")
    teacher.get_by_role("link", name="Course dashboard").click()
    teacher.wait_for_url(f"{asgi_server}/courses/{course.pk}/insights/")
    matrix = teacher.locator("table.matrix")
    expect(matrix.locator("tbody tr")).to_have_count(6)
    # Dana stopped coming after week 1 and never caught up: at risk, with the reason.
    risk = teacher.locator("#at-risk")
    expect(risk).to_contain_text("Dana Novak")
    expect(risk).to_contain_text("Absent from two or more sessions and not caught up")
    # The chart is drawn (Chart.js from static/vendor) and its table is one click away.
    expect(teacher.locator("figure.chart--drawn canvas")).to_have_count(1)
    table = teacher.locator("#chart-trends-caption")
    expect(table).to_be_hidden()
    teacher.get_by_text("Show the data as a table").click()
    expect(table).to_be_visible()
    expect(teacher.locator("figure[data-chart=chart-trends] tbody tr")).to_have_count(4)
    teacher.screenshot(path=output_dir / "01-dashboard.png", full_page=True)
    _accessible(teacher, "dashboard")

    # Filter: only learners with an absence; the address carries it.
    teacher.get_by_label("Status", exact=True).select_option("absent")
    teacher.get_by_role("button", name="Apply").click()
    teacher.wait_for_url(re.compile(r".*status=absent.*"))
    expect(matrix.locator("tbody tr")).to_have_count(2)  # Dana, Femi
    expect(matrix).to_contain_text("Dana Novak")
    expect(matrix).not_to_contain_text("Amara Okafor")
    teacher.screenshot(path=output_dir / "02-dashboard-filtered.png", full_page=True)

    # Drill down: Dana's timeline of everything she did.
    matrix.get_by_role("link", name="Dana Novak").click()
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Dana Novak")
    expect(teacher.locator("#timeline")).to_contain_text("Joined the live session")
    teacher.get_by_label("Mode").select_option("playback")
    teacher.get_by_role("button", name="Apply").click()
    teacher.wait_for_url(re.compile(r".*mode=playback.*"))
    expect(teacher.locator("#timeline")).to_contain_text("Nothing matches these filters.")
    teacher.screenshot(path=output_dir / "03-learner.png", full_page=True)
    _accessible(teacher, "learner drill-down")

    # A session report from the matrix's column heading.
    teacher.goto(f"{asgi_server}/courses/{course.pk}/insights/")
    teacher.get_by_role("link", name=f"Report: {semester.sessions[0].title}").click()
    expect(teacher.get_by_role("heading", level=1)).to_have_text(semester.sessions[0].title)
    expect(teacher.locator("ul.presence li")).to_have_count(6)
    teacher.screenshot(path=output_dir / "04-report.png", full_page=True)
    _accessible(teacher, "session report")

    # During a live session the console's panel names who has been silent.
    now = timezone.now()
    live = LiveSessionFactory(
        course=course,
        title="Week 6: Live",
        state=SessionState.LIVE,
        scheduled_start=now - timedelta(minutes=30),
        scheduled_end=now + timedelta(minutes=30),
        started_at=now - timedelta(minutes=30),
    )
    for index, user in enumerate(semester.learners.values()):
        Attendance.objects.create(
            session=live, user=user, connection=f"c{index}", joined_at=now - timedelta(minutes=20)
        )
    for user in list(semester.learners.values())[1:]:
        event_record(
            verb="raised_hand",
            object_type="live_session",
            object_id=live.pk,
            actor=user,
            course=course,
            live_session_id=live.pk,
            occurred_at=now - timedelta(minutes=2),
        )
    teacher.goto(f"{asgi_server}/sessions/{live.pk}/live/")
    panel = teacher.locator("[data-live-insights]")
    expect(panel.locator("[data-ref=silent]")).to_have_text("Amara Okafor", timeout=15_000)
    expect(panel).to_contain_text("6 learners here now.")

    # Amara, a learner, reaches her own progress from the course page.
    amara = log_in(
        browser, asgi_server, semester.learners["Amara Okafor"], errors, f"/courses/{course.pk}/"
    )
    amara.get_by_role("link", name="My progress").click()
    expect(amara.get_by_role("heading", level=1)).to_contain_text("My progress in")
    expect(amara.locator("figure.chart--drawn canvas")).to_have_count(1)
    body = amara.locator("main").inner_text()
    assert "Dana" not in body and "Ben Carter" not in body
    amara.screenshot(path=output_dir / "05-progress.png", full_page=True)
    _accessible(amara, "my progress")
    amara.set_viewport_size(PHONE)
    amara.screenshot(path=output_dir / "06-progress-phone.png", full_page=True)
    overflow = amara.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the progress page scrolls sideways on a phone by {overflow}px"
    assert errors == []
