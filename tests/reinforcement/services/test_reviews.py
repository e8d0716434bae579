"""Answering review cards: server grading, fsrs rescheduling (against the
package's own scheduler), one application per request id, and every bad
input refused with nothing changed."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from fsrs import Card, Rating, Scheduler, State

from analytics.models import LearningEvent
from core.errors import ConflictError, NotFoundError, ValidationError
from reinforcement.models import ReviewAnswer, ReviewCard, ReviewSource
from reinforcement.services import planning, reviews
from reinforcement.services.settings import course_settings_update
from tests.reinforcement.conftest import course_settings, learners_of, quiz_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(course):
    """Ana missed both questions of an ended session; the follow-up is sent."""
    course_settings(course, hold_minutes=0, desired_retention=0.85)
    ana, ben = learners_of(course, 2)
    session, polls = quiz_session(course, [ana, ben], answers={(ben, 0): True, (ben, 1): True})
    planning.followups_plan(session_id=session.pk, source="session_ended")
    return ana, ben, list(ReviewCard.objects.filter(user=ana).order_by("id")), polls


def _state(card_id):
    card = ReviewCard.objects.get(pk=card_id)
    return (card.due, card.reps, card.stability, card.state)


def test_a_right_answer_is_rescheduled_exactly_as_fsrs_would(cards):
    ana, _ben, (card, _other), _polls = cards
    now = timezone.now()
    reference_card = Card(card_id=card.pk, due=card.due)
    state = random.getstate()

    result = reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "a"}, request_id="r-1", version=0, now=now
    )

    random.setstate(state)
    expected, _log = Scheduler(desired_retention=0.85).review_card(
        reference_card, Rating.Good, review_datetime=now
    )
    card.refresh_from_db()
    assert (card.due, card.state, card.stability) == (
        expected.due,
        int(expected.state),
        expected.stability,
    )
    assert result["correct"] is True
    assert result["rating"] == "Good"
    assert result["explanation"] == "The right answer: Alpha."
    assert result["class_result"] == {"answered": 1, "correct": 1, "percent_correct": 100}
    assert result["next_due"] == expected.due.isoformat()
    logged = ReviewAnswer.objects.get(request_id="r-1")
    assert (logged.source, logged.rating, logged.due_after) == (
        ReviewSource.SCHEDULED,
        3,
        expected.due,
    )
    event = LearningEvent.objects.get(verb="review.answered")
    assert (event.actor_id, event.object_type, event.object_id, event.mode, event.success) == (
        ana.pk, "review_card", str(card.pk), "review", True,
    )  # fmt: skip
    assert event.extensions["rating"] == 3


def test_a_wrong_answer_is_again_and_the_card_comes_back_within_minutes(cards):
    ana, _ben, (card, _other), _polls = cards
    now = timezone.now()

    result = reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "b"}, request_id="r-2", now=now
    )

    card.refresh_from_db()
    assert result["correct"] is False and result["rating"] == "Again"
    assert card.state == int(State.Learning)
    assert card.due == now + Scheduler().learning_steps[0]


def test_a_repeated_request_id_is_applied_once(cards):
    ana, _ben, (card, _other), _polls = cards
    first = reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "a"}, request_id="same"
    )
    before = _state(card.pk)

    again = reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "b"}, request_id="same"
    )

    assert again == {**first, "replayed": True}
    assert _state(card.pk) == before
    assert ReviewAnswer.objects.filter(request_id="same").count() == 1
    assert LearningEvent.objects.filter(verb="review.answered").count() == 1


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"answer": {"option": "zzz"}}, ValidationError, "invalid_answer"),
        ({"answer": {"text": "x" * 5000}}, ValidationError, "answer_too_large"),
        ({"answer": "a"}, ValidationError, "invalid_answer"),
        ({"request_id": ""}, ValidationError, "invalid"),
        ({"version": 5}, ConflictError, "stale"),
        ({"card_id": 10**9}, NotFoundError, "card_not_found"),
        ({"card_id": "1"}, NotFoundError, "card_not_found"),
        ({"elapsed_ms": -1}, ValidationError, "invalid"),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(cards, change, error, code):
    ana, _ben, (card, _other), _polls = cards
    arguments = {
        "user": ana,
        "card_id": card.pk,
        "answer": {"option": "a"},
        "request_id": "bad",
        "version": 0,
    }
    arguments.update(change)
    before = _state(card.pk)

    with pytest.raises(error) as caught:
        reviews.card_answer(**arguments)

    assert caught.value.code == code
    assert _state(card.pk) == before
    assert not ReviewAnswer.objects.filter(source=ReviewSource.SCHEDULED).exists()
    assert not LearningEvent.objects.filter(verb="review.answered").exists()


def test_someone_elses_card_is_not_found_for_me(cards):
    _ana, ben, (card, _other), _polls = cards
    before = _state(card.pk)
    with pytest.raises(NotFoundError):
        reviews.card_answer(user=ben, card_id=card.pk, answer={"option": "a"}, request_id="x")
    assert _state(card.pk) == before


def test_a_card_not_due_is_refused(cards):
    ana, _ben, (card, _other), _polls = cards
    reviews.card_answer(user=ana, card_id=card.pk, answer={"option": "a"}, request_id="first")
    before = _state(card.pk)

    with pytest.raises(ConflictError) as caught:
        reviews.card_answer(user=ana, card_id=card.pk, answer={"option": "a"}, request_id="second")

    assert caught.value.code == "not_due"
    assert _state(card.pk) == before


def test_a_request_id_reused_for_another_card_is_refused(cards):
    ana, _ben, (card, other), _polls = cards
    reviews.card_answer(user=ana, card_id=card.pk, answer={"option": "a"}, request_id="one")
    with pytest.raises(ConflictError) as caught:
        reviews.card_answer(user=ana, card_id=other.pk, answer={"option": "a"}, request_id="one")
    assert caught.value.code == "request_id_reused"


def test_much_slower_than_the_class_is_hard(course):
    course_settings(course, hold_minutes=0)
    people = learners_of(course, 4)
    ana, others = people[0], people[1:]
    session, polls = quiz_session(
        course, people, polls=1, answers={(learner, 0): True for learner in others}
    )  # three answers of 10 s each: the class median is 10 s
    planning.followups_plan(session_id=session.pk, source="session_ended")
    card = ReviewCard.objects.get(user=ana)

    result = reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "a"}, request_id="slow", elapsed_ms=25_000
    )

    assert result["rating"] == "Hard"


def test_practice_grades_and_logs_without_rescheduling(cards, course):
    ana, _ben, (card, _other), polls = cards
    before = _state(card.pk)

    result = reviews.practice_answer(
        user=ana, course_id=course.pk, poll_id=polls[0].pk, answer={"option": "b"}, request_id="p1"
    )

    assert result["correct"] is False and "next_due" not in result
    assert _state(card.pk) == before
    logged = ReviewAnswer.objects.get(request_id="p1")
    assert (logged.source, logged.card_id, logged.rating) == (ReviewSource.PRACTICE, None, None)
    event = LearningEvent.objects.get(verb="review.answered")
    assert (event.object_type, event.extensions["source"]) == ("poll", "practice")
    with pytest.raises(NotFoundError):
        reviews.practice_answer(
            user=ana,
            course_id=course.pk + 1000,
            poll_id=polls[0].pk,
            answer={"option": "a"},
            request_id="p2",
        )


def test_settings_are_validated(course, instructor):
    with pytest.raises(ValidationError) as caught:
        course_settings_update(course=course, actor=instructor, changes={"desired_retention": 0.99})
    assert "desired_retention" in caught.value.details
    with pytest.raises(ValidationError):
        course_settings_update(course=course, actor=instructor, changes={"colour": "red"})
    conf = course_settings_update(
        course=course, actor=instructor, changes={"desired_retention": 0.8, "hold_minutes": 0}
    )
    assert (conf.desired_retention, conf.hold_minutes) == (0.8, 0)


def test_course_end_date_bounds_the_review_interval(course, instructor, cards):
    ana, _ben, (card, _other), _polls = cards
    ends = timezone.localdate() + timedelta(days=2)
    course_settings_update(course=course, actor=instructor, changes={"course_ends_on": ends})
    # Good, Good: the second would be days away; the course ends in two.
    reviews.card_answer(user=ana, card_id=card.pk, answer={"option": "a"}, request_id="g1")
    card.refresh_from_db()
    later = card.due + timedelta(minutes=1)
    reviews.card_answer(
        user=ana, card_id=card.pk, answer={"option": "a"}, request_id="g2", now=later
    )
    card.refresh_from_db()
    assert card.due - later <= timedelta(days=2)
