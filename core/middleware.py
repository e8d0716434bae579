from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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


def reads_own_body(view):
    """Mark a view that reads its request body itself, after its own checks
    (who may send it, its type, its size): no middleware reads it first."""
    view.reads_own_body = True
    return view


def _reads_own_body(view_func) -> bool:
    # A DRF view: the class carries the mark (as_view() copies no attributes).
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return bool(
        getattr(view_func, "reads_own_body", False) or getattr(view_class, "reads_own_body", False)
    )


class FormTextMiddleware:
    """A page form whose fields hold a NUL character is refused with a 400
    page before any view runs. No text column can store NUL (PostgreSQL
    refuses it), and Django's form fields refuse it, but views that read
    request.POST directly would store it or fail with a 500. (The REST API's
    JSON parser refuses it too: core/api/parsers.py.) Views marked with
    `reads_own_body` (uploads) are left alone: they refuse a body before
    reading it when the sender may not upload, and a form body is not an
    upload."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.content_type not in FORM_TYPES:
            return None
        if _reads_own_body(view_func):
            return None
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
        return None


# The code of an error Django (not the API's exception handler) answered.
ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
}
ERROR_MESSAGES = {
    400: gettext_lazy("The request could not be understood."),
    403: gettext_lazy("You are not allowed to do this."),
    404: gettext_lazy("Not found."),
    405: gettext_lazy("This method is not allowed here."),
    413: gettext_lazy("The request body is too large."),
    500: gettext_lazy("Something went wrong on our side."),
}
# Headers an error keeps when its body is replaced.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def api_error_response(status: int, message: str | None = None, code: str | None = None):
    if message is None:
        message = str(ERROR_MESSAGES.get(status) or HTTPStatus(status).phrase + ".")
    code = code or ERROR_CODES.get(status) or "error"
    return JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class ApiErrorMiddleware:
    """Every /api/ error leaves in the API's JSON shape, including the ones
    Django answers itself before or around a view (an unknown path, a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE, a CSRF failure, a debug page): pages
    keep their HTML. Outermost, so it sees every response.

    A non-multipart body whose declared length passes Django's limit is a 413
    before anything reads it (Django would raise RequestDataTooBig on the
    first read); uploads (multipart) have their own limit while reading."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _is_api(request):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            limit is not None
            and request.content_type != "multipart/form-data"
            and declared_length(request) > limit
        ):
            return api_error_response(413)
        response = self.get_response(request)
        if response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replaced = api_error_response(response.status_code)
        for header in KEPT_HEADERS:
            if header in response:
                replaced[header] = response[header]
        return replaced
