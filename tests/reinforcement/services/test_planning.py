"""Planning a session's follow-up from what each learner did (hand-built
sessions), its idempotency, the hold window and staff's changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import LearningEvent
from classroom.models import ChatMessage, Participant
from core.errors import ConflictError, NotFoundError
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
from reinforcement.services import planning
from tests.factories import LiveSessionFactory, PollFactory, PollResponseFactory
from tests.reinforcement.conftest import (
    bank_question,
    course_settings,
    learners_of,
    notifications_of,
    quiz_session,
)

pytestmark = pytest.mark.django_db


def _items(user, kind=None):
    rows = FollowUpItem.objects.filter(user=user)
    return list(rows.filter(kind=kind) if kind else rows)


def test_wrong_and_unanswered_questions_become_review_items_in_plain_words(course):
    ana, ben, cleo = learners_of(course, 3)
    session, (first, second) = quiz_session(
        course,
        [ana, ben, cleo],
        answers={(ana, 0): False, (ana, 1): True, (ben, 0): True, (ben, 1): True, (cleo, 0): True},
    )

    plan = planning.followups_plan(session_id=session.pk, source="session_ended")

    assert plan.status == PlanStatus.HELD
    reviews = _items(ana, ItemKind.REVIEW)
    assert [(item.question_key, item.data["outcome"]) for item in reviews] == [
        (f"poll:{first.pk}", "wrong")
    ]
    assert reviews[0].explanation == (
        "You answered this question wrong in “Supply curves”. 67 % of the class got it right."
    )
    assert [
        (item.question_key, item.data["outcome"]) for item in _items(cleo, ItemKind.REVIEW)
    ] == [(f"poll:{second.pk}", "missed")]
    assert _items(ben) == []


def test_absent_learner_gets_the_whole_session_as_missed_with_its_polls(course):
    here, away = learners_of(course, 2)
    session, polls = quiz_session(
        course, [here, away], answers={(here, 0): True, (here, 1): True}, present={here: [(0, 60)]}
    )

    planning.followups_plan(session_id=session.pk, source="session_ended")

    missed = _items(away, ItemKind.MISSED)
    assert [item.title for item in missed] == ["You missed the session"]
    assert [poll["id"] for poll in missed[0].data["polls"]] == [poll.pk for poll in polls]
    reviews = _items(away, ItemKind.REVIEW)
    assert {item.data["outcome"] for item in reviews} == {"missed"}
    assert reviews[0].explanation.startswith(
        "This question was asked in “Supply curves”, which you missed."
    )


def test_learner_who_left_early_is_told_the_exact_segment_and_its_polls(course):
    (early,) = learners_of(course, 1)
    session, polls = quiz_session(
        course, [early], polls=3, answers={(early, 0): True}, present={early: [(0, 7), (20, 45)]}
    )

    planning.followups_plan(session_id=session.pk, source="session_ended")

    missed = sorted(_items(early, ItemKind.MISSED), key=lambda item: item.data["start_ms"])
    assert [item.title for item in missed] == ["You missed 7:00–20:00", "You missed 45:00–1:00:00"]
    assert [poll["id"] for poll in missed[0].data["polls"]] == [polls[1].pk, polls[2].pk]
    assert missed[1].data["polls"] == []


def test_present_but_silent_learner_is_nudged_and_any_act_counts_as_taking_part(course):
    quiet, chatty, reacting, voter = learners_of(course, 4)
    session, _polls = quiz_session(course, [quiet, chatty, reacting, voter], polls=0)
    ChatMessage.objects.create(session=session, channel="class", author=chatty, body="hi")
    Participant.objects.create(session=session, user=reacting, reaction_counts={"clap": 1})
    anonymous = PollFactory(session=session, is_anonymous=True, is_quiz=True)
    from classroom.models import PollBallot

    PollBallot.objects.create(poll=anonymous, user=voter)

    planning.followups_plan(session_id=session.pk, source="session_ended")

    assert [item.user_id for item in FollowUpItem.objects.filter(kind=ItemKind.NUDGE)] == [quiet.pk]


def test_talk_time_above_the_course_threshold_counts_as_taking_part(course):
    from analytics.services import event_record

    course_settings(course, participation_talk_seconds=30)
    briefly, talker = learners_of(course, 2)
    session, _polls = quiz_session(course, [briefly, talker], polls=0)
    for user, ms in ((briefly, 20_000), (talker, 45_000)):
        event_record(
            verb="spoke", object_type="live_session", object_id=session.pk, actor=user,
            course_id=course.pk, live_session_id=session.pk, duration_ms=ms,
        )  # fmt: skip

    planning.followups_plan(session_id=session.pk, source="session_ended")

    assert [item.user_id for item in FollowUpItem.objects.filter(kind=ItemKind.NUDGE)] == [
        briefly.pk
    ]


def test_anonymous_polls_never_produce_per_person_items(course):
    (learner,) = learners_of(course, 1)
    session, _ = quiz_session(course, [learner], polls=0)
    anonymous = PollFactory(session=session, is_anonymous=True, is_quiz=True)
    PollResponseFactory(poll=anonymous, user=None, voter_key="random", is_correct=False)

    planning.followups_plan(session_id=session.pk, source="session_ended")

    assert FollowUpItem.objects.filter(question_key__endswith=str(anonymous.pk)).count() == 0
    assert FollowUpItem.objects.filter(kind=ItemKind.REVIEW).count() == 0


def test_planning_twice_changes_nothing_and_notifies_once(course, send_at_once):
    ana, ben = learners_of(course, 2)
    session, _ = quiz_session(course, [ana, ben], answers={(ana, 0): False, (ben, 1): False})

    planning.followups_plan(session_id=session.pk, source="session_ended")
    snapshot = (
        sorted(FollowUpItem.objects.values_list("id", "user_id", "kind", "key")),
        sorted(ReviewCard.objects.values_list("id", "user_id", "question_key", "due", "reps")),
        sorted(ReviewAnswer.objects.values_list("id", "card_id", "poll_id", "rating")),
        sorted(notifications_of(ana).values_list("id", "kind", "key")),
        LearningEvent.objects.count(),
    )
    planning.followups_plan(session_id=session.pk, source="session_ended")
    planning.followups_plan(session_id=session.pk, source="session_ended")

    assert FollowUpPlan.objects.count() == 1
    assert (
        sorted(FollowUpItem.objects.values_list("id", "user_id", "kind", "key")),
        sorted(ReviewCard.objects.values_list("id", "user_id", "question_key", "due", "reps")),
        sorted(ReviewAnswer.objects.values_list("id", "card_id", "poll_id", "rating")),
        sorted(notifications_of(ana).values_list("id", "kind", "key")),
        LearningEvent.objects.count(),
    ) == snapshot
    assert notifications_of(ana, notify.FOLLOWUP).count() == 1
    followup = notifications_of(ana, notify.FOLLOWUP).get()
    assert "You answered 1 of 2 quiz questions wrong in “Supply curves” and did not answer 1." in (
        followup.body
    )


def test_sending_creates_cards_and_applies_the_wrong_live_answer_as_a_review(course, send_at_once):
    (ana,) = learners_of(course, 1)
    session, (first, second) = quiz_session(course, [ana], answers={(ana, 0): False})

    planning.followups_plan(session_id=session.pk, source="session_ended")

    wrong = ReviewCard.objects.get(user=ana, question_key=f"poll:{first.pk}")
    missed = ReviewCard.objects.get(user=ana, question_key=f"poll:{second.pk}")
    assert wrong.reps == 1 and wrong.last_review is not None  # Again at the live answer
    live = ReviewAnswer.objects.get(card=wrong)
    assert (live.source, live.rating, live.is_correct) == (ReviewSource.LIVE, 1, False)
    assert missed.reps == 0 and missed.due <= timezone.now()  # new, due at once
    assert wrong.due <= timezone.now()  # Again: one minute after the answer, long past


def test_held_plan_waits_for_its_window_then_the_beat_sends_it(course):
    course_settings(course, hold_minutes=60)
    (ana,) = learners_of(course, 1)
    now = timezone.now()
    session, _ = quiz_session(
        course, [ana], answers={(ana, 0): False}, started=now - timedelta(minutes=70), minutes=60
    )

    plan = planning.followups_plan(session_id=session.pk, source="session_ended")

    assert plan.status == PlanStatus.HELD
    assert ReviewCard.objects.count() == 0 and notifications_of(ana).count() == 0
    assert planning.followup_plans_release(now=now) == 0
    assert planning.followup_plans_release(now=now + timedelta(minutes=51)) == 1
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SENT
    assert ReviewCard.objects.filter(user=ana).count() == 2
    assert notifications_of(ana, notify.FOLLOWUP).count() == 1


def test_staff_drop_a_question_edit_the_message_and_send_now(course, instructor):
    (ana,) = learners_of(course, 1)
    session, (bad, good) = quiz_session(course, [ana], answers={(ana, 0): False, (ana, 1): False})
    plan = planning.followups_plan(session_id=session.pk, source="session_ended")

    planning.followup_plan_hold(plan_id=plan.pk, actor=instructor, hold=True)
    planning.followup_plan_question_drop(
        plan_id=plan.pk, actor=instructor, question_key=f"poll:{bad.pk}"
    )
    planning.followup_plan_message_set(
        plan_id=plan.pk, actor=instructor, message=" Question 1 was badly worded. "
    )
    assert planning.followup_plans_release(now=timezone.now() + timedelta(days=3)) == 0  # held
    planning.followup_plan_send(plan_id=plan.pk, actor=instructor)

    assert list(ReviewCard.objects.filter(user=ana).values_list("question_key", flat=True)) == [
        f"poll:{good.pk}"
    ]
    assert (
        notifications_of(ana, notify.FOLLOWUP).get().body.startswith("Question 1 was badly worded.")
    )
    with pytest.raises(ConflictError):
        planning.followup_plan_message_set(plan_id=plan.pk, actor=instructor, message="late")
    # Planning again (the recording's timeline is ready) keeps the drop.
    planning.followups_plan(session_id=session.pk, source="timeline_ready")
    assert not FollowUpItem.objects.filter(question_key=f"poll:{bad.pk}").exists()


def test_a_dropped_question_can_be_restored_and_unknown_ones_are_refused(course, instructor):
    (ana,) = learners_of(course, 1)
    session, (first, _second) = quiz_session(course, [ana], answers={(ana, 0): False})
    plan = planning.followups_plan(session_id=session.pk, source="session_ended")
    key = f"poll:{first.pk}"

    planning.followup_plan_question_drop(plan_id=plan.pk, actor=instructor, question_key=key)
    assert not FollowUpItem.objects.filter(question_key=key).exists()
    planning.followup_plan_question_drop(
        plan_id=plan.pk, actor=instructor, question_key=key, dropped=False
    )
    assert FollowUpItem.objects.filter(question_key=key, user=ana).count() == 1
    with pytest.raises(NotFoundError):
        planning.followup_plan_question_drop(
            plan_id=plan.pk, actor=instructor, question_key="poll:0"
        )


def test_the_same_bank_question_in_two_sessions_is_one_card_reviewed_by_the_live_answer(
    course, send_at_once
):
    (ana,) = learners_of(course, 1)
    question = bank_question(course)
    earlier = timezone.now() - timedelta(days=3)
    first, _ = quiz_session(
        course,
        [ana],
        polls=1,
        answers={(ana, 0): False},
        bank_questions=[question],
        started=earlier,
    )
    planning.followups_plan(session_id=first.pk, source="session_ended")
    second, (again,) = quiz_session(
        course, [ana], polls=1, answers={(ana, 0): True}, bank_questions=[question]
    )

    planning.followups_plan(session_id=second.pk, source="session_ended")

    card = ReviewCard.objects.get(user=ana)
    assert card.question_key == f"bank:{question.pk}"
    assert card.poll_id == again.pk  # where it was last asked
    assert list(card.answers.order_by("answered_at").values_list("source", "rating")) == [
        ("live", 1),
        ("live", 3),  # right this time: Good
    ]


def test_warm_up_and_deadline_before_the_next_session(course, send_at_once):
    course_settings(course, hold_minutes=0, warmup_size=1, deadline_enabled=True)
    (ana,) = learners_of(course, 1)
    session, _ = quiz_session(course, [ana], answers={(ana, 0): False})
    upcoming = LiveSessionFactory(course=course, scheduled_start=timezone.now() + timedelta(days=4))

    planning.followups_plan(session_id=session.pk, source="session_ended")

    warmup = FollowUpItem.objects.get(user=ana, kind=ItemKind.WARMUP)
    assert warmup.due_at == upcoming.scheduled_start - timedelta(days=1)
    assert len(warmup.data["card_ids"]) == 1
    deadline = notifications_of(ana, notify.DEADLINE).order_by("available_at")
    assert [n.available_at for n in deadline] == [
        upcoming.scheduled_start - timedelta(hours=48),
        upcoming.scheduled_start - timedelta(hours=2),
    ]
    assert notifications_of(ana, notify.WARMUP).get().available_at == warmup.due_at


def test_reinforcement_off_plans_nothing(course):
    course_settings(course, is_enabled=False)
    (ana,) = learners_of(course, 1)
    session, _ = quiz_session(course, [ana], answers={(ana, 0): False})

    assert planning.followups_plan(session_id=session.pk, source="session_ended") is None
    assert FollowUpPlan.objects.count() == 0


def test_a_session_not_yet_over_is_not_planned(course, live_session):
    assert planning.followups_plan(session_id=live_session.pk, source="session_ended") is None
    assert FollowUpPlan.objects.count() == 0


def test_planning_records_followup_events(course, send_at_once):
    (ana,) = learners_of(course, 1)
    session, _ = quiz_session(course, [ana], answers={(ana, 0): False})

    planning.followups_plan(session_id=session.pk, source="session_ended")

    planned = LearningEvent.objects.get(verb="followup.planned")
    assert planned.extensions == {"source": "session_ended", "learners": 1, "items": 2}
    assert (
        LearningEvent.objects.filter(verb="followup.sent", live_session_id=session.pk).count() == 1
    )
