"""A past session's chat as a read-only page (linked from the course page)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from classroom.access import access_live_session
from classroom.selectors import session_transcript_get
from core.errors import NotFoundError, PermissionDeniedError


@login_required
@require_GET
def session_chat(request: HttpRequest, session_id: int) -> HttpResponse:
    """Members of the course only (others get 404, as for every session page)."""
    try:
        access = access_live_session(user=request.user, session_id=session_id)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error
    return render(
        request,
        "classroom/chat_transcript.html",
        {
            "session": access.session,
            "course": access.session.course,
            "is_staff": access.is_staff,
            "channels": session_transcript_get(access=access),
        },
    )
