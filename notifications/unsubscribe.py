"""Signed, expiring, per-kind unsubscribe tokens (django.core.signing).

A token names the user, the kinds and the channel it turns off; it works
without logging in, for `NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS`. The salt
keeps it from being valid as any other signed value of the site."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from core.errors import ValidationError
from notifications import conf
from notifications.channels import EMAIL

SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class UnsubscribeRequest:
    user_id: int
    kinds: tuple[str, ...]
    channel: str


def unsubscribe_token_make(*, user, kinds: list[str], channel: str = EMAIL) -> str:
    return signing.dumps({"u": user.pk, "k": list(kinds), "c": channel}, salt=SALT, compress=True)


def unsubscribe_token_read(token: str) -> UnsubscribeRequest:
    """The request a token carries, or ValidationError (`link_expired`,
    `link_invalid`)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=conf.unsubscribe_max_age_seconds())
    except signing.SignatureExpired as error:
        raise ValidationError(
            "This unsubscribe link has expired. Change your notification settings after logging in.",
            code="link_expired",
        ) from error
    except signing.BadSignature as error:
        raise ValidationError(
            "This unsubscribe link is not valid. Change your notification settings after logging in.",
            code="link_invalid",
        ) from error
    try:
        return UnsubscribeRequest(int(data["u"]), tuple(str(k) for k in data["k"]), str(data["c"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationError("This unsubscribe link is not valid.", code="link_invalid") from error
