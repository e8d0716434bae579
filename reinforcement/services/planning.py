"""The post-session follow-up: plan it from what each learner did, let staff
hold, trim or reword it during the hold window, then send it (cards created
and scheduled, notifications created).

Idempotent by construction: one plan per session (unique), items unique per
(plan, learner, kind, key), one card per (learner, question), one live review
per (card, poll), notifications unique per (user, kind, key), the event ids
derived from the plan. Each run is one transaction holding the plan's row
lock: a worker killed mid-run leaves nothing, and the redelivery plans again."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from analytics.models import EventMode
from analytics.selectors import session_talk_totals
from analytics.services import event_record
from classroom.models import LiveSession, PollScope, SessionState
from classroom.selectors import (
    NamedResponse,
    SessionActivity,
    next_session_get,
    session_activity_get,
)
from core.errors import ConflictError, NotFoundError, ValidationError
from courses.models import User
from playback.selectors import (
    media_offsets_ms,
    recording_polls_get,
    session_timeline_recording_get,
    watched_segments_get,
)
from playback.services.progress import segments_length
from questions.grading import has_correct_answer
from recaps.selectors import published_recap_for_session, recap_text
from reinforcement import notify
from reinforcement.models import (
    FollowUpItem,
    FollowUpPlan,
    ItemKind,
    PlanStatus,
    ReviewAnswer,
    ReviewCard,
    ReviewSource,
)
from reinforcement.scheduling import (
    Performance,
    card_review,
    median,
    new_card_fields,
    rating_for,
    retrievability,
)
from reinforcement.selectors import (
    clock,
    course_scheduler,
    course_settings_get,
    learner_summary_text,
    plans_due_for_release,
    question_key_of,
    rewatch_url,
)

MISSED_MIN_SECONDS = 60  # shorter absences are not "missed segments"
WATCHED_ENOUGH = 0.9  # a missed segment watched this much in playback needs no item
MESSAGE_MAX = 2000
EVENT_NAMESPACE = uuid.UUID("5b0d5d3e-4f3c-4b8e-9c53-2a4f0f6e7a10")


def plan_learner_delay() -> float:
    """Test-only: seconds to sleep between learners while planning
    (REINFORCEMENT_PLAN_LEARNER_DELAY), so a fault test can kill a worker at a
    known point of the job. 0 everywhere else."""
    return float(getattr(settings, "REINFORCEMENT_PLAN_LEARNER_DELAY", 0) or 0)


def is_graded(poll) -> bool:
    """A question that has a right answer and is asked by name."""
    return poll.is_quiz and not poll.is_anonymous and has_correct_answer(poll.kind, poll.definition)


def _event_id(*parts) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(str(part) for part in parts))


@dataclass
class Facts:
    """What planning knows about a session, computed once for all learners."""

    activity: SessionActivity
    graded: list
    answers: dict[tuple[int, int], NamedResponse]  # (poll id, learner id) -> their answer
    medians: dict[int, int | None]
    class_right: dict[int, tuple[int, int]]  # poll id -> (answered, right)
    talk_ms: dict
    poll_offsets: dict[int, int] = field(default_factory=dict)  # poll id -> media ms
    recording: object | None = None

    @property
    def session(self) -> LiveSession:
        return self.activity.session


def facts_get(session_id: int) -> Facts | None:
    activity = session_activity_get(session_id=session_id)
    if activity is None:
        return None
    graded = [poll for poll in activity.polls if is_graded(poll)]
    graded_ids = {poll.pk for poll in graded}
    scopes = {poll.pk: poll.scope for poll in activity.polls}
    members: dict[int, list[int]] = defaultdict(list)
    for user_id, table_id in activity.seats.items():
        members[table_id].append(user_id)
    answers: dict[tuple[int, int], NamedResponse] = {}
    times: dict[int, list[int]] = defaultdict(list)
    class_right: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for response in activity.responses:
        if response.poll_id not in graded_ids:
            continue
        class_right[response.poll_id][0] += 1
        class_right[response.poll_id][1] += response.is_correct is True
        if response.time_to_first_ms is not None:
            times[response.poll_id].append(response.time_to_first_ms)
        if scopes[response.poll_id] == PollScope.ONE_PER_TABLE and response.table_id:
            for user_id in members.get(response.table_id, []):
                answers.setdefault((response.poll_id, user_id), response)
        elif response.user_id is not None:
            answers[(response.poll_id, response.user_id)] = response
    recording = session_timeline_recording_get(session_id=session_id)
    offsets = {}
    if recording is not None:
        offsets = {
            item.poll.pk: item.offset_ms for item in recording_polls_get(recording=recording)
        }
    return Facts(
        activity=activity,
        graded=graded,
        answers=answers,
        medians={poll.pk: median(times.get(poll.pk, [])) for poll in graded},
        class_right={key: (value[0], value[1]) for key, value in class_right.items()},
        talk_ms=session_talk_totals(session_id),
        poll_offsets=offsets,
        recording=recording,
    )


# --- Planning ----------------------------------------------------------------------------


def followups_plan(*, session_id: int, source: str) -> FollowUpPlan | None:
    """Plan (or re-plan) a session's follow-up; send it at once when its hold
    window is already over. Returns None when there is nothing to plan: the
    session is not over or the course switched reinforcement off."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None or session.state != SessionState.ENDED or session.started_at is None:
        return None
    conf = course_settings_get(course_id=session.course_id)
    if not conf.is_enabled:
        return None
    facts = facts_get(session_id)
    with transaction.atomic():
        plan = _plan_locked(session, conf)
        changed = []
        if source not in plan.sources:
            plan.sources = [*plan.sources, source]
            changed.append("sources")
        if facts.recording is not None and plan.recording_id != facts.recording.pk:
            plan.recording_id = facts.recording.pk
            changed.append("recording_id")
        items = _items_build(facts, plan, conf)
        created = FollowUpItem.objects.bulk_create(items, ignore_conflicts=True, batch_size=1000)
        if changed:
            plan.save(update_fields=[*changed, "updated_at"])
        event_record(
            verb="followup.planned",
            object_type="live_session",
            object_id=session.pk,
            course_id=session.course_id,
            live_session_id=session.pk,
            mode=EventMode.REVIEW,
            extensions={
                "source": source,
                "learners": len({item.user_id for item in items}),
                "items": len(items),
            },
            event_id=_event_id("followup.planned", session.pk, source),
        )
        if plan.status == PlanStatus.HELD and plan.hold_until and plan.hold_until <= timezone.now():
            _send(plan, facts, actor=None)
        elif plan.status == PlanStatus.SENT and created:
            _notify_late_items(plan)
    return plan


