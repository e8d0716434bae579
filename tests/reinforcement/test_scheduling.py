"""The rating mapping and FSRS scheduling, checked against the fsrs package's
own scheduler fed the same inputs (fuzz seeded identically), never against
numbers typed into the test."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from fsrs import Card, Rating, Scheduler, State

from reinforcement.scheduling import (
    Performance,
    card_review,
    maximum_interval_days,
    median,
    new_card_fields,
    rating_for,
    retrievability,
    scheduler_for,
)


class StoredCard:
    """The stored card's fields, as reinforcement.models.ReviewCard has them."""

    def __init__(self, at: datetime) -> None:
        self.pk = 7
        self.reps = 0
        self.lapses = 0
        for name, value in new_card_fields(at).items():
            setattr(self, name, value)


@pytest.mark.parametrize(
    ("performance", "rating"),
    [
        (Performance(is_correct=False), Rating.Again),
        (Performance(is_correct=False, changed=True, elapsed_ms=1), Rating.Again),
        (Performance(is_correct=True, changed=True), Rating.Hard),
        (Performance(is_correct=True, elapsed_ms=30_001, class_median_ms=15_000), Rating.Hard),
        (Performance(is_correct=True, elapsed_ms=30_000, class_median_ms=15_000), Rating.Good),
        (Performance(is_correct=True, elapsed_ms=90_000, class_median_ms=None), Rating.Good),
        (Performance(is_correct=True), Rating.Good),
    ],
)
def test_rating_mapping(performance, rating):
    assert rating_for(performance) == rating


def test_median_needs_three_answers():
    assert median([5, 1]) is None
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 10]) == 3


def test_maximum_interval_is_bounded_by_the_course_end():
    today = date(2026, 12, 2)
    assert maximum_interval_days(course_ends_on=date(2026, 12, 30), today=today) == 28
    assert maximum_interval_days(course_ends_on=date(2026, 11, 1), today=today) == 1
    assert maximum_interval_days(course_ends_on=None, today=today) == Scheduler().maximum_interval


def _reference(retention: float, maximum: int) -> Scheduler:
    return Scheduler(desired_retention=retention, maximum_interval=maximum, enable_fuzzing=True)


@pytest.mark.parametrize("retention", [0.80, 0.90, 0.95])
def test_a_review_sequence_gives_fsrs_own_due_dates(retention):
    """Same ratings at the same times, same fuzz: the same card as fsrs gives."""
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ratings = [
        Rating.Again,
        Rating.Good,
        Rating.Good,
        Rating.Hard,
        Rating.Again,
        Rating.Good,
        Rating.Good,
    ]
    ours = StoredCard(start)
    theirs = Card(card_id=7, due=start)
    scheduler = scheduler_for(desired_retention=retention, course_ends_on=None, today=start.date())
    reference = _reference(retention, Scheduler().maximum_interval)
    at = start
    for step, rating in enumerate(ratings):
        state = random.Random(step).getstate()
        random.setstate(state)
        card_review(ours, scheduler=scheduler, rating=rating, at=at, elapsed_ms=4000)
        random.setstate(state)
        theirs, _log = reference.review_card(
            theirs, rating, review_datetime=at, review_duration=4000
        )
        assert (ours.due, ours.state, ours.step, ours.stability, ours.difficulty) == (
            theirs.due, int(theirs.state), theirs.step, theirs.stability, theirs.difficulty,
        )  # fmt: skip
        at = theirs.due + timedelta(hours=1)
    assert ours.reps == len(ratings)
    assert ours.state == int(State.Review)
    assert ours.lapses == 1  # the Again after reaching Review


def test_the_course_end_caps_intervals_exactly_as_fsrs_maximum_interval():
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ends = date(2026, 12, 11)
    scheduler = scheduler_for(desired_retention=0.9, course_ends_on=ends, today=start.date())
    reference = _reference(0.9, 10)
    ours, theirs, at = StoredCard(start), Card(card_id=7, due=start), start
    for step in range(6):
        state = random.Random(100 + step).getstate()
        random.setstate(state)
        card_review(ours, scheduler=scheduler, rating=Rating.Good, at=at)
        random.setstate(state)
        theirs, _ = reference.review_card(theirs, Rating.Good, review_datetime=at)
        assert ours.due == theirs.due
        at = theirs.due
    assert ours.due - ours.last_review <= timedelta(days=10)


def test_predicted_recall_is_fsrs_retrievability():
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    card = StoredCard(start)
    scheduler = scheduler_for(desired_retention=0.9, course_ends_on=None, today=start.date())
    random.seed(3)
    card_review(card, scheduler=scheduler, rating=Rating.Good, at=start)
    later = start + timedelta(days=9)
    reference = Card(
        card_id=7, state=State(card.state), step=card.step, stability=card.stability,
        difficulty=card.difficulty, due=card.due, last_review=card.last_review,
    )  # fmt: skip
    assert retrievability(
        card, scheduler=scheduler, at=later
    ) == Scheduler().get_card_retrievability(reference, current_datetime=later)
    assert retrievability(StoredCard(start), scheduler=scheduler, at=later) == 0
