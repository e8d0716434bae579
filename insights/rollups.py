"""The rollup computations, defined in docs/analytics.md.

The unit of recomputation is a whole key: one live session (all its
learners), one (recording, learner), one (course, learner). Each is computed
from the event log (and the heartbeat-checked watch progress) alone and
written with an upsert, so computing a key twice, or after a late or replayed
event, gives the same row. The incremental job (insights/services.py) only
decides WHICH keys to recompute; `insights_rebuild` recomputes all of a
course's keys with the same functions: both give identical numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from analytics.models import LearningEvent
from insights import sources
from insights.models import CourseRollup, RecordingRollup, SessionRollup, SessionStatus

WINDOW_MS = 10 * 60 * 1000  # participation windows
TALK_THRESHOLD_MS = 2_000  # a turn of talk at least this long is an act
LIVE_ACTS = ("answered", "chatted", "asked", "upvoted", "reacted", "raised_hand")
PLAYBACK_ACTS = ("answered", "commented", "noted", "reacted")
REVIEW_MODE = "review"
REVIEW_VERB = "review.answered"  # reinforcement's (docs/events.md)
REVIEW_PRACTICE = "practice"  # its `source` for on-demand practice
# Engagement score weights (docs/analytics.md#engagement-score).
WEIGHT_PRESENCE, WEIGHT_PARTICIPATION, WEIGHT_POLLS = 0.4, 0.4, 0.2
WEIGHT_REVIEW = 0.2
# At-risk rules (docs/analytics.md#at-risk).
RISK_ABSENCES = 2
RISK_FALL_RATIO = 0.7
RISK_OVERDUE_CARDS = 5
COURSE_SOURCE_FIELDS = (
    "user_id",
    "status",
    "attendance_percent",
    "windows_total",
    "windows_active",
    "playback_windows_active",
    "engagement_score",
    "talk_ms",
    "messages",
    "reactions",
    "hands",
    "questions",
    "polls_open",
    "polls_answered",
    "playback_polls_answered",
    "polls_graded",
    "polls_correct",
    "playback_polls_graded",
    "playback_polls_correct",
    "last_left_at",
)
FEW_LEARNERS = 100  # below this, a session's events are read for those learners only

SESSION_FIELDS = (
    "id",
    "actor_id",
    "verb",
    "mode",
    "occurred_at",
    "object_id",
    "success",
    "duration_ms",
    "media_time_ms",
)


def _ms(later: datetime, earlier: datetime) -> int:
    return int((later - earlier).total_seconds() * 1000)


def union_length(intervals: list[list[int]]) -> int:
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def merge(intervals: list[list[int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def equity_index(values: Iterable[float]) -> float | None:
    """1 − Gini of the values: 1 when everyone has the same, → 0 when one
    person has everything. None for nobody or a total of zero."""
    values = [max(0.0, float(v)) for v in values]
    n, total = len(values), sum(values)
    if n == 0 or total <= 0:
        return None
    diffs = sum(abs(a - b) for a in values for b in values)
    gini = diffs / (2 * n * n * (total / n))
    return round(1 - gini, 3)


def session_score(row: dict) -> float:
    presence = min(1.0, max(row["attendance_percent"], row["watch_percent"]) / 100)
    total = row["windows_total"]
    windows = max(row["windows_active"], row["playback_windows_active"])
    participation = min(1.0, windows / total) if total else 0.0
    if row["polls_open"]:
        polls = min(
            1.0, (row["polls_answered"] + row["playback_polls_answered"]) / row["polls_open"]
        )
        score = (
            WEIGHT_PRESENCE * presence + WEIGHT_PARTICIPATION * participation + WEIGHT_POLLS * polls
        )
    else:
        score = 0.5 * presence + 0.5 * participation
    return round(100 * score, 1)


def _last_answers(answers: dict[str, bool | None]) -> tuple[int, int, int]:
    answered = len(answers)
    graded = sum(1 for value in answers.values() if value is not None)
    correct = sum(1 for value in answers.values() if value is True)
    return answered, graded, correct


def session_rows_compute(
    info: sources.SessionInfo, user_ids: list[int], recordings: dict | None = None
) -> dict[int, dict]:
    """Every measure of every given learner in one live session."""
    wanted = set(user_ids)
    rows: dict[int, dict] = {}
    anonymous = sources.anonymous_poll_ids([info.id])
    polls_open = len(
        set(
            LearningEvent.objects.filter(live_session_id=info.id, verb="opened_poll")
            .values_list("object_id", flat=True)
            .distinct()
        )
        - anonymous
    )
    start, end = info.start, info.end
    span = _ms(end, start) if start and end else 0
    windows_total = math.ceil(span / WINDOW_MS) if span > 0 else (1 if start else 0)
    state: dict[int, dict] = defaultdict(
        lambda: {
            "open": None,
            "intervals": [],
            "acts_windows": set(),
            "pb_windows": set(),
            "answers": {},
            "pb_answers": {},
            "counts": defaultdict(int),
            "completed": False,
            "last_id": 0,
        }
    )
    events = LearningEvent.objects.filter(live_session_id=info.id, actor_id__isnull=False)
    if len(wanted) <= FEW_LEARNERS:
        events = events.filter(actor_id__in=sorted(wanted))
    events = events.order_by("occurred_at", "id").values_list(*SESSION_FIELDS)
    for event_id, actor, verb, mode, at, object_id, success, duration, media in events.iterator(
        chunk_size=5000
    ):
        if actor not in wanted:
            continue
        me = state[actor]
        me["last_id"] = max(me["last_id"], event_id)
        counts = me["counts"]
        if mode == "live":
            if start is None:
                continue
            offset = _ms(at, start)
            if verb == "joined":
                if me["open"] is None:
                    me["open"] = offset
                continue
            if verb == "left":
                if me["open"] is not None:
                    me["intervals"].append([me["open"], offset])
                    me["open"] = None
                continue
            is_act = verb in LIVE_ACTS
            if verb == "answered":
                if object_id in anonymous:
                    continue
                me["answers"][object_id] = success
            elif verb == "spoke":
                counts["talk_ms"] += duration or 0
                counts["talk_turns"] += 1
                is_act = (duration or 0) >= TALK_THRESHOLD_MS
            elif verb in ("chatted", "asked", "upvoted", "reacted", "raised_hand"):
                counts[verb] += 1
            if is_act and 0 <= offset <= span:
                me["acts_windows"].add(min(offset // WINDOW_MS, max(0, windows_total - 1)))
        elif mode == "playback":
            if verb == "completed":
                me["completed"] = True
            if verb in PLAYBACK_ACTS:
                if verb == "answered":
                    if object_id in anonymous:
                        continue
                    me["pb_answers"][object_id] = success
                counts["playback_acts"] += 1
                if media is not None:
                    me["pb_windows"].add(media // WINDOW_MS)
    watched = _session_watch(info.id, user_ids, recordings)
    for user_id in user_ids:
        me = state[user_id]
        intervals = list(me["intervals"])
        if me["open"] is not None and start is not None:
            intervals.append([me["open"], max(me["open"], span)])
        clipped = merge(
            [[max(0, s), min(span, e)] for s, e in intervals if min(span, e) > max(0, s)]
        )
        present = union_length(clipped)
        counts = me["counts"]
        answered, graded, correct = _last_answers(me["answers"])
        pb_answered, pb_graded, pb_correct = _last_answers(me["pb_answers"])
        watched_ms, watch_percent, completed = watched.get(user_id, (0, 0.0, False))
        completed = completed or me["completed"]
        row = {
            "course_id": info.course_id,
            "table_id": None,
            "session_start": start or info.scheduled_start,
            "scheduled_ms": info.scheduled_ms,
            "present_ms": present,
            "attendance_percent": round(min(100.0, 100 * present / info.scheduled_ms), 1)
            if info.scheduled_ms
            else 0.0,
            "first_joined_at": None,
            "last_left_at": None,
            "intervals": clipped,
            "messages": counts["chatted"],
            "questions": counts["asked"],
            "upvotes": counts["upvoted"],
            "reactions": counts["reacted"],
            "hands": counts["raised_hand"],
            "talk_ms": counts["talk_ms"],
            "talk_turns": counts["talk_turns"],
            "polls_open": polls_open,
            "polls_answered": answered,
            "polls_graded": graded,
            "polls_correct": correct,
            "windows_total": windows_total,
            "windows_active": len(me["acts_windows"]),
            "playback_windows_active": len(me["pb_windows"]),
            "is_active": bool(me["acts_windows"]),
            "playback_acts": counts["playback_acts"],
            "playback_polls_answered": pb_answered,
            "playback_polls_graded": pb_graded,
            "playback_polls_correct": pb_correct,
            "watched_ms": watched_ms,
            "watch_percent": watch_percent,
            "playback_completed": completed,
            "last_event_id": me["last_id"],
            "is_final": info.is_final,
        }
        if clipped:
            row["first_joined_at"] = start + _delta(clipped[0][0])
            row["last_left_at"] = start + _delta(clipped[-1][1])
        if not info.is_held:
            row["status"] = SessionStatus.UPCOMING
        elif present > 0:
            row["status"] = SessionStatus.PRESENT
        elif completed:
            row["status"] = SessionStatus.WATCHED_LATER
        else:
            row["status"] = SessionStatus.ABSENT
        live = present > 0 or bool(me["acts_windows"])
        later = row["playback_acts"] > 0 or watched_ms > 0 or completed
        row["engagement_mode"] = (
            "both" if live and later else "live" if live else "playback" if later else ""
        )
        row["engagement_score"] = session_score(row) if info.is_held else 0.0
        rows[user_id] = row
    _tables_at(info, rows)
    return rows


def _delta(ms: int):
    from datetime import timedelta

    return timedelta(milliseconds=ms)


def _session_watch(session_id: int, user_ids, recordings: dict | None) -> dict[int, tuple]:
    """(watched ms, watch %, completed) of the session's best-watched recording."""
    found: dict[int, tuple] = {}
    rows = RecordingRollup.objects.filter(live_session_id=session_id, user_id__in=list(user_ids))
    for user_id, watched, percent, completed in rows.values_list(
        "user_id", "watched_ms", "watch_percent", "completed"
    ):
        best = found.get(user_id)
        if best is None or percent > best[1]:
            found[user_id] = (watched, percent, completed or (best[2] if best else False))
        elif completed:
            found[user_id] = (best[0], best[1], True)
    return found


