"""Every write of the notifications app (docs/notifications.md).

The interface other apps use is re-exported here:
`notification_create`, `notification_create_or_get`, `notification_cancel`,
`notifications_cancel_for`."""

from notifications.services.notifications import (
    notification_cancel,
    notification_create,
    notification_create_or_get,
    notifications_cancel_for,
)

__all__ = [
    "notification_cancel",
    "notification_create",
    "notification_create_or_get",
    "notifications_cancel_for",
]
