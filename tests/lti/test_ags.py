"""AGS grade passback against the strict platform: line items created,
relabelled and deleted, scores sent once per change with increasing
timestamps, re-sends after a killed worker, faults, and the staff page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classroom.gradebook import (
    session_attendance_scores,
    session_participation_scores,
    session_quiz_scores,
)
from classroom.models import Attendance, Poll, PollKind, PollResponse, PollState, SessionState
from courses.models import Role
from lti import ags
from lti.client import ServiceError, service_request
from lti.models import GradeKind, LineItem, LtiContext, LtiIdentity, LtiResourceLink, ScoreSend
from playback.models import Recording, RecordingStatus, WatchProgress
from tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from tests.lti.platform import SCOPES


@pytest.fixture
def tool_jwks(live_server, platform):
    platform.tool_jwks_url = live_server.url + "/lti/jwks/"
    return platform.tool_jwks_url


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


def _learner(context, n: int, role=Role.LEARNER):
    user = UserFactory()
    EnrollmentFactory(user=user, course=context.course, role=role)
    LtiIdentity.objects.create(
        issuer=context.deployment.registration.issuer, sub=f"u{n}", user=user
    )
    return user


def _ended_session(course, title="Week 1", minutes=60):
    start = timezone.now() - timedelta(hours=3)
    return LiveSessionFactory(
        course=course,
        title=title,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=minutes),
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        state=SessionState.ENDED,
    )


def _attend(session, user, start_min, end_min, connection="c"):
    base = session.scheduled_start
    Attendance.objects.create(
        session=session,
        user=user,
        connection=f"{connection}-{user.pk}-{start_min}",
        joined_at=base + timedelta(minutes=start_min),
        left_at=base + timedelta(minutes=end_min),
    )


def _scores_of(platform, user_id: str) -> list[dict]:
    return [s for scores in platform.scores.values() for s in scores if s["userId"] == user_id]


@pytest.mark.django_db
def test_attendance_is_the_union_of_intervals_within_the_schedule():
    session = _ended_session(CourseFactory(), minutes=60)
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()
    _attend(session, ada, 0, 30)
    _attend(session, ada, 20, 45, connection="tab2")  # overlaps: counts once
    _attend(session, bob, -30, 15)  # before the start does not count
    _attend(session, cy, 50, 90)  # after the end does not count
    scores = session_attendance_scores(session=session)
    assert scores == {ada.pk: 0.75, bob.pk: 0.25, cy.pk: round(10 / 60, 4)}


@pytest.mark.django_db
def test_quiz_and_participation_scores():
    session = _ended_session(CourseFactory())
    ada, bob, idle = UserFactory(), UserFactory(), UserFactory()
    polls = [
        Poll.objects.create(
            session=session,
            kind=PollKind.SINGLE,
            prompt=f"Q{n}",
            is_quiz=True,
            state=PollState.CLOSED,
            opened_at=timezone.now(),
        )
        for n in range(4)
    ]
    # An open poll and a survey are not graded.
    Poll.objects.create(
        session=session, kind=PollKind.SINGLE, prompt="open", is_quiz=True, opened_at=timezone.now()
    )
    survey = Poll.objects.create(
        session=session,
        kind=PollKind.RATING,
        prompt="fun?",
        state=PollState.CLOSED,
        opened_at=timezone.now(),
    )
    for poll, correct in zip(polls, [True, True, True, False], strict=True):
        PollResponse.objects.create(
            poll=poll,
            voter_key=f"a{poll.pk}",
            user=ada,
            answer=1,
            first_answer=1,
            is_correct=correct,
        )
    PollResponse.objects.create(
        poll=polls[0], voter_key="b", user=bob, answer=2, first_answer=2, is_correct=False
    )
    PollResponse.objects.create(poll=survey, voter_key="b2", user=bob, answer=5, first_answer=5)
    assert session_quiz_scores(session=session, learner_ids={idle.pk}) == {
        ada.pk: 0.75,
        bob.pk: 0.0,
        idle.pk: 0.0,
    }
    _attend(session, idle, 0, 60)
    assert session_participation_scores(session=session) == {ada.pk: 1.0, bob.pk: 1.0, idle.pk: 0.0}
    empty = _ended_session(CourseFactory())
    assert session_quiz_scores(session=empty) is None


@pytest.mark.django_db(transaction=True)
def test_line_items_created_updated_deleted(platform, context):
    session = _ended_session(context.course, title="Week 1")
    LiveSessionFactory(course=context.course, title="Cancelled", state=SessionState.CANCELLED)
    ags.gradebook_setting_update(context=context, attendance=True, quiz=True)
    report = ags.grades_push(context=context)
    assert report.created == 2 and not report.failed, report.errors
    labels = sorted(i["label"] for i in platform.line_items["ctx-1"].values())
    assert labels == ["Attendance: Week 1", "Quiz: Week 1"]
    for item in platform.line_items["ctx-1"].values():
        assert item["scoreMaximum"] == 100 and item["resourceId"].endswith(f":{session.pk}")
    session.title = "Week 1: cells"
    session.save()
    report = ags.grades_push(context=context)
    assert report.updated == 2 and report.created == 0
    assert "Attendance: Week 1: cells" in [
        i["label"] for i in platform.line_items["ctx-1"].values()
    ]
    ags.gradebook_setting_update(context=context, attendance=True, quiz=False)
    report = ags.grades_push(context=context)
    assert report.deleted == 1
    assert [i["label"] for i in platform.line_items["ctx-1"].values()] == [
        "Attendance: Week 1: cells"
    ]
    assert LineItem.objects.filter(context=context).count() == 1
    assert not platform.errors


@pytest.mark.django_db(transaction=True)
def test_scores_sent_once_per_change_with_increasing_timestamps(platform, context):
    ada, bob = _learner(context, 1), _learner(context, 2)
    _learner(context, 3, role=Role.INSTRUCTOR)  # staff get no score
    session = _ended_session(context.course)
    _attend(session, ada, 0, 60)
    _attend(session, bob, 0, 15)
    ags.gradebook_setting_update(context=context, attendance=True)
    first = ags.grades_push(context=context)
    assert first.sent == 2 and not first.failed, first.errors
    assert [s["scoreGiven"] for s in _scores_of(platform, "u1")] == [100.0]
    assert [s["scoreGiven"] for s in _scores_of(platform, "u2")] == [25.0]
    score = _scores_of(platform, "u1")[0]
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert not _scores_of(platform, "u3")
    # Nothing changed: nothing sent.
    again = ags.grades_push(context=context)
    assert again.sent == 0 and again.skipped == 2
    assert len(_scores_of(platform, "u2")) == 1
    # Bob's attendance changes: one new score, later timestamp.
    _attend(session, bob, 30, 60)
    third = ags.grades_push(context=context)
    assert third.sent == 1 and third.skipped == 1
    bob_scores = _scores_of(platform, "u2")
    assert [s["scoreGiven"] for s in bob_scores] == [25.0, 75.0]
    assert bob_scores[1]["_stamp"] > bob_scores[0]["_stamp"]


@pytest.mark.django_db(transaction=True)
def test_resend_after_a_killed_worker_is_harmless(platform, context):
    ada = _learner(context, 1)
    session = _ended_session(context.course)
    _attend(session, ada, 0, 30)
    ags.gradebook_setting_update(context=context, attendance=True)
    ags.grades_push(context=context)
    # The worker died after the platform took the score, before it was marked
    # sent: the record is still pending with the timestamp the platform has.
    ScoreSend.objects.update(status=ScoreSend.Status.PENDING, sent_at=None)
    report = ags.grades_push(context=context)
    assert report.sent == 1 and not report.failed, report.errors
    scores = _scores_of(platform, "u1")
    assert [s["scoreGiven"] for s in scores] == [50.0, 50.0]  # same value, newer timestamp
    assert ScoreSend.objects.get().status == ScoreSend.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_faults_on_scores_are_retried_and_failures_recorded(platform, context, settings):
    settings.LTI_SERVICE_BACKOFF = 0.01
    settings.LTI_SERVICE_RETRIES = 1
    ada = _learner(context, 1)
    session = _ended_session(context.course)
    _attend(session, ada, 0, 60)
    ags.gradebook_setting_update(context=context, attendance=True)
    ags.line_items_sync(context=context)
    platform.fault("/ags/ctx-1/lineitems/", 500)
    platform.fault("/ags/ctx-1/lineitems/", 401)
    report = ags.grades_push(context=context)
    assert report.sent == 1, report.errors
    # Down for good: the failure is stored with its reason, and sent later.
    _attend(session, _learner(context, 2), 0, 30)
    platform.fault("/ags/ctx-1/lineitems/", 503)
    platform.fault("/ags/ctx-1/lineitems/", 503)
    report = ags.grades_push(context=context)
    assert report.failed == 1 and "503" in report.errors[0]
    failed = ScoreSend.objects.get(status=ScoreSend.Status.FAILED)
    assert failed.sub == "u2" and "503" in failed.error
    report = ags.grades_push(context=context)
    assert report.sent == 1 and report.skipped == 1
    assert not ScoreSend.objects.filter(status=ScoreSend.Status.FAILED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_platform_that_does_not_answer_times_out(platform, context, settings):
    """Every service call has a read timeout: a platform that takes a score
    and never answers makes the send fail (stored, retried later), not hang."""
    import time

    settings.LTI_HTTP_READ_TIMEOUT = 0.5
    settings.LTI_SERVICE_RETRIES = 0
    ada = _learner(context, 1)
    _attend(_ended_session(context.course), ada, 0, 60)
    ags.gradebook_setting_update(context=context, attendance=True)
    ags.line_items_sync(context=context)
    platform.score_stall = 2.5
    started = time.monotonic()
    report = ags.grades_push(context=context)
    assert time.monotonic() - started < 2
    assert report.failed == 1 and "Timeout" in report.errors[0], report.errors
    assert "Timeout" in ScoreSend.objects.get(status=ScoreSend.Status.FAILED).error


@pytest.mark.django_db(transaction=True)
def test_platform_rejects_malformed_and_stale_scores(platform, context, registration):
    ags.gradebook_setting_update(context=context, attendance=True)
    _ended_session(context.course)
    ags.line_items_sync(context=context)
    url = ags.scores_url(LineItem.objects.get().url)

    def post(payload, content_type=ags.SCORE_TYPE):
        return service_request(
            registration=registration,
            scopes=[SCOPES[2]],
            method="POST",
            url=url,
            accept="application/json",
            content_type=content_type,
            payload=payload,
        )

    good = {
        "userId": "u1",
        "scoreGiven": 5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-01-01T00:00:00.000Z",
    }
    post(good)
    for bad in (
        {"gradingProgress": "Done"},
        {"scoreGiven": -1},
        {"scoreMaximum": 0},
        {"timestamp": "yesterday"},
    ):
        with pytest.raises(ServiceError) as error:
            post({**good, **bad, "timestamp": bad.get("timestamp", "2026-01-02T00:00:00Z")})
        assert error.value.http_status == 400
    with pytest.raises(ServiceError) as error:
        post(good)  # same timestamp: not strictly after
    assert error.value.http_status == 409
    with pytest.raises(ServiceError) as error:
        post({**good, "timestamp": "2026-02-01T00:00:00Z"}, content_type="application/json")
    assert error.value.http_status == 400


@pytest.mark.django_db(transaction=True)
def test_deep_linked_line_item_is_used_and_never_deleted(platform, context):
    ada = _learner(context, 1)
    session = _ended_session(context.course)
    _attend(session, ada, 0, 60)
    # The platform made a column from our deep link's lineItem.
    item_url = f"{platform.url}/ags/ctx-1/lineitems/77"
    platform.line_items["ctx-1"] = {item_url: {"id": item_url, "label": "W1", "scoreMaximum": 10}}
    LtiResourceLink.objects.create(
        context=context,
        resource_link_id="link-1",
        custom={"roundtable_session_id": str(session.pk)},
        lineitem_url=item_url,
    )
    ags.gradebook_setting_update(context=context, attendance=True)
    report = ags.grades_push(context=context)
    assert report.created == 0 and report.sent == 1, report.errors
    assert LineItem.objects.get().owned is False
    assert platform.scores[item_url][0]["scoreGiven"] == 100.0
    ags.gradebook_setting_update(context=context, attendance=False)
    ags.grades_push(context=context)
    assert item_url in platform.line_items["ctx-1"]  # the LMS's own column stays


@pytest.mark.django_db(transaction=True)
def test_playback_completion_scores(platform, context):
    ada, bob = _learner(context, 1), _learner(context, 2)
    recording = Recording.objects.create(
        course=context.course,
        title="Lecture 1",
        status=RecordingStatus.READY,
        file="r/1.webm",
        duration_ms=100_000,
    )
    WatchProgress.objects.create(recording=recording, user=ada, watched_ms=40_000)
    WatchProgress.objects.create(
        recording=recording, user=bob, watched_ms=90_000, completed_at=timezone.now()
    )
    ags.gradebook_setting_update(context=context, playback=True)
    report = ags.grades_push(context=context)
    assert report.sent == 2, report.errors
    assert _scores_of(platform, "u1")[0]["scoreGiven"] == 40.0
    assert _scores_of(platform, "u2")[0]["scoreGiven"] == 100.0
    item = LineItem.objects.get()
    assert item.kind == GradeKind.PLAYBACK and item.label == "Watched: Lecture 1"


@pytest.mark.django_db
def test_push_without_ags_is_a_readable_refusal(registration):
    context = LtiContext.objects.create(
        deployment=registration.deployments.get(), context_id="c", course=CourseFactory()
    )
    from lti.errors import LtiError

    with pytest.raises(LtiError) as error:
        ags.grades_push(context=context)
    assert error.value.status_code == 409 and error.value.code == "lti_no_ags"


@pytest.mark.django_db(transaction=True)
def test_review_completion_scores(platform, context):
    """Review completion (reinforcement, through classroom.hooks.session_review_scores):
    nothing until the follow-up is sent; then the share of the review cards it
    gave each learner that they reviewed since; 1 for a learner given none."""
    from reinforcement.models import (
        FollowUpItem,
        FollowUpPlan,
        ItemKind,
        PlanStatus,
        ReviewAnswer,
        ReviewSource,
    )

    ada, bob = _learner(context, 1), _learner(context, 2)
    _learner(context, 3)  # cleo: answered everything right, no review card
    session = _ended_session(context.course, title="Week 3")
    polls = [
        Poll.objects.create(
            session=session,
            kind=PollKind.SINGLE,
            prompt=f"Q{n}",
            is_quiz=True,
            state=PollState.CLOSED,
            opened_at=timezone.now(),
        )
        for n in range(2)
    ]
    plan = FollowUpPlan.objects.create(session=session, course=context.course)
    for user in (ada, bob):  # cleo answered everything right: no review card
        for poll in polls:
            FollowUpItem.objects.create(
                plan=plan,
                user=user,
                course=context.course,
                kind=ItemKind.REVIEW,
                key=f"poll:{poll.pk}",
                question_key=f"poll:{poll.pk}",
                title=f"Review: {poll.prompt}",
                explanation="You answered this question wrong.",
            )
    assert ags.review_available()
    ags.gradebook_setting_update(context=context, review=True)
    held = ags.grades_push(context=context)
    assert held.created == 1 and held.sent == 0, held.errors  # the plan is still held
    assert LineItem.objects.get().label == "Review: Week 3"
    sent_at = timezone.now()
    FollowUpPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.SENT, sent_at=sent_at)

    def answer(user, poll, source, when):
        ReviewAnswer.objects.create(
            user=user,
            course=context.course,
            poll=poll,
            question_key=f"poll:{poll.pk}",
            source=source,
            answered_at=when,
        )

    answer(ada, polls[0], ReviewSource.SCHEDULED, sent_at + timedelta(hours=1))
    answer(ada, polls[1], ReviewSource.SCHEDULED, sent_at + timedelta(hours=2))
    answer(bob, polls[0], ReviewSource.SCHEDULED, sent_at + timedelta(hours=1))
    answer(bob, polls[1], ReviewSource.PRACTICE, sent_at + timedelta(hours=1))  # not scheduled
    answer(bob, polls[1], ReviewSource.LIVE, sent_at - timedelta(hours=1))  # before sending
    report = ags.grades_push(context=context)
    assert report.sent == 3 and not report.failed, report.errors
    assert [s["scoreGiven"] for s in _scores_of(platform, "u1")] == [100.0]
    assert [s["scoreGiven"] for s in _scores_of(platform, "u2")] == [50.0]
    assert [s["scoreGiven"] for s in _scores_of(platform, "u3")] == [100.0]
    assert not platform.errors
