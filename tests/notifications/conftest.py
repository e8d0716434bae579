"""Shared fixtures of the notification tests: a kind of their own, learners
in known time zones, a fixed clock, and the socket's frames."""

from __future__ import annotations

import datetime
import json

import pytest

from core import realtime
from notifications.kinds import kind_register, kind_unregister
from tests.factories import UserFactory

KIND = "tests.reminder"
DIGEST_KIND = "tests.digest_only"
UTC = datetime.UTC


@pytest.fixture
def kind():
    kind_register(KIND, label="Test reminders", description="Reminders of the tests.")
    kind_register(
        DIGEST_KIND,
        label="Test digest",
        description="Only ever gathered.",
        default_frequency="daily",
    )
    yield KIND
    kind_unregister(KIND)
    kind_unregister(DIGEST_KIND)


@pytest.fixture
def user(db):
    return UserFactory(username="nora", display_name="Nora Quist", time_zone="America/New_York")


@pytest.fixture
def other_user(db):
    return UserFactory(username="omar", display_name="Omar Tan", time_zone="Asia/Tokyo")


@pytest.fixture(autouse=True)
def _mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://roundtable.example.test"
    settings.ROUNDTABLE_EMAIL_FROM = "Roundtable <noreply@roundtable.example.test>"
    settings.NOTIFICATIONS_DAILY_CAP = 10
    settings.NOTIFICATIONS_DIGEST_HOUR = 17
    settings.NOTIFICATIONS_DIGEST_WEEKDAY = 0
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60.0
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 3600.0


def at(text: str) -> datetime.datetime:
    """A fixed UTC instant, '2026-03-10 14:00'."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def create(user, key: str, *, kind: str = KIND, now=None, **fields):
    from notifications.services import notification_create_or_get

    values = {"title": f"Title {key}", "body": f"Body {key}", "url": f"/courses/{key}/"}
    values.update(fields)
    notification, _created = notification_create_or_get(
        user=user, kind=kind, key=key, now=now, **values
    )
    return notification


def frames(user_id: int) -> list[dict]:
    """Every frame of the user's notification socket kept for resync."""
    return [
        json.loads(text)
        for _seq, _stream, text in realtime.frame_buffer().since(f"notifications.{user_id}", 0)
    ]
