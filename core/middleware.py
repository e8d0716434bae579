from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _


class UserTimezoneMiddleware:
    """Times are stored in UTC and shown in the viewer's own time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


# Multipart bodies are left to their views: reading them here would run the
# upload before a view can install its size-limited upload handler.
FORM_TYPES = ("application/x-www-form-urlencoded",)


class FormTextMiddleware:
    """A page form whose fields hold a NUL character is refused with a 400
    page before any view runs. No text column can store NUL (PostgreSQL
    refuses it), and Django's form fields refuse it, but views that read
    request.POST directly would store it or fail with a 500. (The REST API's
    JSON parser refuses it too: core/api/parsers.py.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type in FORM_TYPES:
            for key, values in request.POST.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    message = _("A field holds a NUL character, which cannot be stored.")
                    if request.path.startswith("/api/"):  # the API's error shape
                        return JsonResponse(
                            {"error": {"code": "parse_error", "message": message}}, status=400
                        )
                    return HttpResponseBadRequest(
                        render_to_string("400.html", {"message": message}, request=request)
                    )
        return self.get_response(request)
