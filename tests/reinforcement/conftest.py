"""Hand-built ended sessions for reinforcement's tests: learners, graded
polls, who answered what, who was there when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classroom.models import BankQuestion, SessionState
from courses.models import Role
from notifications.models import Notification
from reinforcement.models import ReinforcementSettings
from tests.factories import (
    AttendanceFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    PollFactory,
    PollResponseFactory,
)


def learners_of(course, count: int, prefix: str = "learner") -> list:
    return [
        EnrollmentFactory(
            course=course, role=Role.LEARNER, user__display_name=f"{prefix} {n:02d}"
        ).user
        for n in range(count)
    ]


def quiz_session(
    course,
    learners,
    *,
    polls: int = 2,
    answers: dict | None = None,
    present=None,
    started=None,
    minutes: int = 60,
    bank_questions: list | None = None,
    title: str = "Supply curves",
):
    """An ended session of `minutes` with `polls` graded single-choice polls
    opened 5, 10, ... minutes in. `answers` maps (learner, poll index) to True
    (right) or False (wrong); a missing pair was not answered. `present` maps
    a learner to their (from_minute, to_minute) intervals; by default every
    learner is there the whole time."""
    started = started or timezone.now() - timedelta(minutes=minutes + 5)
    ended = started + timedelta(minutes=minutes)
    session = LiveSessionFactory(
        course=course,
        title=title,
        state=SessionState.ENDED,
        scheduled_start=started,
        scheduled_end=ended,
        started_at=started,
        ended_at=ended,
    )
    rows = []
    for index in range(polls):
        source = bank_questions[index] if bank_questions else None
        rows.append(
            PollFactory(
                session=session,
                opened_at=started + timedelta(minutes=5 * (index + 1)),
                source_question=source,
                prompt=source.prompt if source else f"{title}: question {index + 1}?",
            )
        )
    for (learner, index), right in (answers or {}).items():
        PollResponseFactory(poll=rows[index], user=learner, is_correct=right)
    presence = present if present is not None else {learner: [(0, minutes)] for learner in learners}
    for learner, intervals in presence.items():
        for begin, end in intervals:
            AttendanceFactory(
                session=session,
                user=learner,
                joined_at=started + timedelta(minutes=begin),
                left_at=started + timedelta(minutes=end),
            )
    return session, rows


def bank_question(course, prompt: str = "Where do supply and demand meet?"):
    return BankQuestion.objects.create(
        course=course,
        kind="single",
        prompt=prompt,
        definition={
            "options": [{"id": "a", "text": "Equilibrium"}, {"id": "b", "text": "Surplus"}],
            "correct": ["a"],
        },
    )


def course_settings(course, **values) -> ReinforcementSettings:
    conf, _ = ReinforcementSettings.objects.update_or_create(course=course, defaults=values)
    return conf


def notifications_of(user, kind: str | None = None):
    rows = Notification.objects.filter(user=user)
    return rows.filter(kind=kind) if kind else rows


@pytest.fixture
def send_at_once(course):
    """The course sends follow-up as soon as it is planned (no hold window)."""
    return course_settings(course, hold_minutes=0)