def _tables_at(info: sources.SessionInfo, rows: dict[int, dict]) -> None:
    """Each learner's table: their last `seated` event up to the session's end."""
    until = info.end or info.scheduled_start
    seated = (
        LearningEvent.objects.filter(
            course_id=info.course_id, verb="seated", actor_id__in=list(rows), occurred_at__lte=until
        )
        .order_by("occurred_at", "id")
        .values_list("actor_id", "object_id")
    )
    for actor, table in seated:
        rows[actor]["table_id"] = int(table) if table.isdigit() else None


def recording_rows_compute(info: sources.RecordingInfo, user_ids: Iterable[int]) -> dict[int, dict]:
    user_ids = list(user_ids)
    wanted = set(user_ids)
    anonymous = (
        sources.anonymous_poll_ids([info.live_session_id]) if info.live_session_id else set()
    )
    segments = sources.watch_segments(info.id, user_ids)
    state: dict[int, dict] = defaultdict(
        lambda: {
            "counts": defaultdict(int),
            "answers": {},
            "completed_at": None,
            "first": None,
            "last": None,
            "last_id": 0,
        }
    )
    events = (
        LearningEvent.objects.filter(recording_id=info.id, mode="playback", actor_id__isnull=False)
        .order_by("occurred_at", "id")
        .values_list("id", "actor_id", "verb", "occurred_at", "object_id", "success")
    )
    for event_id, actor, verb, at, object_id, success in events.iterator(chunk_size=5000):
        if actor not in wanted:
            continue
        me = state[actor]
        me["last_id"] = max(me["last_id"], event_id)
        me["first"] = me["first"] or at
        me["last"] = at
        if verb == "answered":
            if object_id not in anonymous:
                me["answers"][object_id] = success
        elif verb == "completed":
            me["completed_at"] = me["completed_at"] or at
        else:
            me["counts"][verb] += 1
    rows = {}
    for user_id in user_ids:
        me = state[user_id]
        watched = sum(
            max(0, min(e, info.end_ms) - max(s, info.start_ms))
            for s, e in segments.get(user_id) or []
        )
        answered, graded, correct = _last_answers(me["answers"])
        counts = me["counts"]
        rows[user_id] = {
            "course_id": info.course_id,
            "live_session_id": info.live_session_id,
            "length_ms": info.length_ms,
            "watched_ms": watched,
            "watch_percent": round(100 * watched / info.length_ms, 1),
            "completed": me["completed_at"] is not None,
            "completed_at": me["completed_at"],
            "played": counts["played"],
            "paused": counts["paused"],
            "seeked": counts["seeked"],
            "comments": counts["commented"],
            "notes": counts["noted"],
            "reactions": counts["reacted"],
            "polls_answered": answered,
            "polls_graded": graded,
            "polls_correct": correct,
            "first_activity_at": me["first"],
            "last_activity_at": me["last"],
            "last_event_id": me["last_id"],
        }
    return rows


