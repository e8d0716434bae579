"""A platform admin imports a OneRoster bundle from the admin and reads the
result (screenshot in test-artifacts/)."""

from __future__ import annotations

import pytest

from courses.models import Course, Enrollment
from tests.e2e.axe import axe_violations
from tests.factories import PASSWORD, UserFactory
from tests.lti.oneroster_bundles import bundle_zip, full_bundle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_uploads_a_oneroster_bundle_and_sees_the_result(
    browser, live_server, output_dir, tmp_path
):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    bundle = tmp_path / "hillside.zip"
    bundle.write_bytes(bundle_zip(full_bundle()))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/courses/rosteridentity/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.get_by_role("link", name="Import a OneRoster bundle").click()
    page.get_by_role("heading", name="Import a OneRoster bundle").wait_for()
    assert axe_violations(page) == []  # WCAG 2.1 A/AA (docs/accessibility.md)

    page.set_input_files("#id_bundle", str(bundle))
    page.fill("#id_source", "hillside-sis")
    page.uncheck("#id_dry_run")
    page.get_by_role("button", name="Import").click()
    result = page.get_by_role("region", name="Result")
    result.wait_for()
    assert result.get_by_text("21 change(s) applied.").is_visible()
    assert result.get_by_text("enrollments.csv:7: skipped e-6").is_visible()
    row = result.get_by_role("row", name="enrollments")
    assert row.get_by_role("cell").nth(1).inner_text() == "6"  # created
    page.screenshot(path=output_dir / "oneroster_import.png", full_page=True)
    assert axe_violations(page) == []
    assert Course.objects.count() == 2
    assert Enrollment.objects.filter(is_active=True).count() == 6
    context.close()