def _plan_locked(session: LiveSession, conf) -> FollowUpPlan:
    """The session's plan under its row lock, created on the first run."""
    hold_until = (session.ended_at or timezone.now()) + timedelta(minutes=conf.hold_minutes)
    try:
        with transaction.atomic():
            FollowUpPlan.objects.get_or_create(
                session=session,
                defaults={"course_id": session.course_id, "hold_until": hold_until},
            )
    except IntegrityError:  # planned at the same moment by another worker
        pass
    return FollowUpPlan.objects.select_for_update().get(session=session)


def _items_build(facts: Facts, plan: FollowUpPlan, conf) -> list[FollowUpItem]:
    session = facts.session
    delay = plan_learner_delay()
    dropped = set(plan.dropped_keys)
    items: list[FollowUpItem] = []
    answered_any = {user_id for (_poll, user_id) in facts.answers} | facts.activity.ballot_user_ids
    for user_id in facts.activity.learner_ids:
        if delay:
            time.sleep(delay)
        intervals = facts.activity.attendance.get(user_id, [])

        def item(kind, key, title, explanation, url="", question_key="", data=None, due_at=None,
                 _user_id=user_id):  # fmt: skip
            return FollowUpItem(
                plan=plan, user_id=_user_id, course_id=session.course_id, kind=kind, key=key,
                question_key=question_key, title=title[:300], explanation=explanation,
                url=url, data=data or {}, due_at=due_at,
            )  # fmt: skip

        for poll in facts.graded:
            key = question_key_of(poll)
            if key in dropped:
                continue
            answer = facts.answers.get((poll.pk, user_id))
            if answer is not None and answer.is_correct is not False:
                continue
            answered, right = facts.class_right.get(poll.pk, (0, 0))
            share = (
                f" {round(100 * right / answered)} % of the class got it right." if answered else ""
            )
            if answer is not None:
                outcome, explanation = (
                    "wrong",
                    f"You answered this question wrong in “{session.title}”.",
                )
            elif intervals:
                outcome, explanation = (
                    "missed",
                    f"You did not answer this question in “{session.title}”.",
                )
            else:
                outcome, explanation = (
                    "missed",
                    f"This question was asked in “{session.title}”, which you missed.",
                )
            items.append(
                item(
                    ItemKind.REVIEW, key, f"Review: {poll.prompt}", explanation + share,
                    url=reverse("reinforcement-review", args=[session.course_id]),
                    question_key=key, data={"poll_id": poll.pk, "outcome": outcome},
                )
            )  # fmt: skip
            offset = facts.poll_offsets.get(poll.pk)
            if offset is not None:
                items.append(
                    item(
                        ItemKind.REWATCH, key, f"Rewatch: {poll.prompt}",
                        f"Watch the moment this question was asked, from {clock(max(0, offset - 60_000))}.",
                        url=rewatch_url(recording_id=facts.recording.pk, media_ms=offset),
                        question_key=key, data={"poll_id": poll.pk, "media_ms": offset},
                    )
                )  # fmt: skip
        items.extend(_missed_segments(facts, user_id, intervals, item))
        if intervals and user_id not in answered_any and _silent(facts, user_id, conf):
            items.append(
                item(
                    ItemKind.NUDGE, "participation", "We would like to hear from you",
                    f"You were in “{session.title}” but took no part we could see: no poll answer, "
                    "chat message, question, reaction or talk. Next time, try one of them — your "
                    "table and your instructor learn from what you think.",
                )
            )  # fmt: skip
    return items


