"""ASGI entry point: HTTP goes to Django, WebSockets through the session
authentication and Origin checks to the app routes."""

from __future__ import annotations

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models.
django_asgi_application = get_asgi_application()

from django.conf import settings  # noqa: E402

# Database calls run in worker threads (core/asyncdb.py). Each statement gives
# up the GIL while it waits for PostgreSQL and must win it back from the event
# loop, which holds it for up to the switch interval: 1 ms instead of
# Python's 5 ms cuts a staff action's wait behind a busy fan-out
# (docs/performance.md).
sys.setswitchinterval(settings.GIL_SWITCH_US / 1_000_000)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.wsauth import SessionAuthMiddleware  # noqa: E402
from core.wsorigin import OriginCheck  # noqa: E402


def websocket_application(routes: list) -> OriginCheck:
    """Wrap WebSocket routes: Origin must be this site's own page (scheme,
    host and port) or a trusted origin (core/wsorigin.py), then the Django
    session cookie authenticates `scope["user"]`."""
    return OriginCheck(SessionAuthMiddleware(URLRouter(routes)))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_application,
        "websocket": websocket_application(websocket_urlpatterns),
    }
)

# Garbage collection: a full collection scans every live object, and a web
# process holding 1,000 sockets has ~280,000 of them: measured 150-220 ms
# pauses, during which no frame goes out (docs/performance.md). What was
# imported at start-up (Django, the apps) lives as long as the process: move
# it out of the collector's reach, and collect the oldest generation far less
# often. Objects freed by reference counting (nearly all of a frame's) are
# unaffected; only reference cycles wait longer.
gc.collect()
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)


def _gc_pauses_log(threshold_ms: float) -> None:
    """Log every collection that stops the process for `threshold_ms` or
    more (ROUNDTABLE_GC_LOG_MS; off by default): how the benchmarks tell a
    collector pause from other stalls of the event loop."""
    import logging
    import time

    logger = logging.getLogger("roundtable.gc")
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        paused_ms = (time.perf_counter() - started[0]) * 1000
        if paused_ms >= threshold_ms:
            logger.warning(
                "gc pause %.1f ms (generation %d, %d collected)",
                paused_ms,
                info["generation"],
                info["collected"],
            )

    gc.callbacks.append(callback)


if settings.GC_LOG_MS > 0:
    _gc_pauses_log(settings.GC_LOG_MS)
