"""ASGI entry point: HTTP goes to Django, WebSockets through the session
authentication and Origin checks to the app routes."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models.
django_asgi_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402


def websocket_application(routes: list) -> AllowedHostsOriginValidator:
    """Wrap WebSocket routes: Origin must be an allowed host, then the Django
    session cookie authenticates `scope["user"]`."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes)))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_application,
        "websocket": websocket_application(websocket_urlpatterns),
    }
)
