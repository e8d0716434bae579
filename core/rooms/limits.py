"""The rate limiter of room actions: one refusal rule (`rate_limited`, the
same error everywhere) over a count of recent hits per key.

`rate_limit(key, limit, seconds)` counts in a fixed window of the shared
cache (Redis in production, process memory for the embedded default): the
playback room's chat, reactions and notes. Two live counts keep their own
store and hand their count to `over_limit`: chat and questions are counted
exactly from the database under the session lock (classroom/services/chat.py),
and reactions in the same Redis script that dedups and queues them
(classroom/services/reactions.py), so that a reaction stays one round trip."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core import kv
from core.errors import RateLimitedError


def over_limit(hits: int, limit: int, message: str | None = None) -> None:
    """Refuse with `rate_limited` when `hits` is past `limit`."""
    if hits > limit:
        raise RateLimitedError(
            message or _("Too many at once. Wait a moment and try again."), code="rate_limited"
        )


def rate_limit(key: str, limit: int, seconds: int) -> None:
    """Count one hit of `key` and refuse past `limit` hits in `seconds`."""
    over_limit(kv.window_hits(key, seconds), limit)