def _silent(facts: Facts, user_id: int, conf) -> bool:
    activity = facts.activity
    if user_id in activity.chatted or user_id in activity.asked or user_id in activity.reacted:
        return False
    return (facts.talk_ms.get(user_id) or 0) <= conf.participation_talk_seconds * 1000


def _missed_segments(facts: Facts, user_id: int, intervals, item) -> list[FollowUpItem]:
    """The stretches of the session (at least a minute) this learner was not in."""
    session = facts.session
    start, end = session.started_at, session.ended_at
    if start is None or end is None:
        return []
    gaps, cursor = [], start
    for begin, finish in sorted(intervals):
        if begin > cursor:
            gaps.append((cursor, begin))
        cursor = max(cursor, finish)
    if cursor < end:
        gaps.append((cursor, end))
    gaps = [(a, b) for a, b in gaps if (b - a).total_seconds() >= MISSED_MIN_SECONDS]
    if not gaps:
        return []
    recording = facts.recording
    watched = {}
    if recording is not None:
        watched = watched_segments_get(recording=recording, user_ids=[user_id])
    result = []
    for gap_start, gap_end in gaps:
        first_ms = int((gap_start - start).total_seconds() * 1000)
        last_ms = int((gap_end - start).total_seconds() * 1000)
        polls = [
            {"id": poll.pk, "prompt": poll.prompt}
            for poll in facts.activity.polls
            if gap_start <= poll.opened_at < gap_end
        ]
        whole = gap_start == start and gap_end == end
        title = (
            "You missed the session" if whole else f"You missed {clock(first_ms)}–{clock(last_ms)}"
        )
        explanation = (
            f"You were not in “{session.title}”"
            if whole
            else f"You were not in “{session.title}” from {clock(first_ms)} to {clock(last_ms)}"
        )
        explanation += (
            f"; {len(polls)} poll(s) were asked then — answer them while you watch."
            if polls
            else "."
        )
        url, data = "", {"start_ms": first_ms, "end_ms": last_ms, "polls": polls}
        if recording is not None:
            media_start, media_end = media_offsets_ms(
                recording=recording, moments=[gap_start, gap_end]
            )
            if media_start is not None and media_end is not None:
                seen = segments_length(watched.get(user_id, []), media_start, media_end)
                if media_end > media_start and seen >= WATCHED_ENOUGH * (media_end - media_start):
                    continue  # already caught up in playback
                url = f"{reverse('recording-detail', args=[recording.pk])}?t={media_start // 1000}"
                data.update(media_start_ms=media_start, media_end_ms=media_end)
        result.append(
            item(ItemKind.MISSED, f"{first_ms // 1000}-{last_ms // 1000}", title, explanation,
                 url=url, data=data)
        )  # fmt: skip
    return result


