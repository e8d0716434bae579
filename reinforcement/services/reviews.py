"""Answering review cards: graded on the server, rescheduled with fsrs, logged
once per client request id, recorded in the learning-event log."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import EventMode
from analytics.services import event_record
from classroom.selectors import poll_answer_times_ms, poll_correct_payload
from core.errors import ConflictError, NotFoundError, ValidationError
from questions.grading import answer_clean, answer_grade, response_text
from reinforcement import notify
from reinforcement.models import (
    FollowUpItem,
    ItemKind,
    ReviewAnswer,
    ReviewCard,
    ReviewSource,
)
from reinforcement.scheduling import Performance, card_review, median, rating_for
from reinforcement.selectors import (
    class_result_get,
    course_scheduler,
    poll_rewatch_url,
    practice_poll_get,
    question_key_of,
)

ANSWER_MAX_BYTES = 4096  # an answer is an option id, a few ids, a number or a short text
REQUEST_ID_MAX = 64
ELAPSED_MAX_MS = 24 * 3600 * 1000
EVENT_NAMESPACE = uuid.UUID("0f2f8f0e-8a51-4a57-9d7b-6c1b0c7d4e21")


def _request_id_clean(request_id) -> str:
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= REQUEST_ID_MAX:
        raise ValidationError(
            f"A request id is a text of 1 to {REQUEST_ID_MAX} characters.",
            code="invalid",
            details={"request_id": "required, 1-64 characters"},
        )
    return request_id


def _answer_size_check(answer) -> None:
    try:
        size = len(json.dumps(answer).encode())
    except (TypeError, ValueError):
        size = ANSWER_MAX_BYTES + 1
    if size > ANSWER_MAX_BYTES:
        raise ValidationError(
            f"The answer is too large (at most {ANSWER_MAX_BYTES} bytes).",
            code="answer_too_large",
            details={"answer": f"at most {ANSWER_MAX_BYTES} bytes"},
        )


def _elapsed_clean(elapsed_ms) -> int | None:
    if elapsed_ms is None:
        return None
    if isinstance(elapsed_ms, bool) or not isinstance(elapsed_ms, int) or elapsed_ms < 0:
        raise ValidationError(
            "elapsed_ms is a whole number of milliseconds.",
            code="invalid",
            details={"elapsed_ms": "a whole number >= 0"},
        )
    return min(elapsed_ms, ELAPSED_MAX_MS)


def _replayed(user, request_id: str, *, card_id: int | None = None, poll_id: int | None = None):
    """The stored result of a request id already applied, or None. The same id
    for another card is a client bug, refused."""
    previous = ReviewAnswer.objects.filter(user=user, request_id=request_id).first()
    if previous is None:
        return None
    if (card_id is not None and previous.card_id != card_id) or (
        poll_id is not None and previous.poll_id != poll_id
    ):
        raise ConflictError(
            "This request id was already used for another answer.", code="request_id_reused"
        )
    return {**previous.result, "replayed": True}


def _median_of(poll) -> int | None:
    return median(poll_answer_times_ms(poll_id=poll.pk))


def _feedback(poll, *, is_correct: bool | None) -> dict:
    """What the learner sees after answering: right or not, the right answer,
    how the class did when it was asked, where to rewatch it."""
    return {
        "correct": is_correct,
        "correct_answer": poll_correct_payload(poll),
        "explanation": correct_answer_text(poll),
        "class_result": class_result_get(poll),
        "rewatch_url": poll_rewatch_url(poll),
    }


def correct_answer_text(poll) -> str:
    """The right answer in words."""
    definition = poll.definition
    if "correct" in definition:
        texts = {option["id"]: option["text"] for option in definition.get("options", [])}
        right = [texts.get(option_id, option_id) for option_id in definition["correct"]]
        return "The right answer: " + "; ".join(right) + "."
    if definition.get("accepted"):
        return "Accepted answers: " + "; ".join(definition["accepted"]) + "."
    if definition.get("correct_value") is not None:
        tolerance = definition.get("tolerance") or 0
        suffix = f" (± {tolerance})" if tolerance else ""
        return f"The right answer: {definition['correct_value']}{suffix}."
    return ""


def card_answer(
    *,
    user,
    card_id,
    answer,
    request_id,
    version=None,
    elapsed_ms=None,
    warmup_session_id: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Answer one of my review cards. Refused, with nothing written: a card
    that is not mine or does not exist (404), not due (409 `not_due`, unless
    it is in my warm-up for `warmup_session_id`), answered meanwhile
    (`version` differs: 409 `stale`), an unknown option or malformed answer
    (400), an oversize one (400 `answer_too_large`). A request id already
    applied returns the first result and changes nothing."""
    request_id = _request_id_clean(request_id)
    elapsed_ms = _elapsed_clean(elapsed_ms)
    _answer_size_check(answer)
    if isinstance(card_id, bool) or not isinstance(card_id, int):
        raise NotFoundError("No such review card.", code="card_not_found")
    now = now or timezone.now()
    with transaction.atomic():
        replay = _replayed(user, request_id, card_id=card_id)
        if replay is not None:
            return replay
        card = (
            ReviewCard.objects.select_for_update()
            .select_related("poll", "poll__session")
            .filter(pk=card_id, user=user)
            .first()
        )
        if card is None:
            raise NotFoundError("No such review card.", code="card_not_found")
        if version is not None and version != card.reps:
            raise ConflictError(
                "This card was answered meanwhile (another tab?): load the next card.",
                code="stale",
            )
        if card.due > now and not _in_warmup(user, card, warmup_session_id):
            raise ConflictError(
                f"This card is not due yet (it is due {card.due.isoformat()}).", code="not_due"
            )
        poll = card.poll
        clean = answer_clean(question=poll, answer=answer)
        is_correct, score = answer_grade(question=poll, answer=clean)
        rating = rating_for(
            Performance(
                is_correct=bool(is_correct), elapsed_ms=elapsed_ms, class_median_ms=_median_of(poll)
            )
        )
        scheduler = course_scheduler(course_id=card.course_id, today=timezone.localdate(now))
        due_before = card.due
        fsrs_log = card_review(
            card, scheduler=scheduler, rating=rating, at=now, elapsed_ms=elapsed_ms
        )
        card.save(
            update_fields=[
                "state", "step", "stability", "difficulty", "due", "last_review", "reps", "lapses",
            ]
        )  # fmt: skip
        result = {
            **_feedback(poll, is_correct=is_correct),
            "card_id": card.pk,
            "rating": rating.name,
            "next_due": card.due.isoformat(),
            "replayed": False,
        }
        try:
            with transaction.atomic():
                ReviewAnswer.objects.create(
                    user=user, course_id=card.course_id, card=card, poll=poll,
                    question_key=card.question_key, source=ReviewSource.SCHEDULED,
                    request_id=request_id, answer=clean, is_correct=is_correct,
                    rating=int(rating), elapsed_ms=elapsed_ms, answered_at=now,
                    due_before=due_before, due_after=card.due, fsrs_log=fsrs_log, result=result,
                )  # fmt: skip
        except IntegrityError as error:  # the same request id, racing: the first one wins
            raise ConflictError(
                "This request is being applied already.", code="request_in_flight"
            ) from error
        event_record(
            verb="review.answered",
            object_type="review_card",
            object_id=card.pk,
            actor=user,
            course_id=card.course_id,
            live_session_id=poll.session_id,
            mode=EventMode.REVIEW,
            success=is_correct,
            score=score,
            response=response_text(clean),
            duration_ms=elapsed_ms,
            extensions={
                "question_key": card.question_key,
                "source": ReviewSource.SCHEDULED.value,
                "rating": int(rating),
                "due_at": card.due.isoformat(),
            },
            occurred_at=now,
            event_id=uuid.uuid5(EVENT_NAMESPACE, f"{user.pk}:{request_id}"),
        )
        if not ReviewCard.objects.filter(
            user=user, course_id=card.course_id, due__lte=now
        ).exists():
            _reminders_cancel(user, card.course_id, now)
    return result


