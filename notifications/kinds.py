"""The registry of notification kinds: what can be sent, with which default
frequency, on which channels (docs/notifications.md).

Kinds are registered by the app that creates the notifications, from its
`AppConfig.ready()` (the layers above this one: `reinforcement.followup`,
...). The preferences page, the API's validation and the sender all read
this registry; a notification of an unregistered kind is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.channels import channel_keys

FREQUENCY_IMMEDIATELY = "immediately"
FREQUENCY_DAILY = "daily"
FREQUENCY_WEEKLY = "weekly"
FREQUENCY_OFF = "off"
FREQUENCIES: tuple[str, ...] = (
    FREQUENCY_IMMEDIATELY,
    FREQUENCY_DAILY,
    FREQUENCY_WEEKLY,
    FREQUENCY_OFF,
)
FREQUENCY_LABELS = {
    FREQUENCY_IMMEDIATELY: "Immediately",
    FREQUENCY_DAILY: "Daily digest",
    FREQUENCY_WEEKLY: "Weekly digest",
    FREQUENCY_OFF: "Off",
}

KIND_SYSTEM = "notifications.system"


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    description: str
    default_frequency: str
    channels: tuple[str, ...]


REGISTRY: dict[str, Kind] = {}


def kind_register(
    key: str,
    *,
    label: str,
    description: str,
    default_frequency: str = FREQUENCY_IMMEDIATELY,
    channels: tuple[str, ...] = ("in_app", "email"),
) -> None:
    """Declare a kind of notification. Registering the same definition again
    is a no-op (a repeated `ready()`); a different one under a taken key is
    a programming error."""
    if default_frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {default_frequency!r} for kind {key!r}")
    unknown = [channel for channel in channels if channel not in channel_keys()]
    if unknown or not channels:
        raise ValueError(f"unknown channels {unknown!r} for kind {key!r}")
    kind = Kind(key, str(label), str(description), default_frequency, tuple(channels))
    existing = REGISTRY.get(key)
    if existing is not None and existing != kind:
        raise ValueError(f"notification kind {key!r} is registered twice, differently")
    REGISTRY[key] = kind


def kind_unregister(key: str) -> None:
    """For tests that register a kind of their own."""
    REGISTRY.pop(key, None)


def kind_get(key: str) -> Kind | None:
    return REGISTRY.get(key)


def kinds_all() -> list[Kind]:
    """Every registered kind, in registration order."""
    return list(REGISTRY.values())
