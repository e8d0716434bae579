"""Pages of a session that began with an LTI launch live in an LMS iframe.

For those sessions only: `Content-Security-Policy: frame-ancestors` lists the
registered platforms' origins (instead of X-Frame-Options: DENY), and the
session and CSRF cookies are sent `SameSite=None; Secure; Partitioned` so the
browser keeps them inside the LMS's frame (CHIPS). Every other response is
untouched. docs/lms.md explains the choice.
"""

from __future__ import annotations

from django.conf import settings

from core.dbfailure import database_unavailable, server_busy
from core.middleware import server_busy_response

EMBED_SESSION_KEY = "lti_frame_origins"


class LtiFrameMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if (
            session is None
            or settings.SESSION_COOKIE_NAME not in request.COOKIES
            and settings.SESSION_COOKIE_NAME not in response.cookies
        ):
            return response
        try:
            origins = session.get(EMBED_SESSION_KEY)
        except Exception as error:
            # Outside DatabaseUnavailableMiddleware (it must see the cookies
            # SessionMiddleware sets): a database that cannot load the
            # session is a 503 here too, never a 500.
            if not database_unavailable(error):
                raise
            return server_busy_response(request, server_busy(error))
        if not origins:
            return response
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(origins)
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            morsel = response.cookies.get(name)
            if morsel is not None and morsel.value and morsel["max-age"] != 0:
                morsel["secure"] = True
                morsel["samesite"] = "None; Partitioned"
        return response
