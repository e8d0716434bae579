"""Email bodies (HTML and plain text, from templates) and sending with
Django's mail backend. Every link is absolute (SITE_URL) and goes through
the open endpoint, which records the open; each message carries a
per-kind unsubscribe link, also as `List-Unsubscribe` (RFC 8058)."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from notifications import conf
from notifications.kinds import FREQUENCY_LABELS
from notifications.selectors import kind_label
from notifications.unsubscribe import unsubscribe_token_make


class NoAddressError(Exception):
    """The learner has no email address: nothing can be sent."""


def absolute(path: str) -> str:
    return conf.site_url() + path


def open_link(notification) -> str:
    return absolute(reverse("notifications:open", args=[notification.pk])) + "?via=email"


def unsubscribe_link(user, kinds: list[str]) -> str:
    token = unsubscribe_token_make(user=user, kinds=kinds)
    return absolute(reverse("notifications:unsubscribe", args=[token]))


def _domain() -> str:
    address = conf.email_from()
    return address.rsplit("@", 1)[-1].strip("> ") or "localhost"


def _message(*, user, subject: str, template: str, context: dict, kinds: list[str], ident: str):
    if not user.email:
        raise NoAddressError(f"user {user.pk} has no email address")
    unsubscribe = unsubscribe_link(user, kinds)
    context = {
        **context,
        "user": user,
        "site_url": conf.site_url(),
        "unsubscribe_url": unsubscribe,
        "preferences_url": absolute(reverse("notifications:preferences")),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=conf.email_from(),
        to=[user.email],
        headers={
            # A retried send keeps its id, so a receiver can tell a resend.
            "Message-ID": f"<{ident}@{_domain()}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def notification_email_send(notification) -> None:
    """Send one notification's email; raises on failure (the sender retries)."""
    message = _message(
        user=notification.user,
        subject=notification.title,
        template="notification",
        context={
            "notification": notification,
            "open_url": open_link(notification),
            "kind_label": kind_label(notification.kind),
        },
        kinds=[notification.kind],
        ident=f"notification.{notification.pk}",
    )
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([message])


def digest_email_send(user, notifications: list, frequency: str, *, ident: str) -> None:
    """One email for a digest's notifications; raises on failure."""
    items = [
        {"notification": n, "open_url": open_link(n), "kind_label": kind_label(n.kind)}
        for n in notifications
    ]
    kinds = sorted({n.kind for n in notifications})
    label = FREQUENCY_LABELS.get(frequency, frequency)
    subject = f"{label}: {len(items)} notification{'s' if len(items) != 1 else ''} from Roundtable"
    message = _message(
        user=user,
        subject=subject,
        template="digest",
        context={"items": items, "frequency_label": label},
        kinds=kinds,
        ident=ident,
    )
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([message])
