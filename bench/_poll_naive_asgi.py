"""The baseline of bench/poll_storm.py: Roundtable with one tally broadcast per
vote instead of the coalesced one, served by Daphne like Roundtable.

    python -m daphne -b 127.0.0.1 -p PORT bench._poll_naive_asgi:application

Everything is the real application (`config.asgi`: the same URL, session-cookie
authentication, Origin check, consumer, `classroom.services.polls.poll_vote_cast`,
snapshot, presence) except one thing, the thing measured: after every applied
poll action (`poll.open`, `poll.vote`, ...) the consumer reads the tally and
broadcasts it at once (`classroom.events.poll_tally_flush`, i.e. one
`group_send` of the staff tally to the session's staff group and, when the
poll shows live results, one `group_send` of the public tally to the whole
session group `live.<sid>`), instead of `core.realtime.coalesce` scheduling at
most one flush per poll per 250 ms. Same payloads, same visibility rules, same
encode-once forwarding: a vote of a 150-learner class with live results costs
152 frames here (the staff tally to the instructor, the public tally to
everyone including the instructor), so a poll costs O(voters × class size).

A benchmark helper, not part of the application.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.urls import path  # noqa: E402

from classroom import events  # noqa: E402
from classroom.consumers import LiveSessionConsumer  # noqa: E402
from config.asgi import websocket_application  # noqa: E402


class PerVoteTallyConsumer(LiveSessionConsumer):
    """The real consumer, minus tally coalescing: one broadcast per vote."""

    async def _schedule(self, kind: str, result: dict | None = None) -> None:
        if kind == "poll" and result:
            # No coalescing: read the stored responses and send the tally now.
            await events.poll_tally_flush(self.session_id, result["poll_id"])
            if result.get("closes_at"):
                await self._schedule_poll_close(result["poll_id"], result["closes_at"])
            return
        await super()._schedule(kind, result)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_application,
        "websocket": websocket_application(
            [path("ws/live/<int:session_id>/", PerVoteTallyConsumer.as_asgi())]
        ),
    }
)
