"""The incremental job against the rebuild: same numbers, whatever the
order, the batch size, a replayed or a late event."""

from __future__ import annotations

import pytest

from analytics.services import event_record
from insights.models import Bookmark, CourseRollup, RecordingRollup, SessionRollup
from insights.services import (
    rollups_course_rebuild,
    rollups_session_finalise,
    rollups_update,
)
from tests.insights.conftest import at

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    def rows(model, order):
        return [
            {k: v for k, v in row.items() if k not in ("id", "updated_at")}
            for row in model.objects.order_by(*order).values()
        ]

    return {
        "sessions": rows(SessionRollup, ["live_session_id", "user_id"]),
        "recordings": rows(RecordingRollup, ["recording_id", "user_id"]),
        "courses": rows(CourseRollup, ["course_id", "user_id"]),
    }


def test_incremental_in_small_batches_equals_rebuild(history):
    while rollups_update(batch=7)["events"]:
        pass
    incremental = snapshot()
    assert len(incremental["sessions"]) == 4 and len(incremental["courses"]) == 4
    rollups_course_rebuild(course_id=history.course.pk)
    assert snapshot() == incremental


def test_a_late_and_a_replayed_event_count_once(history):
    rollups_update()
    ana = SessionRollup.objects.get(user=history.ana)
    assert ana.messages == 1
    chat = {"object_type": "chat_message", "extensions": {"channel": "table", "table_id": 1}}
    first = history.record("chatted", history.ana, 45, object_id=2, **chat)
    rollups_update()
    # The same event delivered again (a client retry) and an event that happened
    # at 10:33 but reached the log only now.
    again, created = event_record(
        verb="chatted",
        actor=history.ana,
        course=history.course,
        live_session_id=history.session.pk,
        object_id=2,
        occurred_at=at(45),
        event_id=first.event_id,
        **chat,
    )
    assert (again.pk, created) == (first.pk, False)
    history.record("chatted", history.ana, 33, object_id=3, **chat)
    rollups_update()
    rollups_update()  # nothing new: changes nothing
    ana.refresh_from_db()
    assert ana.messages == 3
    assert ana.windows_active == 4  # 0, 1, 3 (10:33) and 4
    incremental = snapshot()
    rollups_course_rebuild(course_id=history.course.pk)
    assert snapshot() == incremental


def test_an_event_committed_after_a_later_one_is_not_missed(history):
    """Ids are taken at insert and become visible at commit: the job keeps
    the ids it jumped over and reads them again on the next run."""
    from tests.factories import LiveSessionFactory

    rollups_update()
    second = LiveSessionFactory(
        course=history.course,
        scheduled_start=at(60),
        scheduled_end=at(120),
        started_at=at(60),
        state="live",
    )
    late = history.record("raised_hand", history.dee, 70, live_session_id=second.pk)
    bookmark = Bookmark.objects.get(name="rollups")
    # As if the job had read id `late + 1` while `late` was still uncommitted.
    bookmark.last_event_id = late.pk
    bookmark.gaps = {str(late.pk): "2999-01-01T00:00:00+00:00"}
    bookmark.save()
    rollups_update()
    assert SessionRollup.objects.get(live_session_id=second.pk, user=history.dee).hands == 1
    bookmark.refresh_from_db()
    assert bookmark.gaps == {}


def test_finalising_a_session_marks_its_rows_final(history):
    rollups_session_finalise(session_id=history.session.pk)
    assert set(SessionRollup.objects.values_list("is_final", flat=True)) == {True}
    assert CourseRollup.objects.count() == 4


def test_enrollment_and_seating_changes_match_the_rebuild(history, instructor):
    from courses.models import Role
    from courses.services import enrollment_deactivate, enrollment_set
    from tests.factories import TableFactory, UserFactory

    rollups_update()
    newcomer = UserFactory(display_name="Eve")
    enrollment_set(user=newcomer, course=history.course, role=Role.LEARNER, actor=instructor)
    enrollment_deactivate(user=history.cid, course=history.course, actor=instructor)
    other = TableFactory(course=history.course)
    # Dee moved before the session (a late record of it): the session's table changes.
    history.record(
        "seated",
        history.dee,
        -30,
        object_type="table",
        object_id=other.pk,
        live_session_id=None,
        extensions={"method": "manual", "by": instructor.pk, "from_table": None},
    )
    rollups_update()
    assert SessionRollup.objects.get(user=newcomer).status == "absent"
    assert not SessionRollup.objects.filter(user=history.cid).exists()
    assert not CourseRollup.objects.filter(user=history.cid).exists()
    assert SessionRollup.objects.get(user=history.dee).table_id == other.pk
    incremental = snapshot()
    rollups_course_rebuild(course_id=history.course.pk)
    assert snapshot() == incremental


def test_the_rebuild_command(history):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("insights_rebuild", "--course", str(history.course.pk), stdout=out)
    assert "1 sessions, 1 recordings" in out.getvalue()
    assert SessionRollup.objects.count() == 4
    with pytest.raises(CommandError, match="No course with id 999999"):
        call_command("insights_rebuild", "--course", "999999")


def test_a_cancelled_session_and_a_retrimmed_recording_match_the_rebuild(history, instructor):
    from classroom.models import LiveSession
    from playback.models import Recording
    from tests.factories import LiveSessionFactory

    planned = LiveSessionFactory(
        course=history.course, scheduled_start=at(7 * 24 * 60), scheduled_end=at(7 * 24 * 60 + 60)
    )
    history.record("scheduled", instructor, 60, object_id=planned.pk, live_session_id=planned.pk)
    rollups_update()
    assert SessionRollup.objects.filter(live_session_id=planned.pk, status="upcoming").count() == 4
    LiveSession.objects.filter(pk=planned.pk).update(state="cancelled")
    history.record("cancelled", instructor, 61, object_id=planned.pk, live_session_id=planned.pk)
    # The recording is trimmed to its first 40 minutes: Ben watched all of it.
    Recording.objects.filter(pk=history.recording.pk).update(trim_end_ms=40 * 60_000)
    history.record(
        "configured",
        instructor,
        62,
        object_type="recording",
        object_id=history.recording.pk,
        recording_id=history.recording.pk,
        live_session_id=None,
        extensions={"changed": ["trim_end_ms"]},
    )
    rollups_update()
    assert not SessionRollup.objects.filter(live_session_id=planned.pk).exists()
    assert RecordingRollup.objects.get(user=history.ben).watch_percent == 100.0
    incremental = snapshot()
    rollups_course_rebuild(course_id=history.course.pk)
    assert snapshot() == incremental
