"""Who may see which notification, and who may join which notification socket."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotAuthenticatedError, NotFoundError
from notifications.models import Notification


def access_notification(*, user, notification_id) -> Notification:
    """The user's own notification; anyone else's (or none) is 404, exactly
    alike, so ids leak nothing."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    try:
        notification_id = int(notification_id)
    except (TypeError, ValueError) as error:
        raise NotFoundError("No such notification.", code="not_found") from error
    found = (
        Notification.objects.filter(pk=notification_id, user=user, cancelled_at__isnull=True)
        .select_related("user")
        .first()
    )
    if found is None:
        raise NotFoundError("No such notification.", code="not_found")
    return found


@dataclass(frozen=True)
class NotificationStreamAccess:
    """A user on their own notification socket (the room kernel's member:
    no course, no table, no staff role)."""

    user: object
    table_id: None = None
    is_staff: bool = False
    course_access: None = None


def access_notification_stream(*, user, user_id: int) -> NotificationStreamAccess:
    """Only the user themself; another user's stream is not found."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    if user.pk != user_id or not user.is_active:
        raise NotFoundError("No such notification stream.", code="not_found")
    return NotificationStreamAccess(user=user)
