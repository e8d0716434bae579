"""Every frame livemedia publishes, built and sent here (the only module of
livemedia that calls the realtime kernel's publish functions; a test keeps it
so). Messages to the media connections go on the session's media group of
the fan-out hub and are handled by `livemedia.consumers.MediaConsumer`; frames to staff go on the live
socket's staff stream (docs/realtime.md).
"""

from __future__ import annotations

import json
import secrets

from django.utils import timezone

from classroom import events as live_events
from core import realtime

MEDIA_APPLY = "media.apply"  # the consumers' handler `media_apply`
SPEAKING = "media.speaking"


def media_group(session_id: int) -> str:
    return f"media.{session_id}"


def _to_connections(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def mode_applied(session_id: int) -> None:
    """After commit, every media connection of the session re-applies the policy.

    Through the fan-out hub (`MediaConsumer.frame_deliver_now`), not the
    channel layer: a session without media connections costs one PUBLISH
    that nobody receives, not a group lookup on the server's event loop at
    every mode switch (docs/performance.md)."""
    realtime.forward_on_commit(
        [media_group(session_id)],
        _to_connections({"type": MEDIA_APPLY, "nonce": secrets.token_hex(6)}),
    )


def recording_changed(session_id: int, *, state: str, recording_id: int | None) -> None:
    """`media.recording` to the session's media connections (after commit)."""
    realtime.forward_on_commit(
        [media_group(session_id)],
        _to_connections(
            {"type": "media.recording", "data": {"state": state, "recording_id": recording_id}}
        ),
    )


async def force_muted(session_id: int, user_id: int, locked: bool) -> None:
    await realtime.forward_now(
        [media_group(session_id)],
        _to_connections({"type": "media.force_mute", "user_id": user_id, "locked": locked}),
    )


async def unlocked(session_id: int, user_id: int) -> None:
    await realtime.forward_now(
        [media_group(session_id)], _to_connections({"type": "media.unlock", "user_id": user_id})
    )


async def talk_changed(session_id: int, data: dict) -> None:
    """The staff talk meter (`talk.changed` on the staff stream)."""
    await realtime.forward_now(
        [live_events.group_staff(session_id)],
        live_events.encode({"type": "talk.changed", "data": data}),
    )


async def media_health(session_id: int, up: bool) -> None:
    """`media.health` on the staff stream."""
    await realtime.forward_now(
        [live_events.group_staff(session_id)],
        live_events.encode({"type": "media.health", "data": {"up": up, "at": timezone.now()}}),
    )
