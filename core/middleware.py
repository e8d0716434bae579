from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core.dbfailure import database_unavailable, server_busy
from core.errors import ServerBusyError


def server_busy_response(request: HttpRequest, error: ServerBusyError) -> HttpResponse:
    """503 with Retry-After: the API's error shape, or a page. The page is
    rendered without the request: its context processors would read the user
    and the messages, from the database that just failed."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"error": error.as_dict()}, status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"message": error.message}), status=503
        )
    response["Retry-After"] = str(error.retry_after_seconds)
    return response


class DatabaseUnavailableMiddleware:
    """A database that cannot serve answers 503 `server_busy`, never 500
    (core/dbfailure.py). Placed after the authentication middleware: it loads
    the session and the user itself, where a failure can still be answered
    (a failure inside a later middleware would already be a 500 response when
    it got here), and catches what views raise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        try:
            if user is not None:
                user.is_authenticated  # noqa: B018 (loads the session and the user)
        except Exception as error:
            if not database_unavailable(error):
                raise
            return server_busy_response(request, server_busy(error))
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            return server_busy_response(request, server_busy(exception))
        return None


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