def course_rows_compute(course_id: int, user_ids: list[int]) -> dict[int, dict]:
    """A learner's course row, from their session and recording rows plus
    the review events of the log."""
    sessions: dict[int, list] = defaultdict(list)
    for row in (
        SessionRollup.objects.filter(course_id=course_id, user_id__in=user_ids)
        .exclude(status=SessionStatus.UPCOMING)
        .order_by("session_start", "live_session_id")
        .values(*COURSE_SOURCE_FIELDS)
    ):
        sessions[row["user_id"]].append(row)
    recordings: dict[int, list] = defaultdict(list)
    for row in RecordingRollup.objects.filter(course_id=course_id, user_id__in=user_ids).values(
        "user_id", "watched_ms", "completed", "last_activity_at"
    ):
        recordings[row["user_id"]].append(row)
    reviews: dict[int, dict] = defaultdict(lambda: {"done": 0, "correct": 0, "last": None})
    for actor, success, extensions, at in (
        LearningEvent.objects.filter(
            course_id=course_id, mode=REVIEW_MODE, verb=REVIEW_VERB, actor_id__in=user_ids
        )
        .order_by("occurred_at", "id")
        .values_list("actor_id", "success", "extensions", "occurred_at")
    ):
        if (extensions or {}).get("source") == REVIEW_PRACTICE:
            continue  # on-demand practice is not a scheduled review
        mine = reviews[actor]
        mine["done"] += 1
        mine["correct"] += 1 if success else 0
        mine["last"] = at
    cards = sources.review_state(course_id, user_ids, timezone.now())
    rows = {}
    for user_id in user_ids:
        held = sessions[user_id]
        recs = recordings[user_id]
        review = reviews[user_id]
        n = len(held)
        total_windows = sum(r["windows_total"] for r in held)
        scores = [r["engagement_score"] for r in held]
        row = {
            "sessions_held": n,
            "sessions_present": sum(1 for r in held if r["status"] == SessionStatus.PRESENT),
            "sessions_watched_later": sum(
                1 for r in held if r["status"] == SessionStatus.WATCHED_LATER
            ),
            "sessions_absent": sum(1 for r in held if r["status"] == SessionStatus.ABSENT),
            "attendance_percent": round(sum(r["attendance_percent"] for r in held) / n, 1)
            if n
            else 0.0,
            "active_percent": round(
                100
                * sum(max(r["windows_active"], r["playback_windows_active"]) for r in held)
                / total_windows,
                1,
            )
            if total_windows
            else 0.0,
            "talk_ms": sum(r["talk_ms"] for r in held),
            "messages": sum(r["messages"] for r in held),
            "reactions": sum(r["reactions"] for r in held),
            "hands": sum(r["hands"] for r in held),
            "questions": sum(r["questions"] for r in held),
            "polls_open": sum(r["polls_open"] for r in held),
            "polls_answered": sum(r["polls_answered"] + r["playback_polls_answered"] for r in held),
            "polls_graded": sum(r["polls_graded"] + r["playback_polls_graded"] for r in held),
            "polls_correct": sum(r["polls_correct"] + r["playback_polls_correct"] for r in held),
            "recordings_started": sum(1 for r in recs if r["watched_ms"] > 0 or r["completed"]),
            "recordings_completed": sum(1 for r in recs if r["completed"]),
            "watched_ms": sum(r["watched_ms"] for r in recs),
            "reviews_done": review["done"],
            "reviews_correct": review["correct"],
            "review_recall_mean": cards[user_id]["mean_recall"] if user_id in cards else None,
            "cards_due": cards[user_id]["due"] if user_id in cards else None,
            "cards_overdue": cards[user_id]["overdue"] if user_id in cards else None,
        }
        session_mean = sum(scores) / n if n else 0.0
        if review["done"]:
            recall = (
                row["review_recall_mean"]
                if row["review_recall_mean"] is not None
                else review["correct"] / review["done"]
            )
            score = (1 - WEIGHT_REVIEW) * session_mean + WEIGHT_REVIEW * 100 * recall
        else:
            score = session_mean
        row["engagement_score"] = round(score, 1)
        row["risk_reasons"] = risk_reasons(held, row)
        moments = [r["last_activity_at"] for r in recs if r["last_activity_at"]]
        moments += [r["last_left_at"] for r in held if r["last_left_at"]]
        if review["last"]:
            moments.append(review["last"])
        row["last_activity_at"] = max(moments) if moments else None
        rows[user_id] = row
    return rows


