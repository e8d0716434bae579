"""The registry of delivery channels (docs/notifications.md).

A channel says whether it interrupts the learner (then quiet hours and the
daily cap apply, and its digests are sent as one message) and how it
delivers. `in_app` (the bell) and `email` are built in; web push can be
added by registering a channel with its own `deliver` and `digest_deliver`
functions, without touching the sender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IN_APP = "in_app"
EMAIL = "email"


@dataclass(frozen=True)
class Channel:
    key: str
    label: str
    # Quiet hours and the daily cap hold its sends (email, push); the bell
    # only shows what arrived and never interrupts.
    interrupts: bool
    # deliver(notification) -> None; raises to retry later (backoff).
    deliver: Callable[[Any], None] | None = None
    # digest_deliver(user, notifications, frequency, *, ident) -> None; raises to retry.
    digest_deliver: Callable[..., None] | None = None


CHANNELS: dict[str, Channel] = {}


def channel_register(channel: Channel) -> None:
    CHANNELS[channel.key] = channel


def channel_get(key: str) -> Channel | None:
    return CHANNELS.get(key)


def channel_keys() -> tuple[str, ...]:
    return tuple(CHANNELS)


# The built-in channels are declared here (their delivery functions are set by
# `notifications.delivery` when the app is ready); order is display order.
channel_register(Channel(IN_APP, "In the app", interrupts=False))
channel_register(Channel(EMAIL, "Email", interrupts=True))
