"""notifications/tasks.py on a real Celery worker and Redis, sending to a
real SMTP server on a local port: a dead server is retried with backoff and
the message delivered once it answers, and the beat task run twice at once
(two worker processes side by side) sends each email exactly once."""

from __future__ import annotations

import email
import threading
import time
import warnings
from collections import Counter

import pytest
from django.utils import timezone

from analytics.models import LearningEvent
from config.celery import app
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.tasks import deliveries_send
from tests.conftest import celery_worker, free_port
from tests.factories import UserFactory
from tests.notifications.conftest import create

with warnings.catch_warnings():  # deprecated, but the stdlib's SMTP server on 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


def learners(count: int) -> list:
    """Learners whose email is never held by quiet hours, whatever the hour."""
    users = [UserFactory(time_zone="UTC") for _ in range(count)]
    NotificationSettings.objects.bulk_create(
        NotificationSettings(user=user, quiet_hours_enabled=False, daily_cap=100) for user in users
    )
    return users


class SmtpSink(smtpd.SMTPServer):
    """A real SMTP server on a local port that keeps what it receives."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), None, decode_data=False)
        self.received: list[bytes] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.received.append(data)


def workers_ready(queue: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            name.startswith(f"{queue}.")
            for reply in app.control.ping(timeout=0.5)
            for name in reply
        ):
            return
    raise AssertionError(f"no worker on {queue} answered within {timeout} s")


def test_a_dead_smtp_server_is_retried_and_two_beats_at_once_send_each_email_once(kind):
    first_learner, *others = learners(4)
    early = create(first_learner, "early", title="Two cards are due")
    port = free_port()  # nothing listens there yet
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "EMAIL_TIMEOUT": "3",
        "NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
    }
    with celery_worker(env, prefix="notif", concurrency=2) as queue:
        workers_ready(queue)
        # The SMTP server is down: the send fails and waits for its backoff.
        assert deliveries_send.apply_async(queue=queue).get(timeout=60) == {
            "replanned": 0,
            "retry": 1,
        }
        delivery = Delivery.objects.get(notification=early, channel="email")
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert "Connection refused" in delivery.last_error
        assert delivery.due_at > delivery.notification.created_at

        # It comes back; meanwhile more notifications are due.
        later = [create(user, f"n{n}") for user in others for n in range(5)]
        sink = SmtpSink(port)
        loop = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.05}, daemon=True)
        loop.start()
        try:
            while Delivery.objects.filter(pk=delivery.pk, due_at__gt=timezone.now()).exists():
                time.sleep(0.1)
            # Two beats at once, run side by side by the worker's two processes.
            beats = [deliveries_send.apply_async(queue=queue) for _ in range(2)]
            outcomes = [beat.get(timeout=60) for beat in beats]
        finally:
            sink.close()
            loop.join(timeout=5)
    print("outcomes", outcomes)
    assert sum(outcome.get("sent", 0) for outcome in outcomes) == 16
    ids = [email.message_from_bytes(data)["Message-ID"] for data in sink.received]
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == {f"<notification.{n.pk}@localhost>" for n in [early, *later]}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 2, "")
    emails = Delivery.objects.filter(channel="email").exclude(pk=delivery.pk)
    assert set(emails.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}
    assert (
        LearningEvent.objects.filter(verb="sent_notification", extensions__channel="email").count()
        == 16
    )
    message = next(
        email.message_from_bytes(data)
        for data in sink.received
        if email.message_from_bytes(data)["Message-ID"] == f"<notification.{early.pk}@localhost>"
    )
    assert (message["Subject"], message["To"]) == ("Two cards are due", first_learner.email)