def risk_reasons(held: list[dict], row: dict) -> list[str]:
    reasons = []
    if row["sessions_absent"] >= RISK_ABSENCES:
        reasons.append("absent_not_caught_up")
    scores = [r["engagement_score"] for r in held]
    if len(scores) >= 4:
        earlier = scores[:-2]
        before = sum(earlier) / len(earlier)
        recent = sum(scores[-2:]) / 2
        if before > 0 and recent < RISK_FALL_RATIO * before:
            reasons.append("falling_participation")
    if (row["cards_overdue"] or 0) >= RISK_OVERDUE_CARDS:
        reasons.append("overdue_reviews")
    return reasons


# --- writing ----------------------------------------------------------------------------------


def _upsert(model, rows: list, unique: list[str]) -> None:
    if not rows:
        return
    fields = [
        f.name for f in model._meta.concrete_fields if not f.primary_key and f.name not in unique
    ]
    model.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=unique, update_fields=fields, batch_size=1000
    )


def recording_viewers(recording_id: int) -> set[int]:
    """Who has a row for a recording: anyone with a playback event or progress."""
    return set(
        LearningEvent.objects.filter(recording_id=recording_id, mode="playback")
        .exclude(actor_id=None)
        .values_list("actor_id", flat=True)
        .distinct()
    ) | sources.watch_progress_users(recording_id)


