"""The only module that touches the channel layer.

Writes announce themselves with `broadcast_on_commit`: the event is sent after
the surrounding transaction commits, never for a rolled-back write, and a
failed send is logged without undoing the commit (the channel layer is
at-most-once; clients recover with snapshot + seq, see docs/realtime.md).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# channels' own rule for group names: ASCII alphanumerics, hyphens,
# underscores and periods, shorter than 100 characters.
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,99}$")


def _validate(group: str, event: dict[str, Any]) -> None:
    if not _GROUP_NAME.match(group):
        raise ValueError(f"invalid channel group name: {group!r}")
    if not isinstance(event.get("type"), str):
        raise ValueError("a channel-layer event needs a string 'type' (the consumer handler)")


def broadcast_now(group: str, event: dict[str, Any]) -> None:
    """Send at once, outside any transaction (sync callers only)."""
    _validate(group, event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # a broadcast must never break the write that caused it
        logger.exception("broadcast to %s failed", group)


async def broadcast_now_async(group: str, event: dict[str, Any]) -> None:
    """Async variant of `broadcast_now`, for code already on the event loop."""
    _validate(group, event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except Exception:
        logger.exception("broadcast to %s failed", group)


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    """Queue `event` for `group`, sent only once the current transaction commits.

    Outside a transaction (autocommit) it is sent at once.
    """
    _validate(group, event)
    transaction.on_commit(lambda: broadcast_now(group, event))
