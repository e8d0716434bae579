"""WebSocket routes of every app, collected in one list for config/asgi.py."""

from __future__ import annotations

websocket_urlpatterns: list = []
