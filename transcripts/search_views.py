"""The course's transcript search page: /courses/<id>/transcripts/search/?q=."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFoundError, PermissionDeniedError, ValidationError
from courses.access import access_course
from transcripts.search import (
    LIMIT_DEFAULT,
    OFFSET_MAX,
    QUERY_MAX_CHARS,
    course_transcript_search,
    query_clean,
    uses_full_text,
)


def _page_number(value: str | None) -> int:
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:
        return max(1, int(value))
    return 1


@login_required
@require_GET
def course_transcript_search_page(request: HttpRequest, course_id: int) -> HttpResponse:
    try:
        access = access_course(user=request.user, course_id=course_id)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error
    raw = request.GET.get("q")
    page_number = _page_number(request.GET.get("page"))
    context = {
        "course": access.course,
        "access": access,
        "q": (raw or "")[: QUERY_MAX_CHARS * 2],
        "max_chars": QUERY_MAX_CHARS,
        "full_text": uses_full_text(),
        "page": None,
        "error": "",
    }
    status = 200
    if raw is not None:
        try:
            query = query_clean(raw)
        except ValidationError as error:
            context["error"] = error.message
            status = 400
        else:
            offset = min(OFFSET_MAX, (page_number - 1) * LIMIT_DEFAULT)
            page = course_transcript_search(
                course=access.course, is_staff=access.is_staff, query=query, offset=offset
            )
            context["page"] = page
            context["page_number"] = page_number
            context["first"] = offset + 1
            context["last"] = offset + len(page.hits)
            context["has_previous"] = page_number > 1
            context["has_next"] = offset + len(page.hits) < page.count
    return render(request, "transcripts/search.html", context, status=status)
