"""Polls and quizzes: validation of every type, grading, scopes, lifecycle,
anonymity, and the frames each step emits."""

from __future__ import annotations

import json

import pytest

from analytics.models import LearningEvent
from classroom.access import access_live_session
from classroom.models import LiveSession, Poll, PollBallot, PollResponse
from classroom.selectors import poll_results_get, session_snapshot_get
from classroom.services import polls, sessions
from core import realtime
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from courses.models import Role
from tests.factories import EnrollmentFactory, LiveSessionFactory, SeatFactory, TableFactory

pytestmark = pytest.mark.django_db

CHOICES = {
    "options": [{"text": "Nucleus"}, {"text": "Mitochondrion"}, {"text": "Ribosome"}],
    "correct": ["b"],
}


@pytest.fixture
def live(live_session, instructor):
    sessions.live_session_start(session_id=live_session.pk, actor=instructor)
    return LiveSession.objects.get(pk=live_session.pk)


@pytest.fixture
def present(course, live, learner):
    """Four present learners: two at table A, two at table B."""
    a, b = (
        TableFactory(course=course, name="A"),
        TableFactory(course=course, name="B"),
    )
    people = [learner] + [
        EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(3)
    ]
    for index, user in enumerate(people):
        SeatFactory(table=a if index < 2 else b, user=user)
        sessions.attendance_join(session_id=live.pk, user=user, connection=f"c{index}")
    return {"people": people, "a": a, "b": b}


def open_poll(live, instructor, kind="single", definition=None, **settings_):
    return polls.poll_open(
        session_id=live.pk,
        actor=instructor,
        kind=kind,
        prompt="Which organelle makes ATP?",
        definition=CHOICES if definition is None else definition,
        settings_=settings_,
    )


def vote(live, user, poll, answer):
    return polls.poll_vote_cast(session_id=live.pk, user=user, poll_id=poll.pk, answer=answer)


def buffered(live, after=0):
    return [
        json.loads(text)
        for _s, _st, text in realtime.frame_buffer().since(f"live.{live.pk}", after)
    ]


# --- Definitions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "definition", "field"),
    [
        ("single", {"options": [{"text": "only one"}]}, "options"),
        ("single", {"options": [{"text": str(i)} for i in range(11)]}, "options"),
        ("single", {"options": [{"text": "a"}, {"text": " "}]}, "options"),
        ("single", {"options": [{"text": "a"}, {"text": "b"}], "correct": ["z"]}, "correct"),
        ("single", {"options": [{"text": "a"}, {"text": "b"}], "correct": ["a", "b"]}, "correct"),
        ("multiple", {"options": [{"text": "a"}, {"text": "b"}], "max_choices": 3}, "max_choices"),
        ("rating", {"scale": 7}, "scale"),
        ("rating", {"scale": 5.0}, "scale"),  # a float scale broke every staff snapshot
        ("rating", {"scale": True}, "scale"),
        (
            "multiple",
            {"options": [{"text": "a"}, {"text": "b"}], "max_choices": True},
            "max_choices",
        ),
        ("single", {"options": [{"text": "a", "id": "x" * 41}, {"text": "b"}]}, "options"),
        ("numeric", {"correct_value": 10**400}, "correct_value"),  # no float holds it
        ("numeric", {"correct_value": 1e300}, "correct_value"),
        ("numeric", {"correct_value": 1, "tolerance": 10**400}, "tolerance"),
        ("numeric", {"correct_value": "ten"}, "correct_value"),
        ("numeric", {"correct_value": 10, "tolerance": -1}, "tolerance"),
        ("short_text", {"accepted": [""]}, "accepted"),
        ("short_text", {"accepted": ["x" * 2001]}, "accepted"),  # no answer could match it
        ("short_text", {"accepted": [f"answer {n}" for n in range(51)]}, "accepted"),
        ("single", {"options": [{"text": "a", "id": {"a": 1}}, {"text": "b"}]}, "options"),
        ("single", {"options": [{"text": "a", "id": ["a"]}, {"text": "b"}]}, "options"),
        ("single", {"options": [{"text": "a"}, {"text": "b"}], "correct": [{"a": 1}]}, "correct"),
        ("essay", {}, "kind"),
    ],
)
def test_bad_definitions_are_refused_and_nothing_opened(live, instructor, kind, definition, field):
    with pytest.raises(ValidationError) as error:
        open_poll(live, instructor, kind=kind, definition=definition)
    assert field in error.value.details
    assert not Poll.objects.exists()


