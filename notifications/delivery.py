"""How each built-in channel delivers (the channel registry's functions):
the bell needs nothing here (the sender shows it in the database), email
builds its messages from templates and sends them with Django's mail backend."""

from __future__ import annotations

from notifications import emails
from notifications.channels import CHANNELS, EMAIL, Channel, channel_register


def channels_connect() -> None:
    email = CHANNELS[EMAIL]
    channel_register(
        Channel(
            email.key,
            email.label,
            interrupts=email.interrupts,
            deliver=emails.notification_email_send,
            digest_deliver=emails.digest_email_send,
        )
    )
