"""The staff services page, the launch-triggered roster sync (throttled), and a
real Celery worker running the roster sync and grade push tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classroom.models import Attendance, SessionState
from config.celery import app as celery_app
from courses.models import Role
from lti import ags
from lti.models import LtiContext, RosterSync, ScoreSend
from lti.nrps import roster_sync
from tests.conftest import celery_worker
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from tests.lti.conftest import INSTRUCTOR, LEARNER, run_launch
from tests.lti.platform import SCOPES


@pytest.fixture
def tool_jwks(live_server, platform):
    platform.tool_jwks_url = live_server.url + "/lti/jwks/"
    return platform.tool_jwks_url


@pytest.fixture
def eager():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def context(registration, platform, tool_jwks):
    return LtiContext.objects.create(
        deployment=registration.deployments.get(),
        context_id="ctx-1",
        course=CourseFactory(),
        memberships_url=platform.url + "/nrps/ctx-1",
        lineitems_url=platform.url + "/ags/ctx-1/lineitems",
        ags_scopes=SCOPES[1:],
    )


def _member(n, roles=None):
    return {"user_id": f"u{n}", "roles": roles or [LEARNER], "name": f"Member {n}"}


@pytest.mark.django_db(transaction=True)
def test_staff_page_shows_syncs_and_grades_and_refuses_others(client, platform, context, eager):
    course = context.course
    teacher, ta, learner = UserFactory(), UserFactory(), UserFactory()
    EnrollmentFactory(user=teacher, course=course, role=Role.INSTRUCTOR)
    EnrollmentFactory(user=ta, course=course, role=Role.TA)
    EnrollmentFactory(user=learner, course=course, role=Role.LEARNER)
    other_teacher = UserFactory()
    EnrollmentFactory(user=other_teacher, course=CourseFactory(), role=Role.INSTRUCTOR)
    url = f"/lti/contexts/{context.pk}/services/"
    for user in (learner, other_teacher):
        client.force_login(user)
        refused = client.get(url)
        assert refused.status_code == 403 and b"lti_not_course_staff" in refused.content
        assert client.post(url, {"action": "sync"}).status_code == 403
    client.force_login(teacher)
    assert client.get("/lti/contexts/999999/services/").status_code == 403
    for n in range(3):
        platform.member_put("ctx-1", _member(n))
    answer = client.post(url, {"action": "sync"})
    assert answer.status_code == 302
    sync = RosterSync.objects.get()
    assert sync.trigger == RosterSync.Trigger.STAFF and sync.added == 3
    # Grades: choose attendance; the push runs (eagerly here) and the page tells.
    session = LiveSessionFactory(
        course=course,
        title="Week 1",
        scheduled_start=timezone.now() - timedelta(hours=2),
        scheduled_end=timezone.now() - timedelta(hours=1),
        state=SessionState.ENDED,
    )
    for member in EnrollmentFactory._meta.model.objects.filter(
        course=course, user__lti_identities__sub__in=["u0", "u1"]
    ):
        Attendance.objects.create(
            session=session,
            user=member.user,
            connection=f"c{member.pk}",
            joined_at=session.scheduled_start,
            left_at=session.scheduled_end,
        )
    assert client.post(url, {"action": "gradebook", "attendance": "on"}).status_code == 302
    assert ScoreSend.objects.filter(status=ScoreSend.Status.SENT).count() == 3
    # A later learner's score is refused by the platform: the page says why.
    late = UserFactory()
    EnrollmentFactory(user=late, course=course, role=Role.LEARNER)
    from lti.models import LtiIdentity

    LtiIdentity.objects.create(issuer=platform.issuer, sub="u9", user=late)
    platform.fault("/ags/ctx-1/lineitems/", 400)
    assert ags.grades_push(context=context).failed == 1
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Attendance: Week 1" in html and 'name="attendance" checked' in html
    assert 'name="review"' in html and 'name="review" checked' not in html  # offered, off
    assert html.count('class="roster-sync roster-sync--ok"') == 1
    assert "injected 400" in html  # why it failed
    assert html.count('class="score-sent"') == 3  # u0, u1 present; u2 absent (0)
    client.force_login(ta)
    assert client.get(url).status_code == 200
    entry = client.get(f"/lti/courses/{course.pk}/services/")
    assert entry.status_code == 302 and entry["Location"] == url
    client.force_login(learner)
    assert client.get(f"/lti/courses/{course.pk}/services/").status_code == 403
    client.force_login(ta)
    assert client.post(url, {"action": "nonsense"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_launch_queues_a_roster_sync_at_most_every_ten_minutes(
    client, platform, registration, tool_jwks, eager
):
    for n in range(4):
        platform.member_put("ctx-1", _member(n))
    platform.member_put("ctx-1", _member(99, roles=[INSTRUCTOR]))
    response, _ = run_launch(client, platform, platform.base_claims(sub="u99", roles=[INSTRUCTOR]))
    assert response.status_code == 302
    assert RosterSync.objects.filter(trigger=RosterSync.Trigger.LAUNCH).count() == 1
    sync = RosterSync.objects.get()
    assert sync.status == RosterSync.Status.OK and sync.members == 5
    response, _ = run_launch(client, platform, platform.base_claims(sub="u1"))
    assert response.status_code == 302
    assert RosterSync.objects.count() == 1  # throttled
    LtiContext.objects.update(roster_sync_requested_at=timezone.now() - timedelta(minutes=11))
    run_launch(client, platform, platform.base_claims(sub="u2"))
    assert RosterSync.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_beat_runs_the_nightly_roster_sync_and_the_periodic_grade_push(platform, context, eager):
    from django.conf import settings

    from lti.tasks import grades_push_all_task, roster_sync_all_task

    nightly = settings.CELERY_BEAT_SCHEDULE["lti-roster-sync-nightly"]
    assert nightly["task"] == "lti.roster_sync_all"
    assert (nightly["schedule"].hour, nightly["schedule"].minute) == ({2}, {30})
    assert settings.CELERY_BEAT_SCHEDULE["lti-grades-push"]["task"] == "lti.grades_push_all"
    assert {"lti.roster_sync_all", "lti.grades_push_all"} <= set(celery_app.tasks)
    for n in range(3):
        platform.member_put("ctx-1", _member(n))
    LtiContext.objects.create(  # no NRPS for this one: not synced
        deployment=context.deployment, context_id="ctx-2", course=CourseFactory()
    )
    assert roster_sync_all_task() == 1
    sync = RosterSync.objects.get()
    assert sync.trigger == RosterSync.Trigger.NIGHTLY and sync.added == 3
    assert grades_push_all_task() == 0  # nothing chosen
    ags.gradebook_setting_update(context=context, review=True)
    assert grades_push_all_task() == 1


@pytest.fixture
def celery_worker_queue():
    with celery_worker(prefix="test-lti") as queue:
        yield queue


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_real_worker_syncs_roster_and_pushes_grades(platform, context, celery_worker_queue):
    from lti.tasks import grades_push_task, roster_sync_task

    platform.page_size = 10
    for n in range(25):
        platform.member_put("ctx-1", _member(n))
    result = roster_sync_task.apply_async(args=[context.pk, "staff"], queue=celery_worker_queue)
    outcome = result.get(timeout=90)
    assert outcome["status"] == "ok"
    assert RosterSync.objects.get().added == 25
    LiveSessionFactory(  # ended; nobody attended: 25 scores of 0
        course=context.course,
        scheduled_start=timezone.now() - timedelta(hours=2),
        scheduled_end=timezone.now() - timedelta(hours=1),
        state=SessionState.ENDED,
    )
    ags.gradebook_setting_update(context=context, attendance=True)
    pushed = grades_push_task.apply_async(args=[context.pk], queue=celery_worker_queue)
    assert pushed.get(timeout=90)["sent"] == 25
    again = grades_push_task.apply_async(args=[context.pk], queue=celery_worker_queue)
    assert again.get(timeout=90)["skipped"] == 25
    assert ScoreSend.objects.filter(status=ScoreSend.Status.SENT).count() == 25
    assert sum(len(s) for s in platform.scores.values()) == 25
    assert roster_sync(context=context, trigger="staff").status == "ok"  # and in-process too


@pytest.mark.django_db(transaction=True)
def test_the_course_page_leads_its_staff_to_the_lms_services(client, context):
    course = context.course
    teacher, learner = UserFactory(), UserFactory()
    EnrollmentFactory(user=teacher, course=course, role=Role.INSTRUCTOR)
    EnrollmentFactory(user=learner, course=course, role=Role.LEARNER)
    link = f'href="/lti/contexts/{context.pk}/services/"'
    client.force_login(teacher)
    page = client.get(f"/courses/{course.pk}/")
    assert page.status_code == 200
    assert "Connected services" in page.content.decode() and link in page.content.decode()
    client.force_login(learner)
    page = client.get(f"/courses/{course.pk}/")
    assert page.status_code == 200 and link not in page.content.decode()
    # A course no LMS feeds shows no such section.
    other = CourseFactory()
    EnrollmentFactory(user=teacher, course=other, role=Role.INSTRUCTOR)
    client.force_login(teacher)
    assert "Connected services" not in client.get(f"/courses/{other.pk}/").content.decode()