@pytest.mark.parametrize("points", [-1, 101, 2**70, True, 1.5])
def test_bad_points_on_the_fly_are_refused(live, instructor, points):
    with pytest.raises(ValidationError) as error:
        polls.poll_open(
            session_id=live.pk,
            actor=instructor,
            kind="single",
            prompt="p",
            definition=CHOICES,
            points=points,
        )
    assert "points" in error.value.details
    assert not Poll.objects.exists()


def test_results_of_polls_stored_before_the_checks_still_work(live, instructor, present):
    """A float rating scale and numeric answers near the float limit, stored
    before they were refused, give results and strict JSON, not a 500."""
    rating = open_poll(live, instructor, kind="rating", definition={"scale": 5})
    Poll.objects.filter(pk=rating.pk).update(definition={"scale": 5.0})
    vote(live, present["people"][0], Poll.objects.get(pk=rating.pk), {"value": 4})
    rating.refresh_from_db()
    assert poll_results_get(poll=rating, for_staff=True)["distribution"]["mean"] == 4
    numeric = open_poll(live, instructor, kind="numeric", definition={})
    for user in present["people"][:2]:
        vote(live, user, numeric, {"value": 1})
    PollResponse.objects.filter(poll=numeric).update(answer={"value": 1e308})
    distribution = poll_results_get(poll=numeric, for_staff=True)["distribution"]
    assert distribution["mean"] == 1e308
    json.dumps(distribution, allow_nan=False)
    access = access_live_session(user=instructor, session_id=live.pk)
    json.dumps(session_snapshot_get(access=access)["polls"], default=str, allow_nan=False)


def test_fixed_option_kinds_get_their_options(live, instructor):
    poll = open_poll(live, instructor, kind="yes_no_abstain", definition={})
    assert [o["id"] for o in poll.definition["options"]] == ["yes", "no", "abstain"]
    assert poll.is_quiz is False


# --- Answers of every type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "definition", "answer", "code_field"),
    [
        ("single", CHOICES, {"option": "zz"}, "option"),
        ("single", CHOICES, {"options": ["a"]}, "option"),
        ("multiple", {**CHOICES, "max_choices": 2}, {"options": ["a", "b", "c"]}, "options"),
        ("multiple", CHOICES, {"options": []}, "options"),
        ("multiple", CHOICES, {"options": ["a", "a"]}, "options"),
        ("true_false", {}, {"option": "maybe"}, "option"),
        ("rating", {"scale": 5}, {"value": 6}, "value"),
        ("rating", {"scale": 10}, {"value": 0}, "value"),
        ("rating", {"scale": 5}, {"value": 2.5}, "value"),
        ("short_text", {}, {"text": ""}, "text"),
        ("short_text", {}, {"text": "\u200b"}, "text"),
        ("short_text", {}, {"text": "x" * 2001}, "text"),
        ("numeric", {"correct_value": 3}, {"value": "3"}, "value"),
        ("numeric", {"correct_value": 3}, {"value": float("inf")}, "value"),
        ("numeric", {"correct_value": 3}, {"value": 1e308}, "value"),
        ("numeric", {"correct_value": 3}, {"value": 10**400}, "value"),
        ("single", CHOICES, "b", "answer"),
        # An object is not an option id (its string form was stored).
        (
            "single",
            {"options": [{"text": "x", "id": "{'a': 1}"}, {"text": "y"}]},
            {"option": {"a": 1}},
            "option",
        ),
        ("single", CHOICES, {"option": ["a"]}, "option"),
        ("single", CHOICES, {"option": True}, "option"),
        ("multiple", CHOICES, {"options": [{"a": 1}]}, "options"),
    ],
)
def test_bad_answers_are_clear_errors_and_nothing_stored(
    live, instructor, present, kind, definition, answer, code_field
):
    poll = open_poll(live, instructor, kind=kind, definition=definition)
    with pytest.raises(ValidationError) as error:
        vote(live, present["people"][0], poll, answer)
    assert error.value.code == "invalid_answer" and code_field in error.value.details
    assert not PollResponse.objects.exists()
    assert not LearningEvent.objects.filter(verb="answered").exists()


