"""The periodic review-due scan: who has cards due, and one notification per
learner, course and day (idempotent on its key)."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from courses.models import Course, User
from reinforcement import notify
from reinforcement.selectors import due_scan


def reviews_due_notify(*, now: datetime | None = None) -> int:
    """Notify every learner with due cards (once per course and local day)."""
    now = now or timezone.now()
    rows = due_scan(now=now)
    if not rows:
        return 0
    users = User.objects.in_bulk({user_id for user_id, _course, _due in rows})
    courses = Course.objects.in_bulk({course_id for _user, course_id, _due in rows})
    day = timezone.localdate(now).isoformat()
    for user_id, course_id, due in rows:
        course = courses[course_id]
        notify.send(
            user=users[user_id],
            kind=notify.REVIEW_DUE,
            key=f"due:{course_id}:{day}",
            title=f"{due} review card{'s' if due != 1 else ''} due in {course.code}",
            body=(
                f"You have {due} question{'s' if due != 1 else ''} to review in {course.title}. "
                "A few minutes now keeps them from slipping away."
            ),
            url=reverse("reinforcement-review", args=[course_id]),
            course=course,
        )
    return len(rows)
