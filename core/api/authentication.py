"""Session authentication whose CSRF check waits for the view.

DRF checks CSRF while authenticating, and Django's check reads the form body
(`csrfmiddlewaretoken`). A view that must refuse a body before reading it
(an upload a learner may not send) authenticates with this class and calls
`csrf_check(request)` once it has decided the body may be read."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class SessionAuthenticationCsrfLater(SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        request._request.csrf_check_pending = True


def csrf_check(request: Request) -> None:
    """Run the CSRF check postponed by SessionAuthenticationCsrfLater (a 403
    when it fails); nothing to do for a token-authenticated request."""
    if getattr(request._request, "csrf_check_pending", False):
        request._request.csrf_check_pending = False
        SessionAuthentication().enforce_csrf(request)