def _in_warmup(user, card: ReviewCard, warmup_session_id) -> bool:
    if warmup_session_id is None:
        return False
    return any(
        card.pk in (data.get("card_ids") or [])
        for data in FollowUpItem.objects.filter(
            user=user, kind=ItemKind.WARMUP, key=f"session:{warmup_session_id}"
        ).values_list("data", flat=True)
    )


def _reminders_cancel(user, course_id: int, now: datetime) -> None:
    """Nothing left to review: today's review-due reminder is moot."""
    notify.cancel(
        user=user,
        kind=notify.REVIEW_DUE,
        key=f"due:{course_id}:{timezone.localdate(now).isoformat()}",
    )


def practice_answer(*, user, course_id: int, poll_id, answer, request_id, now=None) -> dict:
    """Answer a question of a past session on demand: graded and shown like a
    review, logged, but no card is rescheduled."""
    request_id = _request_id_clean(request_id)
    _answer_size_check(answer)
    now = now or timezone.now()
    poll = None
    if isinstance(poll_id, int) and not isinstance(poll_id, bool):
        poll = practice_poll_get(course_id=course_id, poll_id=poll_id)
    if poll is None:
        raise NotFoundError("No such question to practise.", code="question_not_found")
    with transaction.atomic():
        replay = _replayed(user, request_id, poll_id=poll.pk)
        if replay is not None:
            return replay
        clean = answer_clean(question=poll, answer=answer)
        is_correct, score = answer_grade(question=poll, answer=clean)
        result = {**_feedback(poll, is_correct=is_correct), "poll_id": poll.pk, "replayed": False}
        ReviewAnswer.objects.create(
            user=user, course_id=course_id, poll=poll, question_key=question_key_of(poll),
            source=ReviewSource.PRACTICE, request_id=request_id, answer=clean,
            is_correct=is_correct, answered_at=now, result=result,
        )  # fmt: skip
        event_record(
            verb="review.answered",
            object_type="poll",
            object_id=poll.pk,
            actor=user,
            course_id=course_id,
            live_session_id=poll.session_id,
            mode=EventMode.REVIEW,
            success=is_correct,
            score=score,
            response=response_text(clean),
            extensions={
                "question_key": question_key_of(poll),
                "source": ReviewSource.PRACTICE.value,
            },
            occurred_at=now,
            event_id=uuid.uuid5(EVENT_NAMESPACE, f"{user.pk}:{request_id}"),
        )
    return result
