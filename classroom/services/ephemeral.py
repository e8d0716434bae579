"""The coalesced ephemeral frames of a live session, scheduled by the
services whose writes change them (core/rooms/flushes.py), never by the
consumer: presence and engagement after a join, a leave or away; engagement
after a chat message; the tally after a poll opens, closes or gets a vote;
reaction bursts after a reaction. The rates are docs/realtime.md's."""

from __future__ import annotations

from classroom import events
from core.rooms.flushes import flush_on_commit, flush_soon

PRESENCE_DELAY = 1.0
REACTIONS_DELAY = 1.0  # one burst per second: 150 frames, not 300 (docs/performance.md)
ENGAGEMENT_DELAY = 2.0
TALLY_DELAY = 0.25  # at most one tally frame per poll per 250 ms


def engagement_changed(session_id: int) -> None:
    flush_on_commit(
        f"engagement:{session_id}", ENGAGEMENT_DELAY, lambda: events.engagement_flush(session_id)
    )


def presence_changed(session_id: int) -> None:
    flush_on_commit(
        f"presence:{session_id}",
        PRESENCE_DELAY,
        lambda: events.presence_summary_flush(session_id),
    )
    engagement_changed(session_id)


def tally_changed(session_id: int, poll_id: int) -> None:
    """A vote: also from outside a socket (an API vote), then in a timer thread."""
    flush_on_commit(
        f"tally:{poll_id}",
        TALLY_DELAY,
        lambda: events.poll_tally_flush(session_id, poll_id),
        sync_flush=lambda: events.poll_tally_publish(poll_id),
    )


def poll_state_changed(session_id: int, poll_id: int) -> None:
    """A poll opened, closed or reopened: the tally follows on the server loop
    (the poll's own frame already told everyone; no timer thread for it)."""
    flush_on_commit(
        f"tally:{poll_id}", TALLY_DELAY, lambda: events.poll_tally_flush(session_id, poll_id)
    )


async def reactions_sent(session_id: int) -> None:
    """The reactions' hot path is on the event loop already (no transaction)."""
    await flush_soon(
        f"reactions:{session_id}", REACTIONS_DELAY, lambda: events.reactions_burst_flush(session_id)
    )
    await flush_soon(
        f"engagement:{session_id}", ENGAGEMENT_DELAY, lambda: events.engagement_flush(session_id)
    )
