from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from classroom.models import ChatChannel, ChatMessage, LiveSession, Question, Seat, Table
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
