"""Reads of reinforcement: course settings, plans, due cards, follow-up items
and the staff's review statistics. The pages and the API share them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from classroom.models import Poll
from classroom.selectors import (
    course_sessions_split,
    live_session_list,
    poll_correct_counts,
    poll_public_payload,
)
from courses.models import Enrollment, Role, User
from playback.selectors import recording_polls_get, session_recordings_get
from questions.grading import has_correct_answer
from reinforcement.models import (
    FollowUpItem,
    FollowUpPlan,
    ItemKind,
    PlanStatus,
    ReinforcementSettings,
    ReviewAnswer,
    ReviewCard,
    ReviewSource,
)
from reinforcement.scheduling import retrievability, scheduler_for

REWIND_MS = 60_000  # a rewatch link starts about a minute before the question


def course_settings_get(*, course_id: int) -> ReinforcementSettings:
    """The course's settings, or the defaults (unsaved) when it has none."""
    found = ReinforcementSettings.objects.filter(course_id=course_id).first()
    return found or ReinforcementSettings(course_id=course_id)


def course_scheduler(*, course_id: int, today=None):
    conf = course_settings_get(course_id=course_id)
    return scheduler_for(
        desired_retention=conf.desired_retention,
        course_ends_on=conf.course_ends_on,
        today=today or timezone.localdate(),
    )


def question_key_of(poll) -> str:
    """One card per question: a bank question met in several sessions is one."""
    if poll.source_question_id:
        return f"bank:{poll.source_question_id}"
    return f"poll:{poll.pk}"


