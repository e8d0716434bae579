"""The ApplicationError family: every expected failure of a service.

Each error carries a stable snake_case `code` (clients switch on it, the docs
list it), a human message (translated), and the HTTP status it maps to. The
same error becomes a JSON 4xx in the API (core.api.exception_handler), an
`error` frame on a WebSocket, or a message on a page.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status_code = 400
    default_code = "bad_request"
    default_message = _("The request could not be processed.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = str(message if message is not None else self.default_message)
        self.code = code or self.default_code
        self.details = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            payload["details"] = self.details
        return payload


class ValidationError(ApplicationError):
    status_code = 400
    default_code = "invalid"
    default_message = _("The input is not valid.")


class NotAuthenticatedError(ApplicationError):
    status_code = 401
    default_code = "not_authenticated"
    default_message = _("Log in to continue.")


class PermissionDeniedError(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_message = _("You are not allowed to do this.")


class NotFoundError(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_message = _("Not found.")


class ConflictError(ApplicationError):
    status_code = 409
    default_code = "conflict"
    default_message = _("This conflicts with the current state.")


class RateLimitedError(ApplicationError):
    status_code = 429
    default_code = "rate_limited"
    default_message = _("Too many requests. Slow down and try again.")


# The close code after a `server_busy` error frame, when a socket cannot be
# set up now: 4000 + the HTTP status, like 4403 and 4404. (The registry's 1013
# "Try Again Later" would say the same, but Daphne's WebSocket library lets a
# server close with 1000 or 3000-4999 only.)
CLOSE_TRY_AGAIN = 4503


def close_code_for(error: ApplicationError, *, forbidden: int, not_found: int) -> int:
    """The close code after a refused connection's error frame."""
    if error.status_code == 503:
        return CLOSE_TRY_AGAIN
    return forbidden if error.status_code in (401, 403) else not_found


class ServerBusyError(ApplicationError):
    """The database cannot serve now (restarting, unreachable, or every pooled
    connection in use): nothing was written, and the same request or frame may
    be sent again (core/dbfailure.py)."""

    status_code = 503
    default_code = "server_busy"
    default_message = _("The server is busy. Try again in a few seconds.")
    retry_after_seconds = 2
