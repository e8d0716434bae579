from __future__ import annotations

import pytest

from classroom.models import BankQuestion, SessionPlanItem
from classroom.services import polls, sessions

pytestmark = pytest.mark.django_db

QUESTION = {
    "kind": "single",
    "prompt": "Where is DNA kept?",
    "definition": {"options": [{"text": "Nucleus"}, {"text": "Cytoplasm"}], "correct": ["a"]},
}


def test_staff_build_the_bank_and_the_plan(client, course, instructor, live_session):
    client.force_login(instructor)
    created = client.post(
        f"/api/courses/{course.pk}/questions/", QUESTION, content_type="application/json"
    )
    assert created.status_code == 201
    question_id = created.json()["id"]
    second = client.post(
        f"/api/courses/{course.pk}/questions/",
        {"kind": "rating", "prompt": "How clear was this?", "definition": {"scale": 5}},
        content_type="application/json",
    ).json()["id"]
    for qid, extra in (
        (question_id, {"settings": {"scope": "per_table", "timer_seconds": 60}}),
        (second, {}),
    ):
        response = client.post(
            f"/api/sessions/{live_session.pk}/plan/",
            {"question_id": qid, **extra},
            content_type="application/json",
        )
        assert response.status_code == 201
    plan = client.get(f"/api/sessions/{live_session.pk}/plan/").json()
    assert [item["question"]["id"] for item in plan] == [question_id, second]
    assert plan[0]["settings"]["scope"] == "per_table"
    reordered = client.post(
        f"/api/sessions/{live_session.pk}/plan/reorder/",
        {"items": [plan[1]["id"], plan[0]["id"]]},
        content_type="application/json",
    ).json()
    assert [item["question"]["id"] for item in reordered] == [second, question_id]
    assert (
        client.delete(f"/api/sessions/{live_session.pk}/plan/{plan[1]['id']}/").status_code == 204
    )
    assert SessionPlanItem.objects.count() == 1


def test_bad_question_is_a_400_with_details(client, course, instructor):
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/questions/",
        {**QUESTION, "definition": {"options": [{"text": "lonely"}]}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "options": "A choice question has 2 to 10 options."
    }
    assert not BankQuestion.objects.exists()


def test_too_long_accepted_answer_is_a_400(client, course, instructor):
    client.force_login(instructor)
    response = client.post(
        f"/api/courses/{course.pk}/questions/",
        {**QUESTION, "kind": "short_text", "definition": {"accepted": ["x" * 2001]}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "accepted": "An accepted answer has at most 2000 characters."
    }
    assert not BankQuestion.objects.exists()


def test_learners_cannot_see_or_edit_the_bank(client, course, learner, live_session):
    client.force_login(learner)
    assert client.get(f"/api/courses/{course.pk}/questions/").status_code == 403
    assert (
        client.post(
            f"/api/courses/{course.pk}/questions/", QUESTION, content_type="application/json"
        ).status_code
        == 403
    )
    assert (
        client.get(f"/api/sessions/{live_session.pk}/plan/").json()["error"]["code"] == "forbidden"
    )


def test_results_for_learners_only_after_publication(
    client, course, instructor, learner, live_session
):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    poll = polls.poll_open(
        session_id=live_session.pk,
        actor=instructor,
        kind=QUESTION["kind"],
        prompt=QUESTION["prompt"],
        definition=QUESTION["definition"],
    )
    client.force_login(learner)
    url = f"/api/sessions/{live_session.pk}/polls/{poll.pk}/results/"
    assert client.get(url).json()["error"]["code"] == "results_not_published"
    polls.poll_close(session_id=live_session.pk, actor=instructor, poll_id=poll.pk)
    polls.poll_publish(session_id=live_session.pk, actor=instructor, poll_id=poll.pk)
    body = client.get(url).json()
    assert (
        body["results"]["correct"] == {"options": ["a"]} and "not_answered" not in body["results"]
    )
    client.force_login(instructor)
    assert "not_answered" in client.get(url).json()["results"]


def test_outsider_gets_404(client, outsider, live_session):
    client.force_login(outsider)
    assert client.get(f"/api/sessions/{live_session.pk}/plan/").status_code == 404