# --- Sending -----------------------------------------------------------------------------


def followup_plan_send(*, plan_id: int, actor=None) -> FollowUpPlan:
    """Send a held plan now (staff's "send now", or the hold window's end):
    create and schedule the review cards, add warm-up and deadline items and
    create the notifications. Sending a sent plan changes nothing."""
    plan = FollowUpPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("No such follow-up plan.", code="plan_not_found")
    facts = facts_get(plan.session_id)
    with transaction.atomic():
        plan = FollowUpPlan.objects.select_for_update().get(pk=plan_id)
        if plan.status != PlanStatus.SENT:
            _send(plan, facts, actor=actor)
    return plan


def followup_plan_send_soon(*, plan_id: int, actor=None) -> FollowUpPlan:
    """Staff's "send now": end the hold window at once and queue the send
    (`reinforcement.plan_send`, after commit), so the person who clicked does
    not wait while a class's cards and notifications are written (seconds for
    150 learners). Were the task lost, the beat's release sends it within a
    minute, since its window is over. Sending a sent plan changes nothing."""
    from reinforcement.tasks import plan_send

    with transaction.atomic():
        plan = FollowUpPlan.objects.select_for_update().filter(pk=plan_id).first()
        if plan is None:
            raise NotFoundError("No such follow-up plan.", code="plan_not_found")
        if plan.status == PlanStatus.SENT:
            return plan
        plan.hold_until = timezone.now()
        plan.save(update_fields=["hold_until", "updated_at"])
        actor_id = getattr(actor, "pk", None)
        transaction.on_commit(lambda: plan_send.delay(plan_id, actor_id))
    plan.refresh_from_db()
    return plan


def _send(plan: FollowUpPlan, facts: Facts, *, actor) -> None:
    """Caller holds the plan's row lock."""
    now = timezone.now()
    session = facts.session
    course = session.course
    scheduler = course_scheduler(course_id=course.pk)
    items = list(FollowUpItem.objects.filter(plan=plan).select_related("user"))
    reviews = [item for item in items if item.kind == ItemKind.REVIEW]
    polls = {poll.pk: poll for poll in facts.activity.polls}
    dropped = set(plan.dropped_keys)
    cards = _cards_for(plan, reviews, polls, now)
    _live_reviews_apply(facts, cards, dropped, scheduler)
    extra = _warmup_and_deadline_items(plan, facts, cards, scheduler, now)
    plan.status = PlanStatus.SENT
    plan.sent_at = now
    plan.sent_by = actor
    plan.save(update_fields=["status", "sent_at", "sent_by", "updated_at"])
    _notify(plan, facts, items + extra)
    event_record(
        verb="followup.sent",
        object_type="live_session",
        object_id=session.pk,
        actor=actor,
        course_id=course.pk,
        live_session_id=session.pk,
        mode=EventMode.REVIEW,
        extensions={"learners": len({item.user_id for item in items}), "cards": len(reviews)},
        event_id=_event_id("followup.sent", plan.pk),
    )