@pytest.mark.parametrize(
    ("kind", "definition", "answer", "correct"),
    [
        ("single", CHOICES, {"option": "b"}, True),
        ("single", CHOICES, {"option": "a"}, False),
        ("multiple", {**CHOICES, "correct": ["a", "c"]}, {"options": ["c", "a"]}, True),
        ("multiple", {**CHOICES, "correct": ["a", "c"]}, {"options": ["a"]}, False),
        ("true_false", {"correct": ["false"]}, {"option": "false"}, True),
        (
            "short_text",
            {"accepted": ["mitochondria", "mitochondrion"]},
            {"text": "  Mitochondria! "},
            True,
        ),
        ("short_text", {"accepted": ["mitochondria"]}, {"text": "nucleus"}, False),
        ("numeric", {"correct_value": 9.81, "tolerance": 0.05}, {"value": 9.8}, True),
        ("numeric", {"correct_value": 9.81, "tolerance": 0.05}, {"value": 9.7}, False),
    ],
)
def test_quiz_grading(live, instructor, present, kind, definition, answer, correct):
    poll = open_poll(live, instructor, kind=kind, definition=definition)
    assert poll.is_quiz
    response, _ = vote(live, present["people"][0], poll, answer)
    assert response.is_correct is correct and response.score == (1.0 if correct else 0.0)
    event = LearningEvent.objects.get(verb="answered")
    assert (event.success, event.score, event.actor) == (
        correct,
        response.score,
        present["people"][0],
    )


def test_rating_and_text_results(live, instructor, present):
    rating = open_poll(live, instructor, kind="rating", definition={"scale": 5})
    for user, value in zip(present["people"], (5, 4, 4, 1), strict=True):
        vote(live, user, rating, {"value": value})
    results = poll_results_get(poll=rating, for_staff=True)
    assert results["distribution"] == {
        "counts": {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1},
        "mean": 3.5,
    }
    text = open_poll(live, instructor, kind="short_text", definition={})
    for user, answer in zip(
        present["people"], ("Osmosis", "osmosis.", "Diffusion", " OSMOSIS "), strict=True
    ):
        vote(live, user, text, {"text": answer})
    groups = poll_results_get(poll=text, for_staff=True)["distribution"]["groups"]
    assert [(g["normalised"], g["count"]) for g in groups] == [("osmosis", 3), ("diffusion", 1)]


# --- One response per learner, changes, history ----------------------------------------------


def test_changed_answer_replaces_and_keeps_history(live, instructor, present):
    poll = open_poll(live, instructor)
    user = present["people"][0]
    vote(live, user, poll, {"option": "a"})
    _, changed = vote(live, user, poll, {"option": "a"})
    assert changed is False
    vote(live, user, poll, {"option": "c"})
    vote(live, user, poll, {"option": "b"})
    response = PollResponse.objects.get()
    assert response.first_answer == {"option": "a"} and response.answer == {"option": "b"}
    assert response.change_count == 2 and response.is_correct is True
    assert response.first_answered_at <= response.answered_at
    assert LearningEvent.objects.filter(verb="answered").count() == 3


