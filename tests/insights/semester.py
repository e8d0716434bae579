"""A few weeks of a small course, for the pages' browser test and screenshots:
two persistent tables, weekly sessions, learners who come, who catch up in
playback, who drift away. Written through `event_record` like the real apps,
then the rollups are built by the real rebuild."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from analytics.services import event_record
from classroom.models import Poll, PollResponse, SessionState
from classroom.services.polls import voter_key
from courses.models import Role
from insights.services import rollups_course_rebuild
from playback.models import Recording, RecordingSource, RecordingStatus, WatchProgress
from tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    SeatFactory,
    TableFactory,
)

START = datetime(2026, 9, 7, 14, 0, tzinfo=UTC)  # a Monday
LENGTH_MIN = 60
# Per learner and per week: "P" present (and taking part), "S" present but
# silent, "W" absent and watched the recording later, "A" absent, nothing.
PATTERNS = {
    "Amara Okafor": "PPPP",
    "Ben Carter": "PWPP",
    "Chen Wei": "PPSS",
    "Dana Novak": "PAAA",
    "Elif Yilmaz": "WWPW",
    "Femi Adeyemi": "PPPA",
}


@dataclass
class Semester:
    course: object
    instructor: object
    learners: dict = field(default_factory=dict)
    sessions: list = field(default_factory=list)
    tables: list = field(default_factory=list)


def semester_build(*, weeks: int = 4) -> Semester:
    course = CourseFactory(code="BIO-201", title="Cell Biology II", term="Fall 2026")
    instructor = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Maya Alvarez"
    ).user
    semester = Semester(course=course, instructor=instructor)
    semester.tables = [
        TableFactory(course=course, name="Table North"),
        TableFactory(course=course, name="Table South"),
    ]
    for index, name in enumerate(PATTERNS):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        table = semester.tables[index % 2]
        SeatFactory(course=course, table=table, user=user)
        event_record(  # as classroom's seating services record it
            verb="seated",
            object_type="table",
            object_id=table.pk,
            actor=user,
            course=course,
            occurred_at=START - timedelta(days=1),
            extensions={"method": "manual", "by": instructor.pk, "from_table": None},
        )
        semester.learners[name] = user
    for week in range(weeks):
        semester.sessions.append(_week(semester, week))
    # One more, next week, not held yet.
    LiveSessionFactory(
        course=course,
        title=f"Week {weeks + 1}: Signalling",
        scheduled_start=START + timedelta(weeks=weeks),
        scheduled_end=START + timedelta(weeks=weeks, minutes=LENGTH_MIN),
    )
    rollups_course_rebuild(course_id=course.pk)
    return semester


TITLES = ["Membranes", "Mitochondria", "The cell cycle", "Cytoskeleton", "Transport"]


def _week(semester: Semester, week: int):
    course = semester.course
    start = START + timedelta(weeks=week)
    session = LiveSessionFactory(
        course=course,
        title=f"Week {week + 1}: {TITLES[week % len(TITLES)]}",
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=LENGTH_MIN),
        started_at=start,
        ended_at=start + timedelta(minutes=LENGTH_MIN - 5),
        state=SessionState.ENDED,
    )
    poll = Poll.objects.create(
        session=session,
        kind="single",
        prompt=f"Quiz {week + 1}",
        is_quiz=True,
        definition={
            "options": [{"id": "a", "text": "Yes"}, {"id": "b", "text": "No"}],
            "correct": ["a"],
        },
        opened_at=start + timedelta(minutes=15),
    )
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title=session.title,
        source=RecordingSource.LIVE,
        status=RecordingStatus.READY,
        duration_ms=(LENGTH_MIN - 5) * 60_000,
        file=f"recordings/week-{week + 1}.webm",  # never opened: only its bounds matter
    )

    def record(verb, actor, minute, **fields):
        values = {
            "object_type": "live_session",
            "object_id": session.pk,
            "course": course,
            "live_session_id": session.pk,
            "occurred_at": start + timedelta(minutes=minute),
        }
        values.update(fields)
        event_record(verb=verb, actor=actor, **values)

    record("started", semester.instructor, 0)
    record(
        "opened_poll",
        semester.instructor,
        15,
        object_type="poll",
        object_id=poll.pk,
        extensions={"kind": "single", "scope": "class", "quiz": True},
    )
    for index, (name, user) in enumerate(semester.learners.items()):
        kind = PATTERNS[name][week % len(PATTERNS[name])]
        if kind in "PS":
            record("joined", user, 1 + index)
            if kind == "P":
                for minute in range(5 + index, 50, 6 + 3 * ((index + week) % 4)):
                    record(
                        "chatted",
                        user,
                        minute,
                        object_type="chat_message",
                        object_id=1000 * week + minute,
                        extensions={"channel": "class", "table_id": None},
                    )
                right = (index + week) % 3 != 0
                record(
                    "answered",
                    user,
                    16 + index,
                    object_type="poll",
                    object_id=poll.pk,
                    success=right,
                )
                answer = {"option": "a" if right else "b"}
                PollResponse.objects.create(
                    poll=poll,
                    voter_key=voter_key(poll_id=poll.pk, user_id=user.pk),
                    user=user,
                    answer=answer,
                    first_answer=answer,
                    is_correct=right,
                    answered_at=start + timedelta(minutes=16 + index),
                )
                record("spoke", user, 25 + index, duration_ms=(4 + 9 * (index % 3)) * 1000)
                if index % 2 == 0:
                    record("raised_hand", user, 30 + index)
            record("left", user, LENGTH_MIN - 5 - ((index + week) % 4) * 7)
        elif kind == "W":
            playback = {
                "object_type": "recording",
                "object_id": recording.pk,
                "recording_id": recording.pk,
                "mode": "playback",
            }
            day_later = 24 * 60 + 60 * index
            record("played", user, day_later, **playback)
            record(
                "answered",
                user,
                day_later + 16,
                media_time_ms=16 * 60_000,
                success=True,
                **{**playback, "object_type": "poll", "object_id": poll.pk},
            )
            record(
                "completed",
                user,
                day_later + 50,
                **playback,
                extensions={"played_segments": "0.000[.]3000.000"},
            )
            WatchProgress.objects.create(
                recording=recording,
                user=user,
                segments=[[0, 50 * 60_000]],
                watched_ms=50 * 60_000,
            )
    record("ended", semester.instructor, LENGTH_MIN - 5)
    return session
