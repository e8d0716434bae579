from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from classroom.models import (
    Attendance,
    ChatChannel,
    ChatMessage,
    LiveSession,
    Poll,
    PollResponse,
    Question,
    Seat,
    Table,
)
from classroom.services.polls import voter_key
from courses.models import Course, Enrollment, Role, User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    display_name = factory.Sequence(lambda n: f"Person {n:04d}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save(update_fields=["password"])


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"Course {n}")
    code = factory.Sequence(lambda n: f"C-{n:03d}")
    term = "Fall 2026"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    role = Role.LEARNER


class LiveSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiveSession

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Session {n}")
    scheduled_start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    scheduled_end = factory.LazyAttribute(
        lambda session: session.scheduled_start + timedelta(hours=1)
    )


class TableFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Table

    course = factory.SubFactory(CourseFactory)
    name = factory.Sequence(lambda n: f"Table {n}")


class SeatFactory(factory.django.DjangoModelFactory):
    """A learner at a table of the table's course."""

    class Meta:
        model = Seat

    table = factory.SubFactory(TableFactory)
    course = factory.SelfAttribute("table.course")
    user = factory.SubFactory(UserFactory)


class ChatMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChatMessage

    session = factory.SubFactory(LiveSessionFactory)
    channel = ChatChannel.CLASS
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"message {n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    session = factory.SubFactory(LiveSessionFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"question {n}?")


class PollFactory(factory.django.DjangoModelFactory):
    """A graded single-choice quiz question launched in a session (closed)."""

    class Meta:
        model = Poll

    session = factory.SubFactory(LiveSessionFactory)
    kind = "single"
    prompt = factory.Sequence(lambda n: f"Question {n}?")
    definition = factory.LazyFunction(
        lambda: {
            "options": [{"id": "a", "text": "Alpha"}, {"id": "b", "text": "Beta"}],
            "correct": ["a"],
        }
    )
    is_quiz = True
    state = "closed"
    opened_at = factory.LazyFunction(timezone.now)


class PollResponseFactory(factory.django.DjangoModelFactory):
    """A learner's named answer (`voter_key` as the live room computes it)."""

    class Meta:
        model = PollResponse

    poll = factory.SubFactory(PollFactory)
    user = factory.SubFactory(UserFactory)
    voter_key = factory.LazyAttribute(lambda r: voter_key(poll_id=r.poll.pk, user_id=r.user.pk))
    answer = factory.LazyAttribute(lambda r: {"option": "a" if r.is_correct else "b"})
    first_answer = factory.LazyAttribute(lambda r: r.answer)
    is_correct = True
    answered_at = factory.LazyAttribute(lambda r: r.poll.opened_at + timedelta(seconds=10))
    first_answered_at = factory.LazyAttribute(lambda r: r.answered_at)
    time_to_first_ms = 10_000


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    session = factory.SubFactory(LiveSessionFactory)
    user = factory.SubFactory(UserFactory)
    connection = factory.Sequence(lambda n: f"conn-{n}")
    joined_at = factory.LazyFunction(timezone.now)