def clock(ms: int) -> str:
    """Milliseconds as h:mm:ss or m:ss."""
    seconds = max(0, int(ms // 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def rewatch_url(*, recording_id: int, media_ms: int) -> str:
    """The playback page of a recording, starting about a minute before `media_ms`."""
    start = max(0, media_ms - REWIND_MS) // 1000
    return f"{reverse('recording-detail', args=[recording_id])}?t={start}"


# --- Plans (staff) ---------------------------------------------------------------------


def plan_for_session(*, session_id: int) -> FollowUpPlan | None:
    return (
        FollowUpPlan.objects.select_related("session", "course")
        .filter(session_id=session_id)
        .first()
    )


def plan_summary_get(*, plan: FollowUpPlan) -> dict:
    """What a plan will send (or sent): its questions with how many learners
    review each and whether staff dropped it, the learners and their items."""
    items = list(
        FollowUpItem.objects.filter(plan=plan)
        .select_related("user")
        .order_by("user__display_name", "user_id", "kind", "id")
    )
    polls = {
        poll.pk: poll
        for poll in Poll.objects.filter(session_id=plan.session_id).order_by("opened_at", "id")
    }
    questions: dict[str, dict] = {}
    for poll in polls.values():
        if not poll.is_quiz or poll.is_anonymous:
            continue
        questions.setdefault(
            question_key_of(poll),
            {
                "key": question_key_of(poll),
                "poll_id": poll.pk,
                "prompt": poll.prompt,
                "wrong": 0,
                "missed": 0,
                "dropped": question_key_of(poll) in plan.dropped_keys,
            },
        )
    learners: dict[int, dict] = {}
    kinds: dict[str, int] = defaultdict(int)
    for item in items:
        kinds[item.kind] += 1
        entry = learners.setdefault(
            item.user_id, {"user_id": item.user_id, "name": item.user.name, "items": []}
        )
        entry["items"].append(item_payload(item))
        if item.kind == ItemKind.REVIEW and item.question_key in questions:
            outcome = item.data.get("outcome")
            if outcome in ("wrong", "missed"):
                questions[item.question_key][outcome] += 1
    return {
        "session_id": plan.session_id,
        "course_id": plan.course_id,
        "status": plan.status,
        "hold_until": plan.hold_until,
        "sent_at": plan.sent_at,
        "message": plan.message,
        "dropped": list(plan.dropped_keys),
        "sources": list(plan.sources),
        "recording_id": plan.recording_id,
        "questions": list(questions.values()),
        "counts": dict(kinds),
        "learners": list(learners.values()),
    }


def plans_due_for_release(*, now: datetime) -> list[int]:
    """Held plans whose hold window has passed."""
    return list(
        FollowUpPlan.objects.filter(status=PlanStatus.HELD, hold_until__lte=now).values_list(
            "pk", flat=True
        )
    )


# --- Follow-up items (learners) ------------------------------------------------------------


def item_payload(item: FollowUpItem) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "key": item.key,
        "question_key": item.question_key,
        "title": item.title,
        "explanation": item.explanation,
        "url": item.url,
        "due_at": item.due_at,
        "created_at": item.created_at,
    }


def followup_items_list(*, user: User, course_id: int) -> list[dict]:
    """The learner's follow-up of sent plans, the most recent session first."""
    items = (
        FollowUpItem.objects.filter(user=user, course_id=course_id, plan__status=PlanStatus.SENT)
        .select_related("plan", "plan__session")
        .order_by("-plan__session__ended_at", "-plan_id", "kind", "id")
    )
    groups: dict[int, dict] = {}
    for item in items:
        group = groups.setdefault(
            item.plan_id,
            {
                "session_id": item.plan.session_id,
                "session_title": item.plan.session.title,
                "message": item.plan.message,
                "sent_at": item.plan.sent_at,
                "items": [],
            },
        )
        group["items"].append(item_payload(item))
    return list(groups.values())


def learner_summary_text(*, wrong: int, missed: int, graded: int, session_title: str) -> str:
    """'You answered 2 of 5 quiz questions wrong in “Supply curves” and missed 1.'"""
    if not graded:
        return f"Here is your follow-up for “{session_title}”."
    parts = []
    if wrong:
        parts.append(f"You answered {wrong} of {graded} quiz questions wrong in “{session_title}”")
    if missed:
        if parts:
            parts.append(f"and did not answer {missed}")
        else:
            parts.append(
                f"You did not answer {missed} of {graded} quiz questions in “{session_title}”"
            )
    if not parts:
        return f"You answered every quiz question in “{session_title}” right."
    return " ".join(parts) + "."


# --- Review cards ------------------------------------------------------------------------


def card_course_id(*, user: User, card_id: int) -> int | None:
    """The course of one of the user's cards (None: no such card of theirs)."""
    return (
        ReviewCard.objects.filter(pk=card_id, user=user).values_list("course_id", flat=True).first()
    )


def _visible_cards(user: User, course_id: int):
    return ReviewCard.objects.filter(user=user, course_id=course_id)


def due_cards_list(*, user: User, course_id: int, now: datetime, limit: int = 50) -> list:
    """The learner's cards due now, most overdue first."""
    return list(
        _visible_cards(user, course_id)
        .filter(due__lte=now)
        .select_related("poll", "poll__session")
        .order_by("due", "id")[:limit]
    )


def card_get(*, user: User, card_id: int) -> ReviewCard | None:
    return (
        ReviewCard.objects.select_related("poll", "poll__session")
        .filter(pk=card_id, user=user)
        .first()
    )


def warmup_cards_list(*, user: User, course_id: int, session_id: int, now: datetime) -> list:
    """The cards of my warm-up before a session not yet answered today."""
    ids = [
        card_id
        for data in FollowUpItem.objects.filter(
            user=user, course_id=course_id, kind=ItemKind.WARMUP, key=f"session:{session_id}"
        ).values_list("data", flat=True)
        for card_id in data.get("card_ids", [])
    ]
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    answered = set(
        ReviewAnswer.objects.filter(
            user=user, card_id__in=ids, answered_at__gte=midnight
        ).values_list("card_id", flat=True)
    )
    cards = ReviewCard.objects.filter(pk__in=ids, user=user).select_related("poll", "poll__session")
    return [card for card in cards.order_by("id") if card.pk not in answered]


def practice_sessions_list(*, course) -> list[dict]:
    """The course's past sessions with graded questions, most recent first."""
    _upcoming, past = course_sessions_split(sessions=list(live_session_list(course=course)))
    with_questions = set(
        Poll.objects.filter(session__in=past, is_quiz=True, is_anonymous=False).values_list(
            "session_id", flat=True
        )
    )
    return [
        {"id": session.pk, "title": session.title, "when": session.started_at}
        for session in past
        if session.pk in with_questions
    ][:10]


def next_due_at(*, user: User, course_id: int, now: datetime) -> datetime | None:
    return (
        _visible_cards(user, course_id)
        .filter(due__gt=now)
        .order_by("due")
        .values_list("due", flat=True)
        .first()
    )


def review_progress_get(*, user: User, course_id: int, now: datetime) -> dict:
    """Today's scheduled reviews: done (since local midnight), still due, percent."""
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    done = ReviewAnswer.objects.filter(
        user=user,
        course_id=course_id,
        source=ReviewSource.SCHEDULED,
        answered_at__gte=midnight,
    ).count()
    due = _visible_cards(user, course_id).filter(due__lte=now).count()
    total = done + due
    return {
        "done": done,
        "due": due,
        "total": total,
        "percent": round(100 * done / total) if total else 100,
        "next_due_at": None if due else next_due_at(user=user, course_id=course_id, now=now),
    }


def card_question_payload(card: ReviewCard) -> dict:
    """What the review page shows before the answer: the question as it was
    asked, never its correct answer."""
    public = poll_public_payload(card.poll)
    return {
        "card_id": card.pk,
        "version": card.reps,
        "question_key": card.question_key,
        "due": card.due,
        "session_title": card.poll.session.title,
        "asked_at": card.poll.opened_at,
        "kind": public["kind"],
        "prompt": public["prompt"],
        "definition": public["definition"],
    }


def class_result_get(poll) -> dict:
    """How the class did when the question was asked."""
    answered, correct = poll_correct_counts(poll_ids=[poll.pk]).get(poll.pk, (0, 0))
    return {
        "answered": answered,
        "correct": correct,
        "percent_correct": round(100 * correct / answered) if answered else None,
    }


def poll_rewatch_url(poll) -> str:
    """Where the question was asked in the session's recording ('' when none)."""
    recording = session_recordings_get(session_ids=[poll.session_id], is_staff=False).get(
        poll.session_id
    )
    if recording is None or recording.timeline_built_at is None:
        return ""
    for item in recording_polls_get(recording=recording):
        if item.poll.pk == poll.pk:
            return rewatch_url(recording_id=recording.pk, media_ms=item.offset_ms)
    return ""


def session_practice_polls(*, session_id: int) -> list:
    """A session's graded, named polls in the order they were asked."""
    return [
        poll
        for poll in Poll.objects.filter(session_id=session_id, is_quiz=True, is_anonymous=False)
        .select_related("session")
        .order_by("opened_at", "id")
        if has_correct_answer(poll.kind, poll.definition)
    ]


def practice_poll_get(*, course_id: int, poll_id: int):
    """A graded, named poll of one of the course's sessions, or None."""
    session_id = (
        Poll.objects.filter(pk=poll_id, session__course_id=course_id)
        .values_list("session_id", flat=True)
        .first()
    )
    if session_id is None:
        return None
    return next(
        (poll for poll in session_practice_polls(session_id=session_id) if poll.pk == poll_id),
        None,
    )


# --- Staff statistics --------------------------------------------------------------------


@dataclass
class LearnerStats:
    user_id: int
    name: str
    cards: int
    due: int
    overdue: int
    mean_recall: float | None
    reviews: int

    @property
    def has_started(self) -> bool:
        return self.reviews > 0


OVERDUE_AFTER = timedelta(days=1)  # docs/reinforcement.md: overdue = due more than a day ago


def review_state_by_learner(
    *, course_id: int, now: datetime, user_ids=None, cards=None
) -> dict[int, dict]:
    """Each learner's cards in the course: how many, due, overdue (due more
    than a day ago) and their mean predicted recall now (FSRS retrievability
    of the reviewed cards; None before any review). One query (or `cards`)."""
    scheduler = course_scheduler(course_id=course_id)
    if cards is None:
        cards = ReviewCard.objects.filter(course_id=course_id)
        if user_ids is not None:
            cards = cards.filter(user_id__in=list(user_ids))
        cards = cards.only(
            "id", "user_id", "state", "step", "stability", "difficulty", "due", "last_review"
        )
    state: dict[int, dict] = defaultdict(lambda: {"cards": 0, "due": 0, "overdue": 0, "recall": []})
    for card in cards:
        mine = state[card.user_id]
        mine["cards"] += 1
        if card.due <= now:
            mine["due"] += 1
            if card.due <= now - OVERDUE_AFTER:
                mine["overdue"] += 1
        if card.last_review is not None:
            mine["recall"].append(retrievability(card, scheduler=scheduler, at=now))
    return {
        user_id: {
            "cards": mine["cards"],
            "due": mine["due"],
            "overdue": mine["overdue"],
            "mean_recall": round(sum(mine["recall"]) / len(mine["recall"]), 3)
            if mine["recall"]
            else None,
        }
        for user_id, mine in state.items()
    }


def review_due_changes(*, since: datetime, until: datetime) -> set[tuple[int, int]]:
    """(course, learner) pairs whose cards became due or overdue in (since,
    until]: their due counts changed with time alone, without an event."""
    became = Q(due__gt=since, due__lte=until) | Q(
        due__gt=since - OVERDUE_AFTER, due__lte=until - OVERDUE_AFTER
    )
    return set(ReviewCard.objects.filter(became).values_list("course_id", "user_id").distinct())


def course_review_stats(*, course_id: int, now: datetime) -> dict:
    """Most-missed questions (with a jump to where each was taught), each
    learner's due and overdue cards, mean predicted recall, and who has not
    started reviewing."""
    cards = list(
        ReviewCard.objects.filter(course_id=course_id).only(
            "id", "user_id", "question_key", "poll_id", "state", "step", "stability",
            "difficulty", "due", "last_review", "lapses",
        )
    )  # fmt: skip
    reviews = dict(
        ReviewAnswer.objects.filter(course_id=course_id, source=ReviewSource.SCHEDULED)
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    learners = {
        user.pk: user
        for user in User.objects.filter(
            enrollments__course_id=course_id,
            enrollments__role=Role.LEARNER,
            enrollments__is_active=True,
        )
    }
    state = review_state_by_learner(course_id=course_id, now=now, cards=cards)
    per_user: dict[int, LearnerStats] = {}
    for uid, user in learners.items():
        mine = state.get(uid, {"cards": 0, "due": 0, "overdue": 0, "mean_recall": None})
        per_user[uid] = LearnerStats(
            uid, user.name, mine["cards"], mine["due"], mine["overdue"], mine["mean_recall"],
            reviews.get(uid, 0),
        )  # fmt: skip
    missed_by_key: dict[str, dict] = {}
    for card in cards:
        if card.user_id not in per_user:
            continue
        entry = missed_by_key.setdefault(
            card.question_key, {"question_key": card.question_key, "poll_id": card.poll_id,
                                "learners": 0, "lapses": 0}
        )  # fmt: skip
        entry["learners"] += 1
        entry["lapses"] += card.lapses
    wrong_reviews = dict(
        ReviewAnswer.objects.filter(
            course_id=course_id, source=ReviewSource.SCHEDULED, is_correct=False
        )
        .values("question_key")
        .annotate(n=Count("id"))
        .values_list("question_key", "n")
    )
    polls = Poll.objects.in_bulk([entry["poll_id"] for entry in missed_by_key.values()])
    questions = []
    for entry in missed_by_key.values():
        poll = polls.get(entry["poll_id"])
        if poll is None:
            continue
        entry["prompt"] = poll.prompt
        entry["session_id"] = poll.session_id
        entry["wrong_reviews"] = wrong_reviews.get(entry["question_key"], 0)
        entry["taught_url"] = poll_rewatch_url(poll)
        questions.append(entry)
    questions.sort(key=lambda e: (-e["learners"], -e["wrong_reviews"], e["question_key"]))
    rows = sorted(per_user.values(), key=lambda s: (s.name.casefold(), s.user_id))
    return {
        "questions": questions[:20],
        "learners": rows,
        "not_started": [row for row in rows if row.cards and not row.has_started],
        "cards": len(cards),
    }


def due_scan(*, now: datetime) -> list[tuple[int, int, int]]:
    """(user id, course id, due cards) for every learner with cards due now,
    in one aggregate query (the periodic review-due scan)."""
    active = Enrollment.objects.filter(
        user_id=OuterRef("user_id"),
        course_id=OuterRef("course_id"),
        is_active=True,
        role=Role.LEARNER,
    )
    return list(
        ReviewCard.objects.filter(due__lte=now)
        .filter(Exists(active))
        .values("user_id", "course_id")
        .annotate(due=Count("id"))
        .values_list("user_id", "course_id", "due")
        .order_by("user_id", "course_id")
    )


def plans_of_course(*, course_id: int, limit: int = 20) -> list[FollowUpPlan]:
    return list(
        FollowUpPlan.objects.filter(course_id=course_id)
        .select_related("session")
        .order_by("-session__ended_at", "-id")[:limit]
    )


def learner_has_items(*, user: User, course_id: int) -> bool:
    return FollowUpItem.objects.filter(
        Q(plan__status=PlanStatus.SENT), user=user, course_id=course_id
    ).exists()


def session_review_scores(*, session, learner_ids: set[int]) -> dict[int, float] | None:
    """Review completion of one live session, for the LMS gradebook
    (classroom.hooks.session_review_scores): per learner, the share of the
    review cards the session's sent follow-up gave them that they reviewed
    (a scheduled review answer) since it was sent. A learner the follow-up
    gave nothing to review has completed it (1). None until the follow-up
    was sent: there is nothing to grade yet. Two queries."""
    plan = FollowUpPlan.objects.filter(session=session, status=PlanStatus.SENT).first()
    if plan is None or plan.sent_at is None:
        return None
    asked: dict[int, set[str]] = defaultdict(set)
    for user_id, key in FollowUpItem.objects.filter(
        plan=plan, kind=ItemKind.REVIEW, user_id__in=learner_ids
    ).values_list("user_id", "question_key"):
        asked[user_id].add(key)
    keys = {key for wanted in asked.values() for key in wanted}
    done: dict[int, set[str]] = defaultdict(set)
    if keys:
        for user_id, key in (
            ReviewAnswer.objects.filter(
                user_id__in=list(asked),
                course_id=plan.course_id,
                source=ReviewSource.SCHEDULED,
                question_key__in=keys,
                answered_at__gte=plan.sent_at,
            )
            .values_list("user_id", "question_key")
            .distinct()
        ):
            done[user_id].add(key)
    return {
        user_id: (len(asked[user_id] & done[user_id]) / len(asked[user_id]))
        if asked.get(user_id)
        else 1.0
        for user_id in learner_ids
    }
