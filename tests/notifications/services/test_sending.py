"""notifications/services/sending.py: frequencies, quiet hours in the
learner's time zone, the daily cap, digests, retries. Every call passes a
fixed `now`; nothing sleeps."""

from __future__ import annotations

import datetime
import email

import pytest
from django.core import mail

from analytics.models import LearningEvent
from notifications.models import Delivery, DeliveryStatus, Digest, NotificationSettings
from notifications.services.preferences import preferences_update
from notifications.services.sending import deliveries_send
from tests.conftest import free_port
from tests.notifications.conftest import DIGEST_KIND, KIND, at, create

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def prefer(user, frequency: str, channel: str = "email", kind: str = KIND) -> None:
    preferences_update(user=user, kinds={kind: {channel: frequency}})


def email_delivery(notification) -> Delivery:
    return notification.deliveries.get(channel="email")


# --- Frequencies ---------------------------------------------------------------------


def test_immediately_sends_one_email_with_both_bodies_and_working_links(kind, user):
    now = at("2026-03-10 15:00")  # 11:00 in New York
    notification = create(user, "a", now=now, title="Review supply curves", body="2 cards due")
    assert deliveries_send(now=now)["sent"] == 1
    assert deliveries_send(now=now + MINUTE).get("sent", 0) == 0  # a second beat: nothing
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Review supply curves"
    assert message.to == [user.email]
    assert message.from_email == "Roundtable <noreply@roundtable.example.test>"
    link = f"https://roundtable.example.test/notifications/{notification.pk}/open/?via=email"
    assert link in message.body and "2 cards due" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and link in html
    assert message.extra_headers["List-Unsubscribe"].startswith(
        "<https://roundtable.example.test/notifications/unsubscribe/"
    )
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Message-ID"] == (
        f"<notification.{notification.pk}@roundtable.example.test>"
    )
    delivery = email_delivery(notification)
    assert (delivery.status, delivery.sent_at, delivery.attempts) == (DeliveryStatus.SENT, now, 1)
    sent = LearningEvent.objects.filter(verb="sent_notification").values_list(
        "extensions", flat=True
    )
    assert sorted(e["channel"] for e in sent) == ["email", "in_app"]


def test_off_plans_no_delivery_on_that_channel(kind, user):
    prefer(user, "off")
    notification = create(user, "a")
    assert list(notification.deliveries.values_list("channel", flat=True)) == ["in_app"]
    prefer(user, "off", channel="in_app")
    later = create(user, "b")
    assert later.deliveries.count() == 0
    assert later.shown_at is None


def test_daily_digest_gathers_the_day_into_one_email_at_the_digest_hour(kind, user):
    prefer(user, "daily")
    morning = at("2026-03-10 13:00")  # 09:00 in New York (EDT, UTC-4)
    first = create(user, "a", now=morning)
    second = create(user, "b", now=morning + 2 * HOUR)
    digest = Digest.objects.get()
    assert digest.due_at == at("2026-03-10 21:00")  # 17:00 New York
    assert email_delivery(first).digest_id == email_delivery(second).digest_id == digest.pk
    assert deliveries_send(now=at("2026-03-10 20:59")).get("digest_sent", 0) == 0
    assert mail.outbox == []
    assert deliveries_send(now=at("2026-03-10 21:00"))["digest_sent"] == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Daily digest: 2 notifications from Roundtable"
    assert "Title a" in message.body and "Title b" in message.body
    assert message.extra_headers["Message-ID"] == f"<digest.{digest.pk}@roundtable.example.test>"
    assert {email_delivery(n).status for n in (first, second)} == {DeliveryStatus.SENT}
    # The next one, created after the digest went, waits for tomorrow's.
    third = create(user, "c", now=at("2026-03-10 21:30"))
    assert email_delivery(third).digest.due_at == at("2026-03-11 21:00")
    assert deliveries_send(now=at("2026-03-10 21:31")).get("digest_sent", 0) == 0
    assert len(mail.outbox) == 1


def test_weekly_digest_goes_on_the_digest_weekday(kind, user):
    prefer(user, "weekly")
    wednesday = at("2026-03-11 15:00")
    notification = create(user, "a", now=wednesday)
    assert email_delivery(notification).due_at == at("2026-03-16 21:00")  # Monday 17:00 EDT
    deliveries_send(now=at("2026-03-15 21:00"))
    assert mail.outbox == []
    deliveries_send(now=at("2026-03-16 21:00"))
    assert [m.subject for m in mail.outbox] == ["Weekly digest: 1 notification from Roundtable"]


