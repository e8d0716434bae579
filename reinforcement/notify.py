"""The notifications reinforcement sends, each under a key that makes a
second send of the same thing a no-op (`notification_create` is idempotent on
(user, kind, key)). docs/reinforcement.md lists the kinds and their keys."""

from __future__ import annotations

from notifications.kinds import kind_register
from notifications.services import notification_cancel, notification_create

FOLLOWUP = "reinforcement.followup"
REVIEW_DUE = "reinforcement.review_due"
NUDGE = "reinforcement.nudge"
WARMUP = "reinforcement.warmup"
DEADLINE = "reinforcement.deadline"

KINDS = {
    FOLLOWUP: "Follow-up after a session",
    REVIEW_DUE: "Review cards are due",
    NUDGE: "Participation nudge",
    WARMUP: "Warm-up quiz before the next session",
    DEADLINE: "Review deadline reminders",
}


def kinds_register() -> None:
    for key, label in KINDS.items():
        kind_register(key, label)


def send(*, user, kind: str, key: str, title: str, body: str, url: str, course=None,
         not_before=None) -> None:  # fmt: skip
    notification_create(
        user=user,
        kind=kind,
        key=key,
        title=title[:200],
        body=body,
        url=url,
        course=course,
        not_before=not_before,
    )


def cancel(*, user, kind: str, key: str) -> None:
    notification_cancel(user=user, kind=kind, key=key)
