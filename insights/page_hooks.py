"""What the insights pages add to the live room's pages (classroom/hooks.py):
the course page's links (dashboard for staff, "My progress" for learners), a
past session's report link, and the console's engagement-measures panel."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from classroom import hooks
from insights.pagedata import DOMINANCE_PERCENT, LIVE_PANEL_STRINGS, SILENT_WINDOW_MINUTES


def course_page_links(*, course, is_staff: bool) -> list[dict]:
    if is_staff:
        url = reverse("insights-course", kwargs={"course_id": course.pk})
        return [{"label": _("Course dashboard"), "url": url, "place": "head"}]
    url = reverse("insights-my-progress", kwargs={"course_id": course.pk})
    return [{"label": _("My progress"), "url": url, "place": "head"}]


def past_sessions_reports(*, sessions, is_staff: bool) -> None:
    """Staff reach the report of each past session that was held."""
    for session in sessions:
        session.report_url = (
            reverse("insights-session-report", kwargs={"session_id": session.pk})
            if is_staff and session.started_at is not None
            else None
        )


def live_page_context(*, access) -> dict:
    """The console (staff only) shows the session's measures as they accumulate."""
    if not access.is_staff:
        return {}
    session_id = access.session.pk
    return {
        "console_panels": [
            {
                "template": "insights/_live_panel.html",
                "url": reverse("api-insights-live", kwargs={"session_id": session_id}),
                "report_url": reverse("insights-session-report", kwargs={"session_id": session_id}),
                "window_minutes": SILENT_WINDOW_MINUTES,
                "dominance_percent": DOMINANCE_PERCENT,
                "strings": LIVE_PANEL_STRINGS,
            }
        ]
    }


def register() -> None:
    hooks.course_page_links.register(course_page_links)
    hooks.past_sessions_shown.register(past_sessions_reports)
    hooks.live_page_context.register(live_page_context)
