"""The recap page of a live session: read (learners once published), edit and
publish (staff). Parse → access → service or selector → template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from courses.access import CourseAction
from recaps import services
from recaps.access import RecapNotPublishedError, access_recap, access_recap_edit


def _clock(ms) -> str:
    if ms is None:
        return ""
    seconds = max(0, int(ms)) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _with_clocks(items: list[dict], *keys: str) -> list[dict]:
    return [{**item, **{f"{key}_clock": _clock(item.get(key)) for key in keys}} for item in items]


def _recap_context(recap) -> dict:
    content = recap.content or {}
    return {
        "points": _with_clocks(recap.points, "start_ms"),
        "chapters": _with_clocks(content.get("chapters", []), "offset_ms"),
        "polls": _with_clocks(content.get("polls", []), "offset_ms"),
        "questions": _with_clocks(content.get("questions", []), "offset_ms", "answer_offset_ms"),
        "announcements": _with_clocks(content.get("announcements", []), "offset_ms"),
        "chat_peaks": _with_clocks(content.get("chat_peaks", []), "start_ms", "end_ms"),
        "has_recording": content.get("has_recording", False),
        "recording_id": content.get("recording_id"),
    }


def _point_url(recap, start_ms) -> str:
    return services.moment_url(recap.recording_id, start_ms)


@login_required
@require_GET
def recap_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_recap(user=request.user, session_id=session_id)
    except RecapNotPublishedError as error:
        return _not_published(request, session_id, error)
    except NotFoundError as error:
        raise Http404(error.message) from error
    session, recap = access.session, access.recap
    context = {
        "session": session,
        "course": session.course,
        "access": access,
        "recap": recap,
        "editing": access.is_staff and request.GET.get("edit") == "1" and recap is not None,
    }
    if recap is not None:
        context.update(_recap_context(recap))
        for point in context["points"]:
            point["url"] = _point_url(recap, point.get("start_ms"))
    return render(request, "recaps/recap.html", context)


def _not_published(request, session_id: int, error) -> HttpResponse:
    from classroom.models import LiveSession

    session = LiveSession.objects.select_related("course").get(pk=session_id)
    return render(
        request,
        "recaps/not_published.html",
        {"session": session, "course": session.course, "message": error.message},
        status=403,
    )


class _Refused(Exception):
    def __init__(self, response):
        self.response = response


def _edit_access(request, session_id):
    """Staff's access to an existing recap; outsiders 404, learners a 403 page."""
    try:
        return access_recap_edit(user=request.user, session_id=session_id)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except PermissionDeniedError as error:
        raise _Refused(
            render(
                request, "403.html", {"message": _("Only staff can change a recap.")}, status=403
            )
        ) from error


def _staff_only(view):
    """Turns a refusal of _edit_access into its 403 page."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _Refused as refused:
            return refused.response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _points_from_post(post, recap) -> list[dict]:
    """The edit form: one text per existing point (`point:<id>`), a remove
    box per point (`remove:<id>`), and a new point (`new_text`, `new_time`)."""
    from playback.views import parse_clock

    points = []
    for point in recap.points:
        key = point["id"]
        if post.get(f"remove:{key}") == "on":
            continue
        points.append({**point, "text": post.get(f"point:{key}", point["text"])})
    new_text = post.get("new_text", "").strip()
    if new_text:
        try:
            start = parse_clock(post.get("new_time", ""))
        except ValueError:
            raise ApplicationError(
                _("Write the time as 1:23, 1:02:03 or a number of seconds."),
                code="invalid",
                details={"new_time": "a time"},
            ) from None
        points.append({"text": new_text, "start_ms": start})
    return points


@login_required
@require_POST
@_staff_only
def recap_edit(request: HttpRequest, session_id: int) -> HttpResponse:
    access = _edit_access(request, session_id)
    recap = access.recap
    action = request.POST.get("action", "save")
    try:
        if action == "reset":
            services.recap_points_reset(recap_id=recap.pk, actor=request.user)
            messages.success(request, _("The key points are the summariser's again."))
        else:
            version = request.POST.get("version", "")
            services.recap_edit(
                recap_id=recap.pk,
                actor=request.user,
                points=_points_from_post(request.POST, recap),
                note=request.POST.get("note", ""),
                version=int(version) if version.isascii() and version.isdigit() else None,
            )
            messages.success(request, _("Recap saved."))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('recap-detail', args=[session_id])}?edit=1")
    return redirect("recap-detail", session_id=session_id)


@login_required
@require_POST
@_staff_only
def recap_publish(request: HttpRequest, session_id: int) -> HttpResponse:
    access = _edit_access(request, session_id)
    publish = request.POST.get("publish") != "0"
    services.recap_publish(recap_id=access.recap.pk, actor=request.user, publish=publish)
    messages.success(
        request,
        _("The recap is published: learners can read it.")
        if publish
        else _("The recap is a draft again: learners no longer see it."),
    )
    return redirect("recap-detail", session_id=session_id)


@login_required
@require_POST
def recap_rebuild(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_recap(user=request.user, session_id=session_id, action=CourseAction.TEACH)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except PermissionDeniedError:
        return render(
            request, "403.html", {"message": _("Only staff can change a recap.")}, status=403
        )
    services.recap_build_on_commit(access.session.pk)
    messages.success(request, _("The recap is being rebuilt from the session."))
    return redirect("recap-detail", session_id=session_id)
