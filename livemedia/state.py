"""What a media connection applies: the room's policy state and the open
recording span, read once per process per change (coalescing policy of the
`media.apply` fan-out; the consumer only awaits it)."""

from __future__ import annotations

import asyncio
import time

from core.asyncdb import db_call
from livemedia import policy, recording

_STATE_CACHE: dict[tuple[int, str], tuple[float, asyncio.Future]] = {}
STATE_CACHE_SECONDS = 5.0


def room_read(session_id: int) -> tuple[policy.RoomState, tuple[int, int] | None]:
    return policy.room_state_get(session_id), recording.recording_capture_get(session_id)


async def room_state_for(session_id: int, nonce: str | None):
    """The room state after change `nonce`, read once per process: a change
    reaches every connection of the session here at the same moment."""
    now = time.monotonic()
    for key in [k for k, (expires, _f) in _STATE_CACHE.items() if expires < now]:
        _STATE_CACHE.pop(key, None)
    if nonce is None:
        return await db_call(room_read)(session_id)
    key = (session_id, nonce)
    entry = _STATE_CACHE.get(key)
    if entry is None or entry[1].get_loop() is not asyncio.get_running_loop():
        future = asyncio.ensure_future(db_call(room_read)(session_id))
        entry = (now + STATE_CACHE_SECONDS, future)
        _STATE_CACHE[key] = entry
    return await asyncio.shield(entry[1])
