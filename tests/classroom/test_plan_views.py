"""The staff page "Prepare polls" (/sessions/<id>/plan/) and its link on the
course page."""

from __future__ import annotations

import pytest

from classroom.services import polls
from tests.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db

QUESTION = {
    "kind": "single",
    "prompt": "Where is DNA kept?",
    "definition": {"options": [{"text": "Nucleus"}, {"text": "Cytoplasm"}], "correct": ["a"]},
}


def url(session) -> str:
    return f"/sessions/{session.pk}/plan/"


def test_anonymous_visitors_go_to_the_login_page(client, live_session):
    response = client.get(url(live_session))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_outsiders_learn_nothing(client, live_session, outsider):
    client.force_login(outsider)
    assert client.get(url(live_session)).status_code == 404
    assert client.get("/sessions/999999/plan/").status_code == 404


@pytest.mark.parametrize("role", ["learner", "observer"])
def test_learners_and_observers_are_refused(client, live_session, role, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get(url(live_session))
    assert response.status_code == 403
    assert "Only staff can prepare polls." in response.content.decode()


@pytest.mark.parametrize("role", ["instructor", "ta"])
def test_staff_get_the_bank_and_the_plan(client, course, live_session, role, request):
    user = request.getfixturevalue(role)
    first = polls.bank_question_create(course=course, actor=user, **QUESTION)
    second = polls.bank_question_create(
        course=course, actor=user, kind="rating", prompt="How clear?", definition={"scale": 10}
    )
    polls.session_plan_add(session=live_session, question=second, settings_={"scope": "per_table"})
    client.force_login(user)
    response = client.get(url(live_session))
    assert response.status_code == 200
    config = response.context["plan_config"]
    assert [q["id"] for q in config["bank"]] == [second.pk, first.pk]  # newest first
    assert config["bank"][1]["definition"]["correct"] == ["a"]  # staff see the answer
    assert [item["question"]["id"] for item in config["plan"]] == [second.pk]
    assert config["plan"][0]["settings"]["scope"] == "per_table"
    assert config["urls"] == {
        "bank": f"/api/courses/{course.pk}/questions/",
        "plan": f"/api/sessions/{live_session.pk}/plan/",
        "reorder": f"/api/sessions/{live_session.pk}/plan/reorder/",
        "plan_item": f"/api/sessions/{live_session.pk}/plan/",
    }
    page = response.content.decode()
    assert 'id="plan-config"' in page and 'id="plan-strings"' in page
    assert "classroom/plan.js" in page
    # Another course's questions never show.
    other = LiveSessionFactory()
    polls.bank_question_create(course=other.course, actor=None, **QUESTION)
    assert len(client.get(url(live_session)).context["plan_config"]["bank"]) == 2


def test_the_page_only_reads(client, live_session, instructor):
    client.force_login(instructor)
    assert client.post(url(live_session)).status_code == 405


def test_course_page_links_staff_to_the_plan_of_each_upcoming_session(
    client, course, live_session, instructor, learner
):
    link = f'href="{url(live_session)}"'
    client.force_login(instructor)
    page = client.get(f"/courses/{course.pk}/").content.decode()
    assert link in page
    assert f"Prepare polls: {live_session.title}" in page
    client.force_login(learner)
    assert link not in client.get(f"/courses/{course.pk}/").content.decode()


def test_console_links_to_the_plan(client, live_session, instructor):
    client.force_login(instructor)
    page = client.get(f"/sessions/{live_session.pk}/live/").content.decode()
    assert f'href="{url(live_session)}"' in page
    assert "classroom/live/polls.css" in page