def test_locked_answers_cannot_change(live, instructor, present):
    poll = open_poll(live, instructor, allow_change=False)
    vote(live, present["people"][0], poll, {"option": "a"})
    with pytest.raises(ConflictError) as error:
        vote(live, present["people"][0], poll, {"option": "b"})
    assert error.value.code == "answer_locked"
    assert PollResponse.objects.get().answer == {"option": "a"}


def test_vote_after_close_absent_or_foreign_is_refused(live, instructor, present, outsider, course):
    poll = open_poll(live, instructor)
    absent = EnrollmentFactory(course=course, role=Role.LEARNER).user
    with pytest.raises(PermissionDeniedError) as error:
        vote(live, absent, poll, {"option": "a"})
    assert error.value.code == "not_present"
    with pytest.raises(PermissionDeniedError):
        vote(live, outsider, poll, {"option": "a"})
    polls.poll_close(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    with pytest.raises(ConflictError) as closed:
        vote(live, present["people"][0], poll, {"option": "a"})
    assert closed.value.code == "poll_closed"
    assert not PollResponse.objects.exists()


def test_timer_closes_votes_even_before_the_close_runs(live, instructor, present):
    from datetime import timedelta

    from django.utils import timezone

    poll = open_poll(live, instructor, timer_seconds=30)
    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ConflictError):
        vote(live, present["people"][0], poll, {"option": "a"})
    assert polls.poll_close_if_due(session_id=live.pk, poll_id=poll.pk) is True
    assert Poll.objects.get(pk=poll.pk).state == "closed"


def test_poll_of_another_session_is_not_found(live, instructor, present, course):
    other = LiveSessionFactory(course=course)
    poll = open_poll(live, instructor)
    with pytest.raises(NotFoundError):
        polls.poll_vote_cast(
            session_id=other.pk, user=present["people"][0], poll_id=poll.pk, answer={"option": "a"}
        )


# --- Lifecycle and publication ----------------------------------------------------------


