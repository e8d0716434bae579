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
    FOLLOWUP: (
        "Follow-up after a session",
        "What to review, rewatch and catch up on after each session.",
    ),
    REVIEW_DUE: ("Review cards are due", "At most one a day per course, when cards are due."),
    NUDGE: ("Participation nudge", "When you were in a session but we did not hear from you."),
    WARMUP: ("Warm-up quiz", "The day before a session: the questions you may have forgotten."),
    DEADLINE: ("Review deadline reminders", "48 hours and 2 hours before a review is due."),
}


def kinds_register() -> None:
    for key, (label, description) in KINDS.items():
        kind_register(key, label=label, description=description)


def send(*, user, kind: str, key: str, title: str, body: str, url: str, course=None,
         not_before=None) -> None:  # fmt: skip
    notification_create(
        user=user,
        kind=kind,
        key=key,
        title=title[:200],
        body=body[:5000],
        url=url,
        course=course,
        not_before=not_before,
    )


def cancel(*, user, kind: str, key: str) -> None:
    notification_cancel(user=user, kind=kind, key=key)
