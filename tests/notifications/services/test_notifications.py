"""notifications/services/notifications.py: create (idempotent), show in the
bell, withdraw, read, open."""

from __future__ import annotations

import datetime

import pytest

from analytics.models import LearningEvent
from core.errors import ValidationError
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services import (
    notification_cancel,
    notification_create,
    notification_create_or_get,
    notifications_cancel_for,
)
from notifications.services.notifications import (
    notification_open,
    notification_read,
    notifications_read_all,
)
from tests.notifications.conftest import KIND, at, create, frames

pytestmark = pytest.mark.django_db


def test_a_second_create_returns_the_first_row_unchanged(kind, user):
    first = notification_create(
        user=user, kind=KIND, key="plan.7", title="Review 3 cards", body="b", url="/review/"
    )
    again, created = notification_create_or_get(
        user=user, kind=KIND, key="plan.7", title="Another title", body="x", url="/elsewhere/"
    )
    assert created is False
    assert again.pk == first.pk
    assert (again.title, again.url) == ("Review 3 cards", "/review/")
    assert Notification.objects.filter(user=user).count() == 1
    assert Delivery.objects.filter(notification=first).count() == 2  # in_app + email, once


def test_the_same_key_for_another_user_or_kind_is_another_notification(kind, user, other_user):
    create(user, "k")
    create(other_user, "k")
    create(user, "k", kind="notifications.system")
    assert Notification.objects.count() == 3


def test_a_due_notification_shows_in_the_bell_at_once_with_its_frame(
    kind, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = create(user, "a", now=at("2026-03-10 15:00"))
    notification.refresh_from_db()
    assert notification.shown_at == at("2026-03-10 15:00")
    statuses = dict(notification.deliveries.values_list("channel", "status"))
    assert statuses == {"in_app": DeliveryStatus.SENT, "email": DeliveryStatus.PENDING}
    sent = [frame for frame in frames(user.pk)]
    assert [(f["type"], f["data"]["unread_count"]) for f in sent] == [("notification.created", 1)]
    assert sent[0]["data"]["notification"]["open_url"] == f"/notifications/{notification.pk}/open/"
    event = LearningEvent.objects.get(verb="sent_notification")
    assert event.actor_id == user.pk
    assert event.extensions == {"kind": KIND, "channel": "in_app", "frequency": "immediately"}


def test_not_before_holds_every_channel_until_then(kind, user):
    now = at("2026-03-10 15:00")
    notification = create(user, "deadline", now=now, not_before=now + datetime.timedelta(hours=46))
    assert notification.shown_at is None
    assert set(notification.deliveries.values_list("due_at", flat=True)) == {
        now + datetime.timedelta(hours=46)
    }


@pytest.mark.parametrize(
    "url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "review/", ""]
)
def test_a_link_must_be_site_relative(kind, user, url):
    with pytest.raises(ValidationError) as caught:
        create(user, "x", url=url)
    assert caught.value.code == "invalid_url"
    assert not Notification.objects.exists()


def test_an_unregistered_kind_is_refused(user):
    with pytest.raises(ValidationError) as caught:
        create(user, "x", kind="nobody.registered")
    assert caught.value.code == "unknown_kind"
    assert not Notification.objects.exists()


def test_cancel_withdraws_pending_sends_and_takes_it_out_of_the_bell(
    kind, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = create(user, "a")
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_cancel(user=user, kind=KIND, key="a") is True
    notification.refresh_from_db()
    assert notification.cancelled_at is not None
    assert notification.deliveries.get(channel="email").status == DeliveryStatus.CANCELLED
    assert [f["type"] for f in frames(user.pk)] == [
        "notification.created",
        "notification.withdrawn",
    ]
    assert frames(user.pk)[-1]["data"] == {"id": notification.pk, "unread_count": 0}
    assert notification_cancel(user=user, kind=KIND, key="a") is False
    assert notification_cancel(user=user, kind=KIND, key="never") is False


def test_cancel_cannot_withdraw_an_email_already_sent(kind, user):
    notification = create(user, "a")
    notification.deliveries.filter(channel="email").update(status=DeliveryStatus.SENT)
    assert notification_cancel(user=user, kind=KIND, key="a") is False
    notification.refresh_from_db()
    assert notification.cancelled_at is None


def test_cancel_for_withdraws_every_key_under_the_prefix(kind, user, other_user):
    for key in ("plan.4.card.1", "plan.4.card.2", "plan.40.card.1"):
        create(user, key)
    create(other_user, "plan.4.card.9")
    assert notifications_cancel_for(kind=KIND, key_prefix="plan.4.") == 3
    remaining = Notification.objects.filter(cancelled_at__isnull=True)
    assert list(remaining.values_list("key", flat=True)) == ["plan.40.card.1"]


def test_read_and_read_all_send_the_new_count(kind, user, django_capture_on_commit_callbacks):
    first, second, third = (create(user, key) for key in "abc")
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_read(notification=first) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_read(notification=first) is False
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_read_all(user=user) == 2
    read = [f["data"] for f in frames(user.pk) if f["type"] == "notification.read"]
    assert read == [
        {"ids": [first.pk], "all": False, "unread_count": 2},
        {"ids": [], "all": True, "unread_count": 0},
    ]


def test_open_marks_read_and_records_every_open(kind, user):
    notification = create(user, "a")
    notification_open(notification=notification, via="email", now=at("2026-03-10 15:00"))
    notification_open(notification=notification, via="in_app", now=at("2026-03-10 16:00"))
    notification.refresh_from_db()
    assert notification.opened_at == at("2026-03-10 15:00")
    assert notification.read_at == at("2026-03-10 15:00")
    opens = LearningEvent.objects.filter(verb="opened_notification").order_by("occurred_at")
    assert [e.extensions for e in opens] == [
        {"kind": KIND, "via": "email", "first": True},
        {"kind": KIND, "via": "in_app", "first": False},
    ]


def test_frames_wait_for_the_commit_and_a_rolled_back_create_sends_none(
    kind, user, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                create(user, "rolled-back")
                raise RuntimeError("the caller failed")
    assert callbacks == []
    assert frames(user.pk) == []
    assert not Notification.objects.exists()


def test_creating_one_is_a_bounded_number_of_statements(kind, user, django_assert_max_num_queries):
    # look up, insert (in a savepoint), preferences, both deliveries at once,
    # the in-app `sent_notification` event; its frame goes after commit.
    with django_assert_max_num_queries(7):
        create(user, "a")
    with django_assert_max_num_queries(1):
        create(user, "a")
