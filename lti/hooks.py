"""What lti adds to the live room's pages (classroom/hooks.py)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from classroom import hooks
from lti import selectors


def course_page_links(*, course, is_staff: bool) -> list[dict]:
    """Staff of a course fed by an LMS reach its services page (roster sync,
    gradebook) from the course page."""
    if not is_staff:
        return []
    return [
        {
            "label": _("LMS roster and grades: %(title)s")
            % {"title": context.title or context.context_id},
            "url": reverse("lti-context-services", kwargs={"context_id": context.pk}),
        }
        for context in selectors.contexts_of_course(course=course)
    ]


def register() -> None:
    hooks.course_page_links.register(course_page_links)