def test_a_kind_can_default_to_a_digest(kind, user):
    notification = create(user, "a", kind=DIGEST_KIND, now=at("2026-03-10 15:00"))
    assert email_delivery(notification).frequency == "daily"
    assert notification.deliveries.get(channel="in_app").digest is not None


def test_an_in_app_digest_shows_its_notifications_together(kind, user):
    prefer(user, "daily", channel="in_app")
    notification = create(user, "a", now=at("2026-03-10 15:00"))
    assert notification.shown_at is None
    deliveries_send(now=at("2026-03-10 21:00"))
    notification.refresh_from_db()
    assert notification.shown_at == at("2026-03-10 21:00")


def test_changing_a_preference_replans_what_is_still_pending(kind, user):
    now = at("2026-03-10 15:00")
    notification = create(user, "a", now=now)
    preferences_update(user=user, kinds={KIND: {"email": "daily"}}, now=now)
    delivery = email_delivery(notification)
    assert (delivery.frequency, delivery.due_at) == ("daily", at("2026-03-10 21:00"))
    assert deliveries_send(now=now).get("sent", 0) == 0
    preferences_update(user=user, kinds={KIND: {"email": "off"}}, now=now)
    assert email_delivery(notification).status == DeliveryStatus.CANCELLED
    deliveries_send(now=at("2026-03-10 21:00"))
    assert mail.outbox == []
    assert Digest.objects.get().status == DeliveryStatus.CANCELLED


# --- Quiet hours ------------------------------------------------------------------------


def test_quiet_hours_hold_email_until_they_end_in_the_learners_own_zone(kind, user, other_user):
    # 02:30 UTC on 10 March is 22:30 on the 9th in New York (quiet) and
    # 11:30 on the 10th in Tokyo (not quiet).
    now = at("2026-03-10 02:30")
    held = create(user, "a", now=now)
    sent = create(other_user, "a", now=now)
    outcome = deliveries_send(now=now)
    assert (outcome["held"], outcome["sent"]) == (1, 1)
    assert [m.to for m in mail.outbox] == [[other_user.email]]
    assert email_delivery(held).due_at == at("2026-03-10 12:00")  # 08:00 EDT
    assert email_delivery(sent).status == DeliveryStatus.SENT
    # The bell is not held: it does not interrupt.
    held.refresh_from_db()
    assert held.shown_at == now
    deliveries_send(now=at("2026-03-10 11:59"))
    assert len(mail.outbox) == 1
    deliveries_send(now=at("2026-03-10 12:00"))
    assert [m.to for m in mail.outbox] == [[other_user.email], [user.email]]


def test_quiet_hours_follow_daylight_saving_time(kind, user):
    # On 7 March New York is on EST (UTC-5): 08:00 local is 13:00 UTC; after
    # the switch on 8 March, 12:00 UTC.
    before = create(user, "a", now=at("2026-03-07 03:00"))
    deliveries_send(now=at("2026-03-07 03:00"))
    assert email_delivery(before).due_at == at("2026-03-07 13:00")
    after = create(user, "b", now=at("2026-03-09 03:00"))
    deliveries_send(now=at("2026-03-09 03:00"))
    assert email_delivery(after).due_at == at("2026-03-09 12:00")


def test_custom_quiet_hours_and_turning_them_off(kind, user):
    preferences_update(user=user, quiet_hours={"start": "12:00", "end": "14:00"})
    lunch = create(user, "a", now=at("2026-03-10 16:30"))  # 12:30 EDT
    assert deliveries_send(now=at("2026-03-10 16:30"))["held"] == 1
    assert email_delivery(lunch).due_at == at("2026-03-10 18:00")
    preferences_update(user=user, quiet_hours={"enabled": False})
    assert deliveries_send(now=at("2026-03-10 18:00"))["sent"] == 1
    night = create(user, "b", now=at("2026-03-11 03:00"))  # 23:00 EDT, no quiet hours now
    assert deliveries_send(now=at("2026-03-11 03:00"))["sent"] == 1
    assert email_delivery(night).status == DeliveryStatus.SENT


