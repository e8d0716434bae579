"""Per-learner scores of a live session, for the LMS gradebook (lti/ags.py).

Read-only selectors, a fixed number of queries per session whatever the size
of the class. Every score is a fraction in [0, 1]; docs/lms.md ("Grade
passback") defines them:

- attendance: minutes present / scheduled minutes. Present = the union of the
  learner's connection intervals (Attendance; reconnects and tabs count once),
  clipped to the scheduled start..end; an interval still open counts until its
  last ping, or the session's end. Capped at 1.
- participation: 1 if the learner took part at all (answered a poll, chatted,
  asked a question, raised a hand, reacted or spoke), else 0.
- quiz: correct answers / graded polls. Graded polls = the session's closed
  quiz polls that are named (not anonymous) and answered individually (not
  one shared answer per table). No graded poll: no quiz score (None).

Only ended sessions have scores (session_scores_ready)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from classroom.models import (
    Attendance,
    HandRaise,
    LiveSession,
    Participant,
    Poll,
    PollResponse,
    PollScope,
    PollState,
    Question,
    SessionState,
)


def session_scores_ready(*, session: LiveSession) -> bool:
    return session.state == SessionState.ENDED


def _union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def session_attendance_scores(*, session: LiveSession) -> dict[int, float]:
    """user id → minutes present / scheduled minutes (one query)."""
    start, end = session.scheduled_start, session.scheduled_end
    scheduled = (end - start).total_seconds()
    if scheduled <= 0:
        return {}
    fallback_end = session.ended_at or end
    intervals: dict[int, list[tuple[datetime, datetime]]] = {}
    rows = Attendance.objects.filter(session=session).values_list(
        "user_id", "joined_at", "left_at", "last_seen_at"
    )
    for user_id, joined, left, seen in rows:
        until = left or seen or fallback_end
        a, b = max(joined, start), min(until, end)
        if b > a:
            intervals.setdefault(user_id, []).append((a, b))
        else:
            intervals.setdefault(user_id, [])
    return {
        user_id: min(1.0, round(_union_seconds(spans) / scheduled, 4))
        for user_id, spans in intervals.items()
    }


def session_participation_scores(*, session: LiveSession) -> dict[int, float]:
    """user id → 1.0 for learners who took part; learners present who did not
    take part → 0.0 (four queries)."""
    took_part: set[int] = set()
    markers = Q(last_chatted_at__isnull=False) | Q(last_reacted_at__isnull=False)
    markers |= Q(last_answered_at__isnull=False) | Q(last_spoke_at__isnull=False)
    took_part.update(
        Participant.objects.filter(markers, session=session).values_list("user_id", flat=True)
    )
    took_part.update(
        PollResponse.objects.filter(poll__session=session, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    took_part.update(
        Question.objects.filter(session=session, author__isnull=False).values_list(
            "author_id", flat=True
        )
    )
    took_part.update(HandRaise.objects.filter(session=session).values_list("user_id", flat=True))
    present = set(
        Attendance.objects.filter(session=session).values_list("user_id", flat=True)
    ) | set(Participant.objects.filter(session=session).values_list("user_id", flat=True))
    return {user_id: 1.0 if user_id in took_part else 0.0 for user_id in present | took_part}


def session_graded_polls(*, session: LiveSession) -> list[int]:
    return list(
        Poll.objects.filter(
            session=session, is_quiz=True, is_anonymous=False, state=PollState.CLOSED
        )
        .exclude(scope=PollScope.ONE_PER_TABLE)
        .values_list("pk", flat=True)
    )


def session_quiz_scores(
    *, session: LiveSession, learner_ids: set[int] | None = None
) -> dict[int, float] | None:
    """user id → correct answers / graded polls; None when the session has no
    graded poll. Learners in `learner_ids` who answered nothing get 0.0 (two
    queries)."""
    graded = session_graded_polls(session=session)
    if not graded:
        return None
    correct: dict[int, int] = {}
    rows = PollResponse.objects.filter(poll_id__in=graded, user__isnull=False).values_list(
        "user_id", "is_correct"
    )
    for user_id, is_correct in rows:
        correct[user_id] = correct.get(user_id, 0) + (1 if is_correct else 0)
    users = set(correct) | set(learner_ids or ())
    return {u: round(correct.get(u, 0) / len(graded), 4) for u in users}
