"""The one rate limiter of room actions: a fixed-window counter per key in
the shared cache (Redis in production, process memory for the embedded
default). Callers name the key (`<room kind>:<what>:<scope>:<user>`)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core import kv
from core.errors import RateLimitedError


def rate_limit(key: str, limit: int, seconds: int) -> None:
    """Raise `rate_limited` past `limit` hits of `key` in `seconds`."""
    if kv.window_hits(key, seconds) > limit:
        raise RateLimitedError(
            _("Too many at once. Wait a moment and try again."), code="rate_limited"
        )
