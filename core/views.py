from __future__ import annotations

import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.dbfailure import database_unavailable, server_busy
from core.health import health_report
from core.middleware import api_error_response, server_busy_response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness in one: 200 when the database, the channel layer
    and the Celery broker are reachable, 503 naming what is not."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def _error_page(request: HttpRequest, status: int, template: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_error_response(status, message)
    return render(request, template, {"message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation while reading the request). A body
    over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, said plainly."""
    if isinstance(exception, RequestDataTooBig):
        message = str(_("The request body is too large."))
        return _error_page(request, 413, "400.html", message)
    return _error_page(request, 400, "400.html", str(_("The request could not be understood.")))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, "403.html", str(_("You are not allowed to see this page.")))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, "404.html", str(_("This page does not exist.")))


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except` block: a database failure in a
    # middleware's response phase (core.middleware.DatabaseUnavailableMiddleware
    # covers the rest) is still a 503, not a bug.
    error = sys.exc_info()[1]
    if error is not None and database_unavailable(error):
        return server_busy_response(request, server_busy(error))
    return _error_page(request, 500, "500.html", str(_("Something went wrong on our side.")))
