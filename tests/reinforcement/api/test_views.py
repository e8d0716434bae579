"""Reinforcement's REST API: what each role may read and change, bad input
answered with a clear 4xx and nothing changed, courses isolated."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reinforcement.models import FollowUpPlan, PlanStatus, ReviewAnswer, ReviewCard
from reinforcement.services import planning
from reinforcement.tasks import plan_send
from tests.factories import EnrollmentFactory
from tests.reinforcement.conftest import course_settings, learners_of, quiz_session

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def sent(course):
    course_settings(course, hold_minutes=0)
    (ana,) = learners_of(course, 1)
    session, polls = quiz_session(course, [ana], answers={(ana, 0): False})
    planning.followups_plan(session_id=session.pk, source="session_ended")
    return ana, session, polls


@pytest.fixture
def held(course):
    (ana,) = learners_of(course, 1)
    session, polls = quiz_session(course, [ana], answers={(ana, 0): False, (ana, 1): False})
    planning.followups_plan(session_id=session.pk, source="session_ended")
    return ana, session, polls


def test_my_due_cards_never_carry_the_correct_answer(sent, course):
    ana, _session, _polls = sent

    response = api(ana).get(reverse("api-review-due", args=[course.pk]))

    assert response.status_code == 200
    body = response.json()
    assert len(body["cards"]) == 2
    assert body["progress"] == {"done": 0, "due": 2, "total": 2, "percent": 0, "next_due_at": None}
    for card in body["cards"]:
        assert set(card["definition"]) == {"options"}
        assert "correct" not in str(card)


def test_answering_a_card_then_replaying_the_request(sent):
    ana, _session, _polls = sent
    card = ReviewCard.objects.filter(user=ana).order_by("id").first()
    url = reverse("api-review-answer", args=[card.pk])
    body = {"request_id": "abc", "answer": {"option": "a"}, "version": card.reps}

    first = api(ana).post(url, body, format="json")
    again = api(ana).post(url, body, format="json")

    assert first.status_code == 200 and again.status_code == 200
    assert first.json()["correct"] is True and first.json()["replayed"] is False
    assert again.json() == {**first.json(), "replayed": True}
    assert ReviewAnswer.objects.filter(request_id="abc").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"request_id": "x", "answer": {"option": "nope"}}, 400, "invalid_answer"),
        ({"request_id": "x", "answer": {"text": "y" * 10_000}}, 400, "answer_too_large"),
        ({"request_id": "x", "answer": {"option": "a"}, "version": 9}, 409, "stale"),
        ({"request_id": "x", "answer": {"option": "a"}, "extra": 1}, 400, "invalid"),
        ({"answer": {"option": "a"}}, 400, "invalid"),
        ({"request_id": "x" * 65, "answer": {"option": "a"}}, 400, "invalid"),
    ],
)
def test_bad_answers_get_a_clear_4xx_and_change_nothing(sent, body, status, code):
    ana, _session, _polls = sent
    card = ReviewCard.objects.filter(user=ana).order_by("id").first()
    before = (card.due, card.reps)

    response = api(ana).post(reverse("api-review-answer", args=[card.pk]), body, format="json")

    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    card.refresh_from_db()
    assert (card.due, card.reps) == before
    assert not ReviewAnswer.objects.filter(source="scheduled").exists()


def test_a_card_not_mine_or_not_due_is_refused(sent, course):
    ana, _session, _polls = sent
    other = learners_of(course, 1, prefix="other")[0]
    card = ReviewCard.objects.filter(user=ana).order_by("id").first()
    url = reverse("api-review-answer", args=[card.pk])

    assert (
        api(other)
        .post(url, {"request_id": "o", "answer": {"option": "a"}}, format="json")
        .status_code
        == 404
    )
    assert api().post(
        url, {"request_id": "o", "answer": {"option": "a"}}, format="json"
    ).status_code in (401, 403)
    api(ana).post(url, {"request_id": "1", "answer": {"option": "a"}}, format="json")
    response = api(ana).post(url, {"request_id": "2", "answer": {"option": "a"}}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_due"


def test_my_followups_are_mine_only(sent, course):
    ana, session, _polls = sent
    other = learners_of(course, 1, prefix="other")[0]

    mine = api(ana).get(reverse("api-followups", args=[course.pk])).json()
    theirs = api(other).get(reverse("api-followups", args=[course.pk])).json()

    assert [group["session_id"] for group in mine] == [session.pk]
    assert {item["kind"] for item in mine[0]["items"]} == {"review"}
    assert theirs == []


def test_staff_read_hold_drop_edit_and_send_a_plan(held, instructor):
    ana, session, (first, _second) = held
    base = "api-followup-plan"
    client = api(instructor)

    plan = client.get(reverse(base, args=[session.pk])).json()
    assert plan["status"] == "held" and plan["hold_until"] is not None
    assert [q["wrong"] for q in plan["questions"]] == [1, 1]

    held_plan = client.post(
        reverse(base + "-hold", args=[session.pk]), {"hold": True}, format="json"
    )
    assert held_plan.json()["hold_until"] is None
    dropped = client.post(
        reverse(base + "-drop", args=[session.pk]),
        {"question_key": f"poll:{first.pk}"},
        format="json",
    ).json()
    assert dropped["dropped"] == [f"poll:{first.pk}"]
    edited = client.post(
        reverse(base + "-message", args=[session.pk]), {"message": "Read ch. 3"}, format="json"
    )
    assert edited.json()["message"] == "Read ch. 3"
    queued = client.post(reverse(base + "-send", args=[session.pk])).json()
    # The hold window is over at once; the send itself is a task (eager
    # without a worker). Run it as the worker would; a second run changes nothing.
    assert queued["status"] == "sent" or queued["hold_until"] is not None
    plan_id = FollowUpPlan.objects.get(session=session).pk
    assert plan_send.apply(args=[plan_id]).get() == "sent"
    assert client.get(reverse(base, args=[session.pk])).json()["status"] == "sent"
    assert ReviewCard.objects.filter(user=ana).count() == 1
    late = client.post(
        reverse(base + "-message", args=[session.pk]), {"message": "x"}, format="json"
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "plan_already_sent"


def test_learners_and_outsiders_cannot_touch_plans(held, outsider):
    ana, session, _polls = held
    url = reverse("api-followup-plan-send", args=[session.pk])

    assert api(ana).get(reverse("api-followup-plan", args=[session.pk])).status_code == 403
    assert api(ana).post(url).status_code == 403
    outsider_response = api(outsider).post(url)
    assert outsider_response.status_code == 404
    assert outsider_response.json()["error"]["code"] == "session_not_found"
    assert FollowUpPlan.objects.get(session=session).status == PlanStatus.HELD


def test_settings_read_by_staff_changed_by_instructors(course, instructor, ta, learner):
    url = reverse("api-reinforcement-settings", args=[course.pk])

    assert api(ta).get(url).json()["desired_retention"] == 0.9
    assert api(learner).get(url).status_code == 403
    assert api(ta).patch(url, {"hold_minutes": 5}, format="json").status_code == 403
    bad = api(instructor).patch(url, {"desired_retention": 0.5}, format="json")
    assert bad.status_code == 400 and "desired_retention" in bad.json()["error"]["details"]
    good = api(instructor).patch(
        url,
        {"desired_retention": 0.85, "course_ends_on": "2027-01-31", "deadline_enabled": True},
        format="json",
    )
    assert good.status_code == 200
    assert (good.json()["desired_retention"], good.json()["course_ends_on"]) == (0.85, "2027-01-31")


def test_review_stats_for_staff_only(sent, course, instructor, other_course):
    ana, _session, _polls = sent
    url = reverse("api-reinforcement-stats", args=[course.pk])

    stats = api(instructor).get(url).json()
    assert stats["cards"] == 2
    row = next(row for row in stats["learners"] if row["user_id"] == ana.pk)
    assert (row["cards"], row["due"], row["has_started"]) == (2, 2, False)
    assert [r["user_id"] for r in stats["not_started"]] == [ana.pk]
    assert api(ana).get(url).status_code == 403
    # An instructor of another course sees nothing of this one.
    stranger = EnrollmentFactory(course=other_course, role="instructor").user
    assert api(stranger).get(url).status_code == 404
    assert api(stranger).get(reverse("api-review-due", args=[course.pk])).status_code == 404


def test_practice_endpoint_checks_the_course(sent, course, other_course):
    ana, _session, (first, _second) = sent
    EnrollmentFactory(course=other_course, user=ana, role="learner")

    ok = api(ana).post(
        reverse("api-review-practice", args=[course.pk]),
        {"request_id": "p", "poll_id": first.pk, "answer": {"option": "a"}},
        format="json",
    )
    wrong_course = api(ana).post(
        reverse("api-review-practice", args=[other_course.pk]),
        {"request_id": "q", "poll_id": first.pk, "answer": {"option": "a"}},
        format="json",
    )

    assert ok.status_code == 200 and ok.json()["correct"] is True
    assert wrong_course.status_code == 404
