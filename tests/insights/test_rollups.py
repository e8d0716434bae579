"""Each definition of docs/analytics.md on the hand-built history of
tests/insights/conftest.py; the expected numbers are worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from insights import rollups
from insights.models import CourseRollup, RecordingRollup, SessionRollup
from insights.services import rollups_course_rebuild

pytestmark = pytest.mark.django_db


def _row(history, user):
    return SessionRollup.objects.get(live_session_id=history.session.pk, user=user)


def test_attendance_is_minutes_present_over_the_scheduled_length(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ana = _row(history, history.ana)
    assert ana.present_ms == 43 * 60_000
    assert ana.scheduled_ms == 60 * 60_000
    assert ana.attendance_percent == 71.7  # 43 / 60
    assert ana.intervals == [[2 * 60_000, 20 * 60_000], [25 * 60_000, 50 * 60_000]]
    assert _row(history, history.dee).attendance_percent == 83.3  # 50 / 60


def test_participation_counts_ten_minute_windows_with_an_act(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ana = _row(history, history.ana)
    assert ana.windows_total == 5
    assert ana.windows_active == 3  # chat in 0, poll in 1, a 4 s turn in 4 (1.5 s is no act)
    assert ana.is_active
    assert ana.messages == 1
    dee = _row(history, history.dee)
    assert (dee.windows_active, dee.is_active) == (3, True)
    cid = _row(history, history.cid)
    assert (cid.windows_active, cid.is_active, cid.status) == (0, False, "absent")


def test_talk_time_and_table_balance(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ana, dee = _row(history, history.ana), _row(history, history.dee)
    assert (ana.talk_ms, ana.talk_turns) == (5_500, 2)
    assert (dee.talk_ms, dee.talk_turns) == (12_000, 3)
    assert ana.table_id == dee.table_id == history.table.pk
    # Two members, 5.5 s and 12 s: Gini = |12 - 5.5| * 2 / (2 * 4 * 8.75) = 0.186 → 0.814.
    assert rollups.equity_index([5_500, 12_000]) == 0.814


def test_equity_index_and_domination_by_hand():
    # 6, 2, 0, 0: ordered pair differences 40, n² = 16, mean 2 → Gini 0.625.
    assert rollups.equity_index([6, 2, 0, 0]) == 0.375
    assert rollups.equity_index([3, 3, 3]) == 1.0
    assert rollups.equity_index([0, 0]) is None
    from insights.selectors import table_balance

    rows = [
        {"user_id": i, "table_id": 1, "present_ms": 1, "talk_ms": t}
        for i, t in enumerate([6_000, 2_000, 0, 0])
    ]
    (table,) = table_balance(rows)
    assert table["dominated_by"] == 0  # 75% of the talk, 4 present
    assert table["shares"][1] == 0.25


def test_polls_use_each_learners_last_answer_and_skip_anonymous_polls(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ana = _row(history, history.ana)
    assert ana.polls_open == 1  # the anonymous poll is not counted per person
    assert (ana.polls_answered, ana.polls_graded, ana.polls_correct) == (1, 1, 1)


def test_playback_catches_up_a_missed_session(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ben = _row(history, history.ben)
    assert ben.present_ms == 0
    assert ben.status == "watched_later"
    assert ben.engagement_mode == "playback"
    assert (ben.playback_polls_answered, ben.playback_polls_correct) == (1, 1)
    assert ben.playback_windows_active == 2
    assert (ben.watched_ms, ben.watch_percent, ben.playback_completed) == (2_400_000, 80.0, True)
    recording = RecordingRollup.objects.get(user=history.ben)
    assert (recording.played, recording.notes, recording.completed) == (1, 1, True)


def test_engagement_score_by_hand(history):
    rollups_course_rebuild(course_id=history.course.pk)
    # Ana: 0.4 × 0.717 + 0.4 × 3/5 + 0.2 × 1/1 = 0.7268
    assert _row(history, history.ana).engagement_score == 72.7
    # Ben: 0.4 × 0.80 (watched) + 0.4 × 2/5 (playback windows) + 0.2 × 1 = 0.68
    assert _row(history, history.ben).engagement_score == 68.0
    # Dee: 0.4 × 0.833 + 0.4 × 3/5 + 0.2 × 0 = 0.5733
    assert _row(history, history.dee).engagement_score == 57.3
    assert _row(history, history.cid).engagement_score == 0.0


def test_course_row_sums_the_sessions(history):
    rollups_course_rebuild(course_id=history.course.pk)
    ben = CourseRollup.objects.get(user=history.ben)
    assert (ben.sessions_held, ben.sessions_present, ben.sessions_watched_later) == (1, 0, 1)
    assert (ben.polls_answered, ben.polls_correct) == (1, 1)
    assert (ben.recordings_completed, ben.watched_ms) == (1, 2_400_000)
    cid = CourseRollup.objects.get(user=history.cid)
    assert cid.sessions_absent == 1
    assert cid.risk_reasons == []  # one absence is not yet a risk


def test_review_activity_and_the_course_score(history):
    """Reviews done come from reinforcement's `review.answered` events (on-demand
    practice left out); cards due, overdue and the mean predicted recall from
    its review cards, computed by the same FSRS scheduler it schedules with."""
    from fsrs import Rating

    from reinforcement.models import ReviewCard
    from reinforcement.scheduling import card_review, new_card_fields, retrievability
    from reinforcement.selectors import course_scheduler

    now = timezone.now()
    scheduler = course_scheduler(course_id=history.course.pk)
    reviewed = ReviewCard(
        user=history.ana, course=history.course, question_key="poll:1", poll=history.poll,
        **new_card_fields(now - timedelta(days=5)),
    )  # fmt: skip
    card_review(reviewed, scheduler=scheduler, rating=Rating.Good, at=now - timedelta(days=4))
    reviewed.save()
    overdue = ReviewCard.objects.create(
        user=history.ana, course=history.course, question_key="poll:2", poll=history.poll,
        **new_card_fields(now - timedelta(days=3)),
    )  # fmt: skip
    review = {
        "mode": "review",
        "object_type": "review_card",
        "live_session_id": None,
        "course": history.course,
    }
    for minutes, success, source in ((3 * 24 * 60, True, "scheduled"), (4 * 24 * 60, False, "scheduled"), (4 * 24 * 60 + 5, True, "practice")):  # fmt: skip
        history.record(
            "review.answered",
            history.ana,
            minutes,
            success=success,
            object_id=reviewed.pk,
            extensions={"question_key": "poll:1", "source": source},
            **review,
        )
    rollups_course_rebuild(course_id=history.course.pk)
    ana = CourseRollup.objects.get(user=history.ana)
    assert (ana.reviews_done, ana.reviews_correct) == (2, 1)  # practice is not a review
    later = timezone.now()
    cards = (reviewed, overdue)
    assert ana.cards_due == sum(card.due <= later for card in cards)
    assert ana.cards_overdue == sum(card.due <= later - timedelta(days=1) for card in cards) >= 1
    recall = retrievability(reviewed, scheduler=scheduler, at=timezone.now())
    assert ana.review_recall_mean == pytest.approx(recall, abs=0.002)  # reviewed cards only
    # 0.8 × 72.7 (the one session) + 0.2 × 100 × the mean predicted recall
    assert ana.engagement_score == pytest.approx(0.8 * 72.7 + 20 * recall, abs=0.1)
    # Review answers are not live acts: the session row is unchanged.
    assert _row(history, history.ana).windows_active == 3
    assert overdue.due < now - timedelta(days=1)


def test_falling_participation_compares_the_last_two_sessions_with_before():
    def held(*scores):
        return [{"engagement_score": s} for s in scores]

    quiet = {"sessions_absent": 0, "cards_overdue": None}
    # Before: 80; last two: 40 < 0.7 × 80 = 56.
    assert rollups.risk_reasons(held(80, 80, 40, 40), quiet) == ["falling_participation"]
    assert rollups.risk_reasons(held(80, 80, 60, 60), quiet) == []  # 60 ≥ 56
    assert rollups.risk_reasons(held(80, 20, 20), quiet) == []  # fewer than 4 sessions
    assert rollups.risk_reasons(held(), {"sessions_absent": 2, "cards_overdue": 5}) == [
        "absent_not_caught_up",
        "overdue_reviews",
    ]
