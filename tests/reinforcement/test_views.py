"""Reinforcement's pages through Django's client (the browser path is in
tests/e2e/test_reinforcement.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reinforcement.models import FollowUpPlan, PlanStatus, ReinforcementSettings, ReviewCard
from reinforcement.services import planning
from reinforcement.tasks import plan_send
from tests.reinforcement.conftest import course_settings, learners_of, quiz_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana_sent(course):
    course_settings(course, hold_minutes=0)
    (ana,) = learners_of(course, 1)
    session, polls = quiz_session(course, [ana], answers={(ana, 0): False})
    planning.followups_plan(session_id=session.pk, source="session_ended")
    return ana, session, polls


def test_review_page_shows_a_due_card_without_its_answer_and_grades_the_post(
    client, course, ana_sent
):
    ana, _session, _polls = ana_sent
    client.force_login(ana)
    url = reverse("reinforcement-review", args=[course.pk])

    page = client.get(url).content.decode()
    assert "Check answer" in page and "Today: 0 of 2 reviewed" in page
    assert "The right answer" not in page and '"correct"' not in page
    card = ReviewCard.objects.filter(user=ana).order_by("due", "id").first()
    assert f'name="card_id" value="{card.pk}"' in page

    answered = client.post(
        url,
        {
            "card_id": card.pk,
            "version": card.reps,
            "kind": "single",
            "option": "a",
            "request_id": "v1",
        },
    ).content.decode()
    assert "Right!" in answered and "The right answer: Alpha." in answered
    assert "This card comes back in" in answered
    assert "Today: 1 of 2 reviewed" in answered


def test_review_page_says_when_the_next_card_is_due_when_nothing_is(client, course, learner):
    client.force_login(learner)
    page = client.get(reverse("reinforcement-review", args=[course.pk])).content.decode()
    assert "All caught up" in page and "Nothing to review right now" in page


def test_bad_post_is_a_400_with_the_message_and_changes_nothing(client, course, ana_sent):
    ana, _session, _polls = ana_sent
    client.force_login(ana)
    card = ReviewCard.objects.filter(user=ana).order_by("due", "id").first()
    before = (card.due, card.reps)

    response = client.post(
        reverse("reinforcement-review", args=[course.pk]),
        {
            "card_id": card.pk,
            "version": card.reps,
            "kind": "single",
            "option": "zzz",
            "request_id": "b",
        },
    )

    assert response.status_code == 400 and "Unknown option." in response.content.decode()
    card.refresh_from_db()
    assert (card.due, card.reps) == before


def test_practice_page_walks_a_sessions_questions(client, course, ana_sent):
    ana, session, _polls = ana_sent
    client.force_login(ana)
    url = reverse("reinforcement-review-session", args=[course.pk, session.pk])

    assert "Question 1 of 2" in client.get(url).content.decode()
    answered = client.post(
        url + "?n=1", {"n": "1", "option": "b", "request_id": "p"}
    ).content.decode()
    assert "Not quite." in answered and "Done" in answered


def test_followups_page_lists_the_items_in_plain_words(client, course, ana_sent):
    ana, _session, _polls = ana_sent
    client.force_login(ana)
    page = client.get(reverse("reinforcement-followups", args=[course.pk])).content.decode()
    assert "You answered this question wrong in “Supply curves”." in page


def test_staff_page_and_settings_form(client, course, instructor, ta, ana_sent):
    client.force_login(ta)
    url = reverse("reinforcement-course", args=[course.pk])
    assert "Most-missed questions" in client.get(url).content.decode()
    assert client.post(url, {"hold_minutes": 5}).status_code == 403

    client.force_login(instructor)
    bad = client.post(
        url,
        {
            "hold_minutes": 60,
            "desired_retention": "0.99",
            "participation_talk_seconds": 10,
            "warmup_size": 5,
        },
    )
    assert bad.status_code == 400
    good = client.post(
        url,
        {
            "is_enabled": "on",
            "hold_minutes": 30,
            "desired_retention": "0.85",
            "participation_talk_seconds": 10,
            "warmup_size": 3,
        },
    )
    assert good.status_code == 302
    conf = ReinforcementSettings.objects.get(course=course)
    assert (conf.hold_minutes, conf.desired_retention, conf.warmup_size) == (30, 0.85, 3)


def test_learners_do_not_reach_staff_pages(client, course, ana_sent):
    ana, session, _polls = ana_sent
    client.force_login(ana)
    assert client.get(reverse("reinforcement-course", args=[course.pk])).status_code == 404
    assert client.get(reverse("reinforcement-plan", args=[session.pk])).status_code == 404


def test_plan_page_holds_drops_edits_and_sends(client, course, instructor):
    (ana,) = learners_of(course, 1)
    session, (first, _second) = quiz_session(course, [ana], answers={(ana, 0): False})
    planning.followups_plan(session_id=session.pk, source="session_ended")
    client.force_login(instructor)
    act = reverse("reinforcement-plan-act", args=[session.pk])

    assert (
        "In the hold window"
        in client.get(reverse("reinforcement-plan", args=[session.pk])).content.decode()
    )
    client.post(act, {"action": "hold"})
    client.post(act, {"action": "drop", "question_key": f"poll:{first.pk}"})
    client.post(act, {"action": "message", "message": "See chapter 3."})
    page = client.get(reverse("reinforcement-plan", args=[session.pk])).content.decode()
    assert "Held by staff" in page and "dropped" in page and "See chapter 3." in page
    client.post(act, {"action": "send"})
    plan_send.apply(args=[FollowUpPlan.objects.get(session=session).pk])  # the worker's part
    plan = FollowUpPlan.objects.get(session=session)
    assert (plan.status, plan.message, plan.dropped_keys) == (
        PlanStatus.SENT, "See chapter 3.", [f"poll:{first.pk}"],
    )  # fmt: skip


def test_the_admin_lists_reinforcement(client, platform_admin, ana_sent):
    client.force_login(platform_admin)
    for path in (
        "followupplan",
        "followupitem",
        "reviewcard",
        "reviewanswer",
        "reinforcementsettings",
    ):
        assert client.get(f"/admin/reinforcement/{path}/").status_code == 200
