from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.dbfailure import database_unavailable, server_busy
from core.health import health_report
from core.middleware import server_busy_response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness in one: 200 when the database, the channel layer
    and the Celery broker are reachable, 503 naming what is not."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def _error_page(request: HttpRequest, status: int, template: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        codes = {403: "permission_denied", 404: "not_found", 500: "server_error"}
        return JsonResponse({"error": {"code": codes[status], "message": message}}, status=status)
    return render(request, template, {"message": message}, status=status)


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