def test_a_digest_due_in_quiet_hours_waits_for_their_end(kind, user, settings):
    settings.NOTIFICATIONS_DIGEST_HOUR = 22  # inside 21:00-08:00
    prefer(user, "daily")
    create(user, "a", now=at("2026-03-10 15:00"))
    digest = Digest.objects.get()
    assert deliveries_send(now=digest.due_at)["digest_held"] == 1
    digest.refresh_from_db()
    assert digest.send_after == at("2026-03-11 12:00")
    deliveries_send(now=at("2026-03-11 12:00"))
    assert len(mail.outbox) == 1


# --- Daily cap --------------------------------------------------------------------------


def test_past_the_daily_cap_the_rest_goes_into_the_daily_digest(kind, user):
    NotificationSettings.objects.create(user=user, daily_cap=2)
    now = at("2026-03-10 14:00")  # 10:00 EDT
    notifications = [create(user, key, now=now) for key in "abc"]
    outcome = deliveries_send(now=now)
    assert (outcome["sent"], outcome["capped"]) == (2, 1)  # the bells showed at creation
    assert len(mail.outbox) == 2
    capped = email_delivery(notifications[2])
    assert capped.digest.due_at == at("2026-03-10 21:00")
    assert "daily cap" in capped.last_error
    deliveries_send(now=at("2026-03-10 21:00"))
    assert mail.outbox[-1].subject == "Daily digest: 1 notification from Roundtable"
    # A new day in New York (04:00 UTC is midnight EDT): the cap starts over.
    tomorrow = create(user, "d", now=at("2026-03-11 13:00"))
    deliveries_send(now=at("2026-03-11 13:00"))
    assert email_delivery(tomorrow).status == DeliveryStatus.SENT


# --- Failures ---------------------------------------------------------------------------


def test_a_failing_smtp_server_is_retried_with_backoff_and_nothing_is_lost(kind, user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    now = at("2026-03-10 15:00")
    notification = create(user, "a", now=now)
    assert deliveries_send(now=now)["retry"] == 1
    delivery = email_delivery(notification)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.due_at == now + MINUTE
    assert "ConnectionRefusedError" in delivery.last_error
    assert deliveries_send(now=now + 30 * datetime.timedelta(seconds=1)).get("retry", 0) == 0
    assert deliveries_send(now=now + MINUTE)["retry"] == 1
    assert email_delivery(notification).due_at == now + 3 * MINUTE  # then 2 min later
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # back up
    assert deliveries_send(now=now + 3 * MINUTE)["sent"] == 1
    delivery = email_delivery(notification)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 3, "")
    assert len(mail.outbox) == 1
    parsed = email.message_from_bytes(mail.outbox[0].message().as_bytes())
    assert parsed["Message-ID"] == f"<notification.{notification.pk}@roundtable.example.test>"


def test_a_send_claimed_by_a_worker_that_died_is_sent_after_its_claim_runs_out(kind, user):
    now = at("2026-03-10 15:00")
    notification = create(user, "a", now=now)
    Delivery.objects.filter(notification=notification, channel="email").update(
        status=DeliveryStatus.SENDING, attempts=1, claimed_until=now + 5 * MINUTE
    )
    assert deliveries_send(now=now + MINUTE).get("sent", 0) == 0
    assert deliveries_send(now=now + 6 * MINUTE)["sent"] == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("change", [{"email": ""}, {"is_active": False}])
def test_a_learner_without_an_address_or_account_gets_no_email_and_no_retry(kind, user, change):
    now = at("2026-03-10 15:00")
    notification = create(user, "a", now=now)
    for field, value in change.items():
        setattr(user, field, value)
    user.save(update_fields=list(change))
    deliveries_send(now=now)
    assert email_delivery(notification).status == DeliveryStatus.CANCELLED
    assert mail.outbox == []


# --- The embedded default ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_without_a_beat_the_server_loop_starts_one_sender(settings):
    import asyncio

    from notifications.services import sending

    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker and beat exist: nothing to do
    sending.embedded_sender_ensure()
    loop = asyncio.get_running_loop()
    assert loop not in sending._embedded_senders
    settings.CELERY_TASK_ALWAYS_EAGER = True
    sending.embedded_sender_ensure()
    task = sending._embedded_senders[loop]
    sending.embedded_sender_ensure()  # a second socket: the same sender
    assert sending._embedded_senders[loop] is task and not task.done()
    task.cancel()
