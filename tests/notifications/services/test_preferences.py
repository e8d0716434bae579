"""notifications/services/preferences.py: validation, and unsubscribing from
a signed link (valid, tampered, expired, honoured at once)."""

from __future__ import annotations

import time

import pytest
from django.core import signing

from core.errors import NotFoundError, ValidationError
from notifications.models import DeliveryStatus, NotificationPreference, NotificationSettings
from notifications.selectors import preferences_get
from notifications.services.preferences import preferences_update, unsubscribe_apply
from notifications.unsubscribe import SALT, unsubscribe_token_make
from tests.notifications.conftest import KIND, create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kinds": {"nobody.kind": {"email": "daily"}}}, "unknown_kind"),
        ({"kinds": {KIND: {"pigeon": "daily"}}}, "unknown_channel"),
        ({"kinds": {KIND: {"email": "hourly"}}}, "unknown_frequency"),
        ({"kinds": {KIND: "daily"}}, "invalid"),
        ({"kinds": ["daily"]}, "invalid"),
        ({"quiet_hours": {"start": "25:00"}}, "invalid_quiet_hours"),
        ({"quiet_hours": {"start": "9pm", "end": "08:00"}}, "invalid_quiet_hours"),
        ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "invalid_quiet_hours"),
        ({"quiet_hours": {"enabled": "yes"}}, "invalid_quiet_hours"),
        ({"quiet_hours": {"begin": "08:00"}}, "invalid_quiet_hours"),
        ({"daily_cap": 0}, "invalid"),
        ({"daily_cap": 101}, "invalid"),
        ({"daily_cap": True}, "invalid"),
    ],
)
def test_bad_preferences_are_refused_with_a_clear_code_and_change_nothing(
    kind, user, changes, code
):
    # A valid change beside the bad one: nothing at all is stored.
    valid = {} if "kinds" in changes else {"kinds": {KIND: {"in_app": "off"}}}
    with pytest.raises(ValidationError) as caught:
        preferences_update(user=user, **valid, **changes)
    assert caught.value.code == code
    assert caught.value.message
    assert not NotificationPreference.objects.exists()
    assert not NotificationSettings.objects.exists()


def test_preferences_read_back_with_defaults_and_changes(kind, user):
    preferences_update(
        user=user,
        kinds={KIND: {"email": "weekly"}},
        quiet_hours={"start": "22:30", "end": "07:15"},
        daily_cap=3,
    )
    got = preferences_get(user=user)
    mine = next(k for k in got["kinds"] if k["kind"] == KIND)
    assert mine["channels"] == {"in_app": "immediately", "email": "weekly"}
    assert got["quiet_hours"] == {"enabled": True, "start": "22:30", "end": "07:15"}
    assert (got["time_zone"], got["daily_cap"]) == ("America/New_York", 3)


def test_an_unsubscribe_link_turns_the_kind_off_at_once(kind, user):
    pending = create(user, "a")
    token = unsubscribe_token_make(user=user, kinds=[KIND])
    who, kinds = unsubscribe_apply(token=token)
    assert (who, kinds) == (user, [KIND])
    assert (
        NotificationPreference.objects.get(user=user, kind=KIND, channel="email").frequency == "off"
    )
    assert pending.deliveries.get(channel="email").status == DeliveryStatus.CANCELLED
    assert pending.deliveries.get(channel="in_app").status == DeliveryStatus.SENT
    later = create(user, "b")
    assert list(later.deliveries.values_list("channel", flat=True)) == ["in_app"]


def test_a_tampered_link_is_refused(kind, user, other_user):
    token = unsubscribe_token_make(user=user, kinds=[KIND])
    forged = signing.dumps({"u": other_user.pk, "k": [KIND], "c": "email"}, salt="other.salt")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense"):
        with pytest.raises(ValidationError) as caught:
            unsubscribe_apply(token=bad)
        assert caught.value.code == "link_invalid"
    assert not NotificationPreference.objects.exists()


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 61 * 24 * 3600)


def test_an_expired_link_is_refused(kind, user, settings):
    settings.NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS = 60
    old = _SignedLongAgo(salt=SALT).sign_object({"u": user.pk, "k": [KIND], "c": "email"})
    with pytest.raises(ValidationError) as caught:
        unsubscribe_apply(token=old)
    assert caught.value.code == "link_expired"
    settings.NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS = 62
    assert unsubscribe_apply(token=old)[1] == [KIND]


def test_a_link_of_a_deleted_account_is_not_found(kind, user):
    token = unsubscribe_token_make(user=user, kinds=[KIND])
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(NotFoundError):
        unsubscribe_apply(token=token)
