"""One DRF exception handler: every error leaves the API as
`{"error": {"code", "message", "details"?}}` with a 4xx status, or 503
`server_busy` when the database cannot serve (core/dbfailure.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.dbfailure import database_unavailable, server_busy
from core.errors import ApplicationError, ServerBusyError

logger = logging.getLogger(__name__)


def _drf_code(error: drf_exceptions.APIException) -> str:
    if isinstance(error, drf_exceptions.ValidationError):
        return "invalid"
    codes = error.get_codes()
    return codes if isinstance(codes, str) else error.default_code


def application_error_response(error: ApplicationError) -> Response:
    response = Response({"error": error.as_dict()}, status=error.status_code)
    if isinstance(error, ServerBusyError):
        response["Retry-After"] = str(error.retry_after_seconds)
    return response


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if database_unavailable(error):
        return application_error_response(server_busy(error))
    if isinstance(error, ApplicationError):
        return application_error_response(error)
    if isinstance(error, RequestDataTooBig):  # Django's limit, met while parsing
        body = {"code": "request_too_large", "message": "The request body is too large."}
        return Response({"error": body}, status=413)
    if isinstance(error, (TooManyFieldsSent, TooManyFilesSent)):
        body = {"code": "parse_error", "message": "The request has too many fields or files."}
        return Response({"error": body}, status=400)
    if isinstance(error, DjangoValidationError):
        details = (
            error.message_dict
            if hasattr(error, "error_dict")
            else {"non_field_errors": error.messages}
        )
        error = drf_exceptions.ValidationError(details)
    elif isinstance(error, Http404):
        error = drf_exceptions.NotFound()
    elif isinstance(error, PermissionDenied):
        error = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(error, context)
    if response is None:
        return None  # an unexpected exception: a bug, let Django report it
    assert isinstance(error, drf_exceptions.APIException)  # noqa: S101 (narrowing)
    body: dict[str, Any] = {"code": _drf_code(error)}
    if isinstance(error, drf_exceptions.ValidationError):
        body["message"] = "The input is not valid."
        body["details"] = response.data
    else:
        body["message"] = str(error.detail)
    response.data = {"error": body}
    return response