def test_correct_answer_never_reaches_learners_before_publication(
    live, instructor, present, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        poll = open_poll(live, instructor)
    opened = [f for f in buffered(live) if f["type"] == "poll.opened"][0]
    assert "correct" not in json.dumps(opened["data"])
    learner_access = access_live_session(user=present["people"][0], session_id=live.pk)
    vote(live, present["people"][0], poll, {"option": "b"})
    snapshot = session_snapshot_get(access=learner_access)
    assert "correct" not in json.dumps(snapshot["polls"], default=str) and snapshot["polls"][0][
        "my_answer"
    ] == {"option": "b"}
    with django_capture_on_commit_callbacks(execute=True):
        polls.poll_close(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    assert "correct" not in json.dumps(
        session_snapshot_get(access=learner_access)["polls"], default=str
    )
    with django_capture_on_commit_callbacks(execute=True):
        polls.poll_publish(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    published = [f for f in buffered(live) if f["type"] == "poll.published"][0]
    assert published["data"]["results"]["correct"] == {"options": ["b"]}
    assert "not_answered" not in published["data"]["results"]
    mine = session_snapshot_get(access=learner_access)["polls"][0]
    assert mine["my_correct"] is True and mine["results"]["distribution"]["counts"]["b"] == 1


def test_publish_needs_close_and_reopen_is_refused_after_publication(live, instructor):
    poll = open_poll(live, instructor)
    with pytest.raises(ConflictError):
        polls.poll_publish(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    polls.poll_close(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    polls.poll_reopen(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    polls.poll_close(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    polls.poll_publish(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    with pytest.raises(ConflictError) as error:
        polls.poll_reopen(session_id=live.pk, actor=instructor, poll_id=poll.pk)
    assert error.value.code == "poll_published"


def test_staff_results_show_rate_and_who_has_not_answered(live, instructor, present):
    poll = open_poll(live, instructor)
    vote(live, present["people"][0], poll, {"option": "b"})
    vote(live, present["people"][2], poll, {"option": "a"})
    results = poll_results_get(poll=poll, for_staff=True)
    assert (results["responses"], results["present"], results["rate"]) == (2, 4, 0.5)
    assert results["not_answered"] == sorted([present["people"][1].pk, present["people"][3].pk])
    assert results["right"] == [present["people"][0].pk] and results["correct_count"] == 1


# --- Anonymous and table scopes ---------------------------------------------------------


def test_anonymous_responses_keep_no_link_to_the_learner(live, instructor, present):
    poll = open_poll(live, instructor, anonymous=True)
    assert poll.allow_change is False  # nothing could find the answer again to change it
    user = present["people"][0]
    vote(live, user, poll, {"option": "a"})
    with pytest.raises(ConflictError) as refused:
        vote(live, user, poll, {"option": "b"})
    assert refused.value.code == "answer_locked"
    response = PollResponse.objects.get()
    assert response.user_id is None and response.answered_at is None
    assert response.first_answered_at is None and response.time_to_first_ms is None
    assert response.voter_key != polls.voter_key(poll_id=poll.pk, user_id=user.pk)
    assert list(PollBallot.objects.values_list("poll_id", "user_id")) == [(poll.pk, user.pk)]
    assert not LearningEvent.objects.filter(verb="answered").exists()
    results = poll_results_get(poll=poll, for_staff=True)
    assert "not_answered" not in results and "right" not in results
    assert results["distribution"]["counts"]["a"] == 1


def test_per_table_breakdown(live, instructor, present):
    poll = open_poll(live, instructor, scope="per_table")
    people = present["people"]
    for user, option in zip(people, ("a", "b", "b", "b"), strict=True):
        vote(live, user, poll, {"option": option})
    tables = poll_results_get(poll=poll, for_staff=True)["tables"]
    assert tables[str(present["a"].pk)]["distribution"]["counts"] == {"a": 1, "b": 1, "c": 0}
    assert tables[str(present["b"].pk)]["distribution"]["counts"] == {"a": 0, "b": 2, "c": 0}


def test_one_shared_answer_per_table(live, instructor, present, django_capture_on_commit_callbacks):
    poll = open_poll(live, instructor, scope="one_per_table")
    first, mate = present["people"][0], present["people"][1]
    start = LiveSession.objects.get(pk=live.pk).seq
    with django_capture_on_commit_callbacks(execute=True):
        vote(live, first, poll, {"option": "a"})
        vote(live, mate, poll, {"option": "b"})
    assert PollResponse.objects.count() == 1
    shared = PollResponse.objects.get()
    assert (
        shared.answer == {"option": "b"}
        and shared.change_count == 1
        and shared.table_id == present["a"].pk
    )
    frames = [f for f in buffered(live, start) if f["type"] == "poll.table_answer_changed"]
    assert [f["stream"] for f in frames] == [f"table.{present['a'].pk}"] * 2
    assert frames[-1]["data"]["answered_by"]["id"] == mate.pk
    results = poll_results_get(poll=poll, for_staff=True)
    assert results["not_answered"] == sorted(u.pk for u in present["people"][2:])


# --- Bank and plan ----------------------------------------------------------------------


def test_bank_question_launched_from_the_plan_uses_plan_settings(live, instructor, course):
    question = polls.bank_question_create(
        course=course, actor=instructor, kind="single", prompt="Pick one", definition=CHOICES
    )
    polls.session_plan_add(
        session=live, question=question, settings_={"scope": "per_table", "timer_seconds": 60}
    )
    with pytest.raises(ConflictError):
        polls.session_plan_add(session=live, question=question)
    poll = polls.poll_open(session_id=live.pk, actor=instructor, question_id=question.pk)
    assert (poll.scope, poll.is_quiz, poll.source_question_id) == ("per_table", True, question.pk)
    assert poll.closes_at is not None


def test_question_of_another_course_cannot_be_launched(live, instructor, other_course):
    foreign = polls.bank_question_create(
        course=other_course, actor=instructor, kind="true_false", prompt="?", definition={}
    )
    with pytest.raises(NotFoundError):
        polls.poll_open(session_id=live.pk, actor=instructor, question_id=foreign.pk)
