"""Spaced repetition with the `fsrs` package (FSRS-6): what happened becomes a
rating, a stored card becomes an `fsrs.Card` and back, and each course gets
its scheduler (desired retention, maximum interval bounded by the course's
end, fuzzing on). docs/reinforcement.md states the rating mapping.

Pure functions: no database access here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from fsrs import Card, Rating, Scheduler, State

# "Much slower than the class": more than this many times the class's median
# time to answer (with at least MEDIAN_MIN_ANSWERS answers to take a median of).
SLOW_FACTOR = 2.0
MEDIAN_MIN_ANSWERS = 3
MAXIMUM_INTERVAL_DAYS = 36500  # fsrs's own default, when the course has no end date


@dataclass(frozen=True)
class Performance:
    """One answer as the rating mapping sees it."""

    is_correct: bool
    changed: bool = False  # the answer was changed before it was final
    elapsed_ms: int | None = None  # time to answer
    class_median_ms: int | None = None  # the class's median time to answer that question


def rating_for(performance: Performance) -> Rating:
    """wrong → Again; right after changing the answer, or more than twice as
    slow as the class's median → Hard; right → Good. Easy is never inferred."""
    if not performance.is_correct:
        return Rating.Again
    if performance.changed:
        return Rating.Hard
    if (
        performance.elapsed_ms is not None
        and performance.class_median_ms
        and performance.elapsed_ms > SLOW_FACTOR * performance.class_median_ms
    ):
        return Rating.Hard
    return Rating.Good


def median(values: list[int]) -> int | None:
    """The median of at least MEDIAN_MIN_ANSWERS values, else None."""
    ordered = sorted(v for v in values if v is not None)
    if len(ordered) < MEDIAN_MIN_ANSWERS:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def maximum_interval_days(*, course_ends_on: date | None, today: date) -> int:
    """No card is scheduled past the course's end (at least 1 day: fsrs needs one)."""
    if course_ends_on is None:
        return MAXIMUM_INTERVAL_DAYS
    return max(1, min(MAXIMUM_INTERVAL_DAYS, (course_ends_on - today).days))


def scheduler_for(
    *, desired_retention: float, course_ends_on: date | None, today: date
) -> Scheduler:
    """The course's scheduler: fsrs's default parameters and learning steps,
    the course's retention, intervals bounded by its end, fuzzing on."""
    return Scheduler(
        desired_retention=desired_retention,
        maximum_interval=maximum_interval_days(course_ends_on=course_ends_on, today=today),
        enable_fuzzing=True,
    )


def utc(moment: datetime) -> datetime:
    """fsrs insists on `datetime.timezone.utc` itself."""
    return moment.astimezone(UTC)


def card_to_fsrs(card) -> Card:
    """A stored ReviewCard (or anything with its fields) as an fsrs Card."""
    return Card(
        card_id=card.pk or 0,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=utc(card.due),
        last_review=utc(card.last_review) if card.last_review else None,
    )


def card_from_fsrs(card, reviewed: Card) -> list[str]:
    """Copy an fsrs Card's state onto the stored card; the fields changed."""
    card.state = int(reviewed.state)
    card.step = reviewed.step
    card.stability = reviewed.stability
    card.difficulty = reviewed.difficulty
    card.due = reviewed.due
    card.last_review = reviewed.last_review
    return ["state", "step", "stability", "difficulty", "due", "last_review"]


def card_review(
    card, *, scheduler: Scheduler, rating: Rating, at: datetime, elapsed_ms: int | None = None
) -> dict:
    """Review the stored card with fsrs (mutates it); returns the fsrs
    ReviewLog as a dict. The caller saves the card."""
    was_in_review = card.state == int(State.Review)
    reviewed, log = scheduler.review_card(
        card_to_fsrs(card), rating, review_datetime=utc(at), review_duration=elapsed_ms
    )
    card_from_fsrs(card, reviewed)
    card.reps += 1
    if rating == Rating.Again and was_in_review:
        card.lapses += 1
    return log.to_dict()


def retrievability(card, *, scheduler: Scheduler, at: datetime) -> float:
    """The predicted probability of recalling the card at `at` (0 for a card
    never reviewed)."""
    return float(scheduler.get_card_retrievability(card_to_fsrs(card), current_datetime=utc(at)))


def new_card_fields(at: datetime) -> dict:
    """A fresh card (fsrs.Card's defaults), due at `at`."""
    fresh = Card(due=utc(at))
    return {
        "state": int(fresh.state),
        "step": fresh.step,
        "stability": fresh.stability,
        "difficulty": fresh.difficulty,
        "due": fresh.due,
        "last_review": None,
    }


def decay_and_factor(scheduler: Scheduler) -> tuple[float, float]:
    """fsrs's forgetting-curve constants (DECAY = -w20, FACTOR = 0.9^(1/DECAY) - 1),
    for computing retrievability in SQL over many cards at once."""
    decay = -scheduler.parameters[20]
    return decay, 0.9 ** (1 / decay) - 1
