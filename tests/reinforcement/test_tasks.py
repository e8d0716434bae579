"""The post-session planning job on a real Celery worker on Redis, SIGKILLed
in the middle of planning, then restarted: the plan exists once and every
learner has exactly one follow-up notification.

The job is made slow at a known point by REINFORCEMENT_PLAN_LEARNER_DELAY
(a documented test-only setting: it sleeps between learners inside the
planning transaction). The test waits until the worker's transaction holds
locks on the plan table, kills the worker's whole process group, starts a
new worker, and waits for Redis to hand the unacknowledged task back
(JOB_VISIBILITY_TIMEOUT, short in tests/faults/workers.py)."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from analytics.models import LearningEvent
from reinforcement import notify
from reinforcement.models import FollowUpItem, FollowUpPlan, PlanStatus, ReviewAnswer, ReviewCard
from tests.conftest import database_url, require, require_redis
from tests.faults.workers import (
    TEST_RESTORE_INTERVAL,
    TEST_VISIBILITY_TIMEOUT,
    running_workers,
    task_state_when_done,
    wait_for,
    worker_env,
)
from tests.reinforcement.conftest import (
    course_settings,
    learners_of,
    notifications_of,
    quiz_session,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(150),
]

LEARNERS = 12
DELAY = 0.4  # seconds per learner: the planning transaction lasts about 5 s


def _planning_in_flight() -> bool:
    """Another transaction holds a lock on the plan table: the job's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'reinforcement_followupplan' AND l.pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_planning_killed_mid_run_plans_once_after_restart(tmp_path, course):
    require(connection.vendor == "postgresql", "needs PostgreSQL (row locks seen in pg_locks)")
    from reinforcement.tasks import followups_plan

    course_settings(course, hold_minutes=0)
    learners = learners_of(course, LEARNERS)
    session, polls = quiz_session(
        course, learners, answers={(learner, 0): False for learner in learners}
    )
    env, queue = worker_env(
        database_url(), require_redis(), REINFORCEMENT_PLAN_LEARNER_DELAY=str(DELAY)
    )

    with running_workers(env, tmp_path, ("first",)) as (first,):
        result = followups_plan.apply_async(args=[session.pk, "session_ended"], queue=queue)
        wait_for(_planning_in_flight, 40, "the worker never started planning")
        time.sleep(DELAY * 3)  # a few learners in
        first.kill()
        killed_at = time.monotonic()
        assert FollowUpPlan.objects.count() == 0  # the killed run left nothing

    with running_workers(env, tmp_path, ("restarted",)) as (restarted,):
        state = task_state_when_done(
            result.id, TEST_VISIBILITY_TIMEOUT + TEST_RESTORE_INTERVAL + 40
        )
        print(f"planned {time.monotonic() - killed_at:.1f} s after the kill")
        assert state == "SUCCESS", restarted.log()[-3000:]
        assert restarted.succeeded(result.id) == 1

    plan = FollowUpPlan.objects.get()
    assert plan.status == PlanStatus.SENT and plan.session_id == session.pk
    assert FollowUpItem.objects.filter(plan=plan, kind="review").count() == 2 * LEARNERS
    assert ReviewCard.objects.count() == 2 * LEARNERS
    assert ReviewAnswer.objects.filter(source="live").count() == LEARNERS
    for learner in learners:
        assert notifications_of(learner, notify.FOLLOWUP).count() == 1
    assert LearningEvent.objects.filter(verb="followup.planned").count() == 1
    assert LearningEvent.objects.filter(verb="followup.sent").count() == 1
