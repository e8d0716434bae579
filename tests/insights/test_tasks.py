"""The jobs: the session-ended hook finalises a session's rollups; a real
Celery worker runs the incremental job and the rebuild."""

from __future__ import annotations

import pytest
from django.utils import timezone

from classroom.models import SessionState
from classroom.services.sessions import live_session_end
from insights.models import CourseRollup, SessionRollup
from tests.factories import LiveSessionFactory
from tests.integration.test_celery_worker import celery_worker_process  # noqa: F401


@pytest.mark.django_db
def test_ending_a_session_finalises_its_rollups(
    course, instructor, learner, tasks_run_in_process, django_capture_on_commit_callbacks
):
    now = timezone.now()
    session = LiveSessionFactory(
        course=course,
        state=SessionState.LIVE,
        started_at=now,
        scheduled_start=now,
        scheduled_end=now + timezone.timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        live_session_end(session_id=session.pk, actor=instructor)
    row = SessionRollup.objects.get(live_session_id=session.pk, user=learner)
    assert (row.is_final, row.status) == (True, "absent")
    assert CourseRollup.objects.get(user=learner).sessions_absent == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_incremental_job_and_the_rebuild(celery_worker_process, history):  # noqa: F811
    from insights.tasks import rollups_course_rebuild, rollups_update

    done = rollups_update.apply_async(queue=celery_worker_process).get(timeout=90)
    assert done["events"] >= 20 and done["sessions"] == 1
    incremental = list(SessionRollup.objects.order_by("user_id").values_list("engagement_score"))
    rebuilt = rollups_course_rebuild.apply_async(
        args=[history.course.pk], queue=celery_worker_process
    ).get(timeout=60)
    assert rebuilt == {"sessions": 1, "recordings": 1}
    assert list(SessionRollup.objects.order_by("user_id").values_list("engagement_score")) == (
        incremental
    )