def _cards_for(plan, reviews, polls, now) -> dict[tuple[int, str], ReviewCard]:
    """The review cards of these review items, created where missing (due now)."""
    wanted = {(item.user_id, item.question_key): item for item in reviews}
    if not wanted:
        return {}
    fresh = new_card_fields(now)
    ReviewCard.objects.bulk_create(
        [
            ReviewCard(
                user_id=user_id, course_id=plan.course_id, question_key=key,
                poll=polls[item.data["poll_id"]], plan=plan, **fresh,
            )
            for (user_id, key), item in wanted.items()
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )  # fmt: skip
    return _cards_locked(plan, {user for user, _ in wanted}, {key for _, key in wanted})


def _cards_locked(plan, user_ids, keys) -> dict[tuple[int, str], ReviewCard]:
    found = ReviewCard.objects.select_for_update().filter(
        user_id__in=user_ids, question_key__in=keys, course_id=plan.course_id
    )
    return {(card.user_id, card.question_key): card for card in found}


def _live_reviews_apply(facts: Facts, cards, dropped, scheduler) -> None:
    """Every live answer to a question a learner has a card for is that
    card's review (rating mapping in reinforcement.scheduling), once per
    (card, poll): a wrong answer now, or a right one to a bank question the
    learner is still learning from an earlier session."""
    # Right answers to bank questions of earlier cards count as reviews too.
    answered_keys = {
        (user_id, question_key_of(poll)): (poll, facts.answers[(poll.pk, user_id)])
        for poll in facts.graded
        for user_id in facts.activity.learner_ids
        if (poll.pk, user_id) in facts.answers and question_key_of(poll) not in dropped
    }
    missing = {k for k in answered_keys if k not in cards}
    if missing:
        cards.update(_cards_locked_for(facts, {u for u, _ in missing}, {key for _, key in missing}))
    done = set(
        ReviewAnswer.objects.filter(
            source=ReviewSource.LIVE, card__in=[cards[k] for k in answered_keys if k in cards]
        ).values_list("card_id", "poll_id")
    )
    logs, touched = [], []
    for key, (poll, answer) in answered_keys.items():
        card = cards.get(key)
        if card is None or (card.pk, poll.pk) in done or answer.answered_at is None:
            continue
        rating = rating_for(
            Performance(
                is_correct=bool(answer.is_correct),
                changed=answer.change_count > 0,
                elapsed_ms=answer.time_to_first_ms,
                class_median_ms=facts.medians.get(poll.pk),
            )
        )
        due_before = card.due
        fsrs_log = None
        if card.last_review is None or answer.answered_at > card.last_review:
            fsrs_log = card_review(
                card, scheduler=scheduler, rating=rating, at=answer.answered_at,
                elapsed_ms=answer.time_to_first_ms,
            )  # fmt: skip
        card.poll = poll
        touched.append(card)
        logs.append(
            ReviewAnswer(
                user_id=card.user_id, course_id=card.course_id, card=card, poll=poll,
                question_key=card.question_key, source=ReviewSource.LIVE,
                is_correct=answer.is_correct, rating=int(rating),
                elapsed_ms=answer.time_to_first_ms, answered_at=answer.answered_at,
                due_before=due_before, due_after=card.due, fsrs_log=fsrs_log,
            )
        )  # fmt: skip
    _cards_write(touched)
    ReviewAnswer.objects.bulk_create(logs, batch_size=1000)


CARDS_UPDATE_SQL = (
    "UPDATE reinforcement_reviewcard AS c SET state = v.state::smallint, "
    "step = v.step::smallint, stability = v.stability::double precision, "
    "difficulty = v.difficulty::double precision, due = v.due::timestamptz, "
    "last_review = v.last_review::timestamptz, reps = v.reps::integer, "
    "lapses = v.lapses::integer, poll_id = v.poll_id::bigint FROM (VALUES {values}) "
    "AS v(id, state, step, stability, difficulty, due, last_review, reps, lapses, poll_id) "
    "WHERE c.id = v.id::bigint"
)
CARD_FIELDS = ("state", "step", "stability", "difficulty", "due", "last_review", "reps", "lapses")


def _cards_write(cards: list[ReviewCard]) -> None:
    """Store the reviewed cards' fsrs state. On PostgreSQL one
    UPDATE ... FROM (VALUES ...) per thousand cards: Django's bulk_update
    builds a CASE per field and card, which cost seconds for a class."""
    if connection.vendor != "postgresql":
        ReviewCard.objects.bulk_update(cards, [*CARD_FIELDS, "poll"], batch_size=500)
        return
    row = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    for start in range(0, len(cards), 1000):
        chunk = cards[start : start + 1000]
        params = [
            value
            for card in chunk
            for value in (
                card.pk, card.state, card.step, card.stability, card.difficulty, card.due,
                card.last_review, card.reps, card.lapses, card.poll_id,
            )
        ]  # fmt: skip
        values = ", ".join([row] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(CARDS_UPDATE_SQL.format(values=values), params)  # noqa: S608 (placeholders only)


def _cards_locked_for(facts: Facts, user_ids, keys):
    found = ReviewCard.objects.select_for_update().filter(
        user_id__in=user_ids, question_key__in=keys
    )
    return {(card.user_id, card.question_key): card for card in found}


def _warmup_and_deadline_items(plan, facts: Facts, cards, scheduler, now) -> list[FollowUpItem]:
    """Before the course's next session: a warm-up of each learner's cards
    with the lowest predicted recall (due the day before) and, if the course
    asks, a deadline for the review."""
    conf = course_settings_get(course_id=plan.course_id)
    upcoming = next_session_get(course_id=plan.course_id, after=now)
    learners = sorted({user_id for user_id, _ in cards})
    if upcoming is None or not learners:
        return []
    items = []
    warmup_due = max(now, upcoming.scheduled_start - timedelta(days=1))
    review_url = reverse("reinforcement-review", args=[plan.course_id])
    if conf.warmup_size:
        by_user: dict[int, list[ReviewCard]] = defaultdict(list)
        for card in ReviewCard.objects.filter(course_id=plan.course_id, user_id__in=learners):
            by_user[card.user_id].append(card)
        for user_id, own in by_user.items():
            ranked = sorted(
                own, key=lambda c: (retrievability(c, scheduler=scheduler, at=warmup_due), c.pk)
            )[: conf.warmup_size]
            items.append(
                FollowUpItem(
                    plan=plan, user_id=user_id, course_id=plan.course_id, kind=ItemKind.WARMUP,
                    key=f"session:{upcoming.pk}", title=f"Warm-up before “{upcoming.title}”",
                    explanation=(
                        f"{len(ranked)} question(s) you are most likely to have forgotten, "
                        f"to answer the day before “{upcoming.title}”."
                    ),
                    url=f"{review_url}?warmup={upcoming.pk}",
                    data={"session_id": upcoming.pk, "card_ids": [c.pk for c in ranked]},
                    due_at=warmup_due,
                )
            )  # fmt: skip
    if conf.deadline_enabled:
        for user_id in learners:
            items.append(
                FollowUpItem(
                    plan=plan, user_id=user_id, course_id=plan.course_id, kind=ItemKind.DEADLINE,
                    key=f"session:{upcoming.pk}", title=f"Review due before “{upcoming.title}”",
                    explanation="Finish the review cards of this session before the next one starts.",
                    url=review_url, data={"session_id": upcoming.pk},
                    due_at=upcoming.scheduled_start,
                )
            )  # fmt: skip
    FollowUpItem.objects.bulk_create(items, ignore_conflicts=True)
    return items


def recap_digest(session_id: int) -> str:
    """The session's published recap in a follow-up body ('' before it is
    published: its own notification follows then, recaps_published)."""
    recap = published_recap_for_session(session_id=session_id)
    if recap is None:
        return ""
    return "\n".join(
        part for part in (f"Session recap: {reverse('recap-detail', args=[session_id])}",
                          recap_text(recap)) if part
    )  # fmt: skip


def _notify(plan: FollowUpPlan, facts: Facts, items: list[FollowUpItem]) -> None:
    """One follow-up notification per learner with items, plus nudges,
    warm-ups and deadline reminders (48 h and 2 h before)."""
    session = facts.session
    course = session.course
    followups_url = reverse("reinforcement-followups", args=[course.pk])
    by_user: dict[int, list[FollowUpItem]] = defaultdict(list)
    for item in items:
        by_user[item.user_id].append(item)
    users = {user.pk: user for user in _users(by_user)}
    now = timezone.now()
    for user_id, own in by_user.items():
        user = users[user_id]
        kinds = {item.kind for item in own}
        reviews = [item for item in own if item.kind == ItemKind.REVIEW]
        if kinds - {ItemKind.NUDGE, ItemKind.WARMUP, ItemKind.DEADLINE}:
            summary = learner_summary_text(
                wrong=sum(item.data.get("outcome") == "wrong" for item in reviews),
                missed=sum(item.data.get("outcome") == "missed" for item in reviews),
                graded=len(facts.graded),
                session_title=session.title,
            )
            recap = recap_digest(session.pk)
            body = "\n\n".join(part for part in (plan.message.strip(), summary, recap) if part)
            notify.send(
                user=user, kind=notify.FOLLOWUP, key=f"plan:{plan.pk}",
                title=f"Your follow-up for “{session.title}”", body=body,
                url=followups_url, course=course,
            )  # fmt: skip
        for item in own:
            if item.kind == ItemKind.NUDGE:
                notify.send(
                    user=user, kind=notify.NUDGE, key=f"plan:{plan.pk}", title=item.title,
                    body=item.explanation, url=followups_url, course=course,
                )  # fmt: skip
            elif item.kind == ItemKind.WARMUP:
                notify.send(
                    user=user, kind=notify.WARMUP, key=item.key, title=item.title,
                    body=item.explanation, url=item.url, course=course, not_before=item.due_at,
                )  # fmt: skip
            elif item.kind == ItemKind.DEADLINE:
                for hours in (48, 2):
                    at = item.due_at - timedelta(hours=hours)
                    if at <= now:
                        continue
                    notify.send(
                        user=user, kind=notify.DEADLINE, key=f"{item.key}:{hours}h",
                        title=f"{item.title}: {hours} h left", body=item.explanation,
                        url=item.url, course=course, not_before=at,
                    )  # fmt: skip


def _users(by_user):
    return User.objects.filter(pk__in=list(by_user))


def _notify_late_items(plan: FollowUpPlan) -> None:
    """Items found after the plan went out (the recording's timeline became
    ready later): the learners' follow-up notification already points to
    the list they appear in, so nothing more is sent."""


# --- Staff actions during the hold window ------------------------------------------------


def _held_plan(plan_id: int) -> FollowUpPlan:
    plan = FollowUpPlan.objects.select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("No such follow-up plan.", code="plan_not_found")
    if plan.status == PlanStatus.SENT:
        raise ConflictError("This follow-up has already been sent.", code="plan_already_sent")
    return plan


def followup_plan_hold(*, plan_id: int, actor, hold: bool) -> FollowUpPlan:
    """Hold the plan until staff send it (hold=True), or let it go at the end
    of the course's hold window again (hold=False)."""
    with transaction.atomic():
        plan = _held_plan(plan_id)
        if hold:
            plan.hold_until = None
        else:
            conf = course_settings_get(course_id=plan.course_id)
            plan.hold_until = plan.session.ended_at + timedelta(minutes=conf.hold_minutes)
        plan.edited_by = actor
        plan.save(update_fields=["hold_until", "edited_by", "updated_at"])
    return plan


def followup_plan_message_set(*, plan_id: int, actor, message) -> FollowUpPlan:
    if not isinstance(message, str):
        raise ValidationError(
            "The message must be a text.", code="invalid", details={"message": "must be a text"}
        )
    if len(message) > MESSAGE_MAX:
        raise ValidationError(
            f"The message has at most {MESSAGE_MAX} characters.",
            code="invalid",
            details={"message": f"at most {MESSAGE_MAX} characters"},
        )
    with transaction.atomic():
        plan = _held_plan(plan_id)
        plan.message = message.strip()
        plan.edited_by = actor
        plan.save(update_fields=["message", "edited_by", "updated_at"])
    return plan


def followup_plan_question_drop(
    *, plan_id: int, actor, question_key, dropped: bool = True
) -> FollowUpPlan:
    """Drop a question from this plan's review (its review and rewatch items
    go; no card is made for it), or bring it back."""
    if not isinstance(question_key, str):
        raise ValidationError("Unknown question.", code="question_not_found")
    with transaction.atomic():
        plan = _held_plan(plan_id)
        facts = facts_get(plan.session_id)
        keys = {question_key_of(poll) for poll in facts.graded}
        if question_key not in keys:
            raise NotFoundError(
                "This session has no such graded question.", code="question_not_found"
            )
        current = set(plan.dropped_keys)
        if dropped:
            current.add(question_key)
            FollowUpItem.objects.filter(plan=plan, question_key=question_key).delete()
        else:
            current.discard(question_key)
        plan.dropped_keys = sorted(current)
        plan.edited_by = actor
        plan.save(update_fields=["dropped_keys", "edited_by", "updated_at"])
        if not dropped:
            conf = course_settings_get(course_id=plan.course_id)
            FollowUpItem.objects.bulk_create(_items_build(facts, plan, conf), ignore_conflicts=True)
    return plan


def followup_plans_release(*, now: datetime | None = None) -> int:
    """Send every held plan whose hold window is over (the beat task)."""
    sent = 0
    for plan_id in plans_due_for_release(now=now or timezone.now()):
        followup_plan_send(plan_id=plan_id)
        sent += 1
    return sent


def followup_recap_notify(*, session_id: int) -> int:
    """The session's recap was published after its follow-up went out: one
    notification to each learner who got that follow-up (idempotent: keyed
    by session). Before the follow-up is sent there is nothing to do, the
    follow-up itself carries the recap. Returns how many were notified."""
    plan = (
        FollowUpPlan.objects.select_related("session", "course")
        .filter(session_id=session_id, status=PlanStatus.SENT)
        .first()
    )
    recap = published_recap_for_session(session_id=session_id)
    if plan is None or recap is None:
        return 0
    user_ids = set(FollowUpItem.objects.filter(plan=plan).values_list("user_id", flat=True))
    body = recap_text(recap) or f"What was covered in “{plan.session.title}”."
    url = reverse("recap-detail", args=[session_id])
    for user in User.objects.filter(pk__in=user_ids):
        notify.send(
            user=user, kind=notify.FOLLOWUP, key=f"recap:{session_id}",
            title=f"Recap of “{plan.session.title}”", body=body, url=url, course=plan.course,
        )  # fmt: skip
    return len(user_ids)