def recording_refresh(recording_id: int, user_ids: Iterable[int] | None = None) -> None:
    info = sources.recordings_info(recording_ids=[recording_id]).get(recording_id)
    if info is None:
        return
    if user_ids is None:
        user_ids = recording_viewers(recording_id)
    learners = set(sources.learner_ids(info.course_id))
    user_ids = sorted(set(user_ids) & learners)
    rows = recording_rows_compute(info, user_ids)
    _upsert(
        RecordingRollup,
        [RecordingRollup(recording_id=recording_id, user_id=u, **r) for u, r in rows.items()],
        ["recording_id", "user"],
    )


def session_refresh(session_id: int) -> int | None:
    """Recompute every learner's row of one live session. Returns its course."""
    info = sources.sessions_info(session_ids=[session_id]).get(session_id)
    if info is None:  # cancelled (or deleted): it has no rows
        stale = SessionRollup.objects.filter(live_session_id=session_id)
        course = stale.values_list("course_id", flat=True).first()
        stale.delete()
        return course
    rows = session_rows_compute(info, sources.learner_ids(info.course_id))
    with transaction.atomic():
        SessionRollup.objects.filter(live_session_id=session_id).exclude(
            user_id__in=list(rows)
        ).delete()
        _upsert(
            SessionRollup,
            [SessionRollup(live_session_id=session_id, user_id=u, **r) for u, r in rows.items()],
            ["live_session_id", "user"],
        )
    return info.course_id


def course_refresh(course_id: int, user_ids: Iterable[int] | None = None) -> None:
    learners = sources.learner_ids(course_id)
    user_ids = learners if user_ids is None else sorted(set(user_ids) & set(learners))
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        rows = course_rows_compute(course_id, chunk)
        _upsert(
            CourseRollup,
            [CourseRollup(course_id=course_id, user_id=u, **r) for u, r in rows.items()],
            ["course", "user"],
        )


def learners_refresh(
    course_id: int, user_ids: Iterable[int], *, since: datetime | None = None
) -> None:
    """Recompute some learners' rows across a course: their enrollment changed
    (rows appear for a new learner, go for a former one), or their seat did
    (`since`: the first seating change; sessions that ended before it keep
    their table)."""
    learners = set(sources.learner_ids(course_id))
    user_ids = set(user_ids)
    gone = sorted(user_ids - learners)
    if gone:
        for model in (SessionRollup, RecordingRollup, CourseRollup):
            model.objects.filter(course_id=course_id, user_id__in=gone).delete()
    users = sorted(user_ids & learners)
    if not users:
        return
    for info in sources.sessions_info(course_id=course_id).values():
        until = info.end or info.scheduled_start
        if since is not None and until < since:
            continue
        rows = session_rows_compute(info, users)
        _upsert(
            SessionRollup,
            [SessionRollup(live_session_id=info.id, user_id=u, **r) for u, r in rows.items()],
            ["live_session_id", "user"],
        )
    if since is None:
        for recording in sources.recordings_info(course_id=course_id):
            recording_refresh(recording)
    course_refresh(course_id, users)
