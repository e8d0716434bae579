"""notifications/access.py: a learner reaches only their own notifications
and their own socket; anyone else's is not found, exactly like none."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from core.errors import NotAuthenticatedError, NotFoundError
from notifications.access import access_notification, access_notification_stream
from notifications.services import notification_cancel
from tests.notifications.conftest import KIND, create

pytestmark = pytest.mark.django_db


def test_my_notification_is_mine(kind, user):
    notification = create(user, "a")
    assert access_notification(user=user, notification_id=notification.pk) == notification


@pytest.mark.parametrize("ident", ["other", "missing", "garbage", "cancelled"])
def test_anything_else_is_not_found(kind, user, other_user, ident):
    theirs = create(other_user, "a")
    mine = create(user, "b")
    notification_cancel(user=user, kind=KIND, key="b")
    notification_id = {
        "other": theirs.pk,
        "missing": theirs.pk + 1000,
        "garbage": "1 OR 1=1",
        "cancelled": mine.pk,
    }[ident]
    with pytest.raises(NotFoundError) as caught:
        access_notification(user=user, notification_id=notification_id)
    assert caught.value.message == "No such notification."


def test_anonymous_is_asked_to_log_in(kind, user):
    notification = create(user, "a")
    with pytest.raises(NotAuthenticatedError):
        access_notification(user=AnonymousUser(), notification_id=notification.pk)
    with pytest.raises(NotAuthenticatedError):
        access_notification_stream(user=AnonymousUser(), user_id=user.pk)


def test_only_my_own_stream(user, other_user):
    assert access_notification_stream(user=user, user_id=user.pk).user == user
    with pytest.raises(NotFoundError):
        access_notification_stream(user=user, user_id=other_user.pk)
