"""The baseline of bench/poll_storm.py: Roundtable with one tally broadcast per
vote instead of the coalesced one, served by Daphne like Roundtable.

    python -m daphne -b 127.0.0.1 -p PORT bench._poll_naive_asgi:application

Everything is the real application (`config.asgi`: the same URL, session-cookie
authentication, Origin check, consumer, `classroom.services.polls.poll_vote_cast`,
snapshot, presence, engagement) except one thing, the thing measured: the
coalescing of poll tallies is switched off. `core.realtime.coalesce` is wrapped
in this process so that a `tally:<poll>` key runs its flush at once, on every
call, with no window and no claim: after every applied poll action
(`poll.open`, `poll.vote`, ...) the consumer reads the tally and broadcasts it
(`classroom.events.poll_tally_flush`: one `group_send` of the staff tally to
the session's staff group and, when the poll shows live results, one
`group_send` of the public tally to the whole session group `live.<sid>`).
Every other coalesced flush (presence, engagement, reactions) is untouched.
Same payloads, same visibility rules, same encode-once forwarding: a vote in
a 150-learner class with live results costs 152 frames here (the staff tally
to the instructor, the public tally to everyone including the instructor),
so a poll costs O(voters × class size) frames.

A benchmark helper, not part of the application.
"""

from __future__ import annotations

import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_application = get_asgi_application()

from core import realtime  # noqa: E402

logger = logging.getLogger(__name__)
_coalesce = realtime.coalesce


async def per_call_tally(key: str, delay: float, flush) -> bool:
    """`core.realtime.coalesce`, except for tallies: those flush now, every time."""
    if not key.startswith("tally:"):
        return await _coalesce(key, delay, flush)
    try:
        await flush()
    except Exception:  # as coalesce does: a failed flush never breaks the vote
        logger.exception("per-vote tally %s failed", key)
    return True


realtime.coalesce = per_call_tally

from config.asgi import application  # noqa: E402, F401 (the real application, patched)
