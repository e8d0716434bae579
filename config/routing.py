"""WebSocket routes of every app, collected in one list for config/asgi.py."""

from __future__ import annotations

from classroom.routing import websocket_urlpatterns as classroom_routes
from livemedia.routing import websocket_urlpatterns as media_routes
from notifications.routing import websocket_urlpatterns as notification_routes
from playback.routing import websocket_urlpatterns as playback_routes

websocket_urlpatterns: list = [
    *classroom_routes,
    *media_routes,
    *playback_routes,
    *notification_routes,
]
