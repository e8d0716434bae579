"""A worker killed in the middle of sending a score: the platform has taken
it, the ScoreSend record still says pending. The task is redelivered (acks_late,
visibility timeout) to another worker, which sends the same value again with a
newer timestamp: harmless, and the record ends `sent`."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from classroom.models import SessionState
from courses.models import Role
from lti import ags
from lti.models import LtiContext, LtiIdentity, ScoreSend
from tests.conftest import database_url, require_redis
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from tests.faults.workers import Worker, worker_env
from tests.lti.platform import SCOPES

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_worker_killed_mid_send_resend_is_harmless(platform, registration, live_server, tmp_path):
    platform.tool_jwks_url = live_server.url + "/lti/jwks/"
    context = LtiContext.objects.create(
        deployment=registration.deployments.get(),
        context_id="ctx-1",
        course=CourseFactory(),
        lineitems_url=platform.url + "/ags/ctx-1/lineitems",
        ags_scopes=SCOPES[1:],
    )
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=context.course, role=Role.LEARNER)
    LtiIdentity.objects.create(issuer=platform.issuer, sub="u1", user=learner)
    LiveSessionFactory(
        course=context.course,
        scheduled_start=timezone.now() - timedelta(hours=2),
        scheduled_end=timezone.now() - timedelta(hours=1),
        state=SessionState.ENDED,
    )
    ags.gradebook_setting_update(context=context, attendance=True)
    platform.score_stall = 60.0  # the first score is taken, its answer held back
    env, queue = worker_env(database_url(), require_redis())
    first = Worker("first", env, tmp_path)
    second = None
    try:
        first.wait_ready()
        from lti.tasks import grades_push_task

        result = grades_push_task.apply_async(args=[context.pk], queue=queue)
        _wait(lambda: sum(len(s) for s in platform.scores.values()) == 1, 60, "the score")
        assert ScoreSend.objects.get().status == ScoreSend.Status.PENDING
        first.kill()  # mid-send: the platform has the score, we never heard back
        second = Worker("second", env, tmp_path)
        second.wait_ready()
        _wait(
            lambda: ScoreSend.objects.filter(status=ScoreSend.Status.SENT).exists(),
            90,
            "the redelivered push",
        )
        assert result.get(timeout=30)["sent"] == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()
    sent = [s for scores in platform.scores.values() for s in scores]
    assert [s["scoreGiven"] for s in sent] == [0.0, 0.0]  # the same value twice
    assert sent[1]["_stamp"] > sent[0]["_stamp"]
    record = ScoreSend.objects.get()
    assert record.attempts == 2 and record.status == ScoreSend.Status.SENT
    assert not platform.errors
