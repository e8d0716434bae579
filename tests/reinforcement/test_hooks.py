"""The planning job starts when a live session ends and again when its
recording's timeline is built (hooks registered in ReinforcementConfig.ready),
queued after commit; the course page links to the review pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from classroom.models import LiveSession, SessionState
from classroom.services.sessions import live_session_end
from playback.models import Recording, RecordingSource, RecordingStatus
from playback.services.timeline import recording_timeline_build
from reinforcement.models import FollowUpItem, FollowUpPlan, ItemKind
from tests.reinforcement.conftest import learners_of, quiz_session

pytestmark = pytest.mark.django_db


def test_ending_a_session_plans_its_follow_up_after_commit(
    course, instructor, tasks_run_in_process, django_capture_on_commit_callbacks
):
    (ana,) = learners_of(course, 1)
    session, _polls = quiz_session(course, [ana], answers={(ana, 0): False})
    LiveSession.objects.filter(pk=session.pk).update(state=SessionState.LIVE, ended_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        live_session_end(session_id=session.pk, actor=instructor)

    plan = FollowUpPlan.objects.get(session=session)
    assert plan.sources == ["session_ended"]
    assert FollowUpItem.objects.filter(plan=plan, user=ana, kind=ItemKind.REVIEW).count() == 2


def test_a_built_timeline_adds_rewatch_links_at_the_question_minus_a_minute(
    course, tasks_run_in_process, django_capture_on_commit_callbacks
):
    (ana,) = learners_of(course, 1)
    session, (first, _second) = quiz_session(course, [ana], answers={(ana, 0): False})
    with django_capture_on_commit_callbacks(execute=True):
        from reinforcement.services.planning import followups_plan

        followups_plan(session_id=session.pk, source="session_ended")
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title=session.title,
        source=RecordingSource.LIVE,
        status=RecordingStatus.READY,
        file="recordings/x.webm",
        duration_ms=3_600_000,
        recorded_from=session.started_at,
    )

    with django_capture_on_commit_callbacks(execute=True):
        recording_timeline_build(recording_id=recording.pk)

    plan = FollowUpPlan.objects.get(session=session)
    assert plan.sources == ["session_ended", "timeline_ready"]
    assert plan.recording_id == recording.pk
    rewatch = FollowUpItem.objects.get(
        user=ana, kind=ItemKind.REWATCH, question_key=f"poll:{first.pk}"
    )
    asked_ms = int((first.opened_at - session.started_at) / timedelta(milliseconds=1))
    assert rewatch.data["media_ms"] == asked_ms
    assert rewatch.url == f"/recordings/{recording.pk}/?t={(asked_ms - 60_000) // 1000}"
    assert rewatch.explanation == "Watch the moment this question was asked, from 4:00."


def test_course_page_links_learners_and_staff_to_reinforcement(client, course, learner, instructor):
    client.force_login(learner)
    page = client.get(reverse("course-detail", args=[course.pk])).content.decode()
    assert reverse("reinforcement-review", args=[course.pk]) in page
    assert reverse("reinforcement-followups", args=[course.pk]) in page
    assert reverse("reinforcement-course", args=[course.pk]) not in page

    client.force_login(instructor)
    page = client.get(reverse("course-detail", args=[course.pk])).content.decode()
    assert reverse("reinforcement-course", args=[course.pk]) in page
