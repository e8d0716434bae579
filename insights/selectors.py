"""The reads behind the analytics pages, APIs and exports. Everything here
reads rollups (one or two queries per page) except the drill-down timeline
and the live panel, which read small windows of the log.

Each selector returns plain dicts and lists (JSON-ready; datetimes stay
datetimes). No selector ever names the voter of an anonymous poll: those
answers are excluded from the rollups and only aggregate poll results are
shown (docs/analytics.md#anonymous-polls). Callers check access first
(insights/access.py).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, F, Max, Min, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from analytics.selectors import event_list, session_events_list
from classroom.models import Attendance, Poll, PollState, Question, Table
from classroom.selectors import poll_results_get, seat_map_get
from courses.models import Course, Program, User
from insights import rollups, sources
from insights.models import CourseRollup, RecordingRollup, SessionRollup, SessionStatus

SILENT_MINUTES = 10
DOMINANCE_SHARE = 0.6  # one person holds this share of a table's talk...
DOMINANCE_MIN_MEMBERS = 3  # ...at a table with at least this many present
MATRIX_STATUSES = {s.value for s in SessionStatus}

SESSION_ROW_FIELDS = (
    "user_id",
    "table_id",
    "status",
    "engagement_mode",
    "present_ms",
    "attendance_percent",
    "intervals",
    "messages",
    "questions",
    "upvotes",
    "reactions",
    "hands",
    "talk_ms",
    "talk_turns",
    "polls_open",
    "polls_answered",
    "polls_graded",
    "polls_correct",
    "windows_total",
    "windows_active",
    "playback_windows_active",
    "playback_acts",
    "playback_polls_answered",
    "watched_ms",
    "watch_percent",
    "playback_completed",
    "engagement_score",
)


def _names(user_ids) -> dict[int, str]:
    """Display names by user id (one query, no model instances): the same
    choice as `User.name`."""
    return {
        pk: display or " ".join(part for part in (first, last) if part) or username
        for pk, display, first, last, username in User.objects.filter(
            pk__in=list(user_ids)
        ).values_list("id", "display_name", "first_name", "last_name", "username")
    }


def tables_of_course(course_id: int) -> dict[int, str]:
    """Table names by id (one query)."""
    return dict(Table.objects.filter(course_id=course_id).values_list("id", "name"))


def _median(values) -> float | None:
    values = list(values)
    return round(float(statistics.median(values)), 1) if values else None


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def table_balance(rows: list[dict]) -> list[dict]:
    """Per table: talk, each present member's share and the equity index."""
    by_table: dict[int | None, list[dict]] = defaultdict(list)
    for row in rows:
        if row["present_ms"] > 0:
            by_table[row["table_id"]].append(row)
    tables = []
    for table_id, members in by_table.items():
        total = sum(m["talk_ms"] for m in members)
        shares = {m["user_id"]: (m["talk_ms"] / total if total else None) for m in members}
        top = max(members, key=lambda m: m["talk_ms"])
        dominated = (
            total > 0
            and len(members) >= DOMINANCE_MIN_MEMBERS
            and top["talk_ms"] / total >= DOMINANCE_SHARE
        )
        tables.append(
            {
                "table_id": table_id,
                "talk_ms": total,
                "members": len(members),
                "shares": shares,
                "equity": rollups.equity_index(m["talk_ms"] for m in members),
                "dominated_by": top["user_id"] if dominated else None,
            }
        )
    return sorted(tables, key=lambda t: (t["table_id"] is None, t["table_id"] or 0))


# --- after a session ----------------------------------------------------------------------------


def session_report_get(session_id: int) -> dict:
    """The report of one live session: attendance timeline, participation and
    talk per learner and per table with class medians, poll-by-poll results,
    the busiest chat minutes, the questions asked, who needs follow-up."""
    info = sources.sessions_info(session_ids=[session_id])[session_id]
    rows = list(
        SessionRollup.objects.filter(live_session_id=session_id)
        .order_by("user_id")
        .values(*SESSION_ROW_FIELDS)
    )
    names = _names(r["user_id"] for r in rows)
    table_names = tables_of_course(info.course_id)
    for row in rows:
        row["name"] = names.get(row["user_id"], "")
        row["table"] = table_names.get(row["table_id"], "")
    present = [r for r in rows if r["present_ms"] > 0]
    medians = {
        key: _median(r[key] for r in present)
        for key in ("present_ms", "attendance_percent", "talk_ms", "messages", "engagement_score")
    }
    medians["windows_active"] = _median(r["windows_active"] for r in present)
    tables = table_balance(rows)
    for table in tables:
        table["name"] = table_names.get(table["table_id"], "")
    polls = []
    for poll in Poll.objects.filter(session_id=session_id).order_by("opened_at", "id"):
        results = poll_results_get(poll=poll, for_staff=False)
        polls.append(
            {
                "id": poll.pk,
                "prompt": poll.prompt,
                "kind": poll.kind,
                "is_quiz": poll.is_quiz,
                "is_anonymous": poll.is_anonymous,
                "results": results,
            }
        )
    minutes: dict[datetime, int] = defaultdict(int)
    for at in session_events_list(session_id, verbs=["chatted"], mode="live").values_list(
        "occurred_at", flat=True
    ):
        minutes[at.replace(second=0, microsecond=0)] += 1
    busiest = sorted(minutes.items(), key=lambda item: (-item[1], item[0]))[:5]
    questions = [
        {
            "body": q.body,
            "upvotes": q.upvote_count,
            "answered": q.answered_at is not None,
            "author": None
            if q.is_anonymous or q.author_id is None
            else names.get(q.author_id) or q.author.name,
            "asked_at": q.created_at,
        }
        for q in Question.objects.filter(session_id=session_id, deleted_at__isnull=True)
        .select_related("author")
        .order_by("-upvote_count", "created_at")
    ]
    follow_up = [
        {"user_id": r["user_id"], "name": r["name"], "reason": _follow_up_reason(r, medians)}
        for r in rows
        if _follow_up_reason(r, medians)
    ]
    return {
        "session": {
            "id": info.id,
            "course_id": info.course_id,
            "title": info.title,
            "state": info.state,
            "scheduled_start": info.scheduled_start,
            "scheduled_ms": info.scheduled_ms,
            "started_at": info.start,
            "ended_at": info.end if info.is_final else None,
            "length_ms": int((info.end - info.start).total_seconds() * 1000)
            if info.start and info.end
            else 0,
        },
        "learners": rows,
        "medians": medians,
        "tables": tables,
        "polls": polls,
        "chat_peaks": [{"minute": m, "messages": n} for m, n in busiest],
        "questions": questions,
        "follow_up": follow_up,
    }


def _follow_up_reason(row: dict, medians: dict) -> str:
    if row["status"] == SessionStatus.ABSENT:
        return "absent"
    if row["status"] == SessionStatus.PRESENT and not row["windows_active"]:
        return "present_but_silent"
    median = medians.get("engagement_score")
    if median and row["status"] == SessionStatus.PRESENT and row["engagement_score"] < median / 2:
        return "low_engagement"
    return ""


# --- course dashboard --------------------------------------------------------------------------


CACHE_SECONDS = 24 * 3600  # keys carry the rollups' version: an old one is never read
MATRIX_PER_PAGE = 50
MATRIX_PER_PAGE_MAX = 500
CELL_FIELDS = (
    "user_id",
    "live_session_id",
    "table_id",
    "status",
    "engagement_mode",
    "engagement_score",
    "attendance_percent",
    "watch_percent",
)


def course_matrix_get(course_id: int, filters: dict | None = None) -> dict:
    """Learners × sessions, one page of learners (by name): each cell present
    / watched later / absent (not caught up) / upcoming, with the engagement
    score and mode.

    filters (all optional, as read from the URL): `table` (table id: learners
    who sat there), `status` (learners with at least one cell of that
    status), `q` (name contains), `since` / `until` (dates of sessions),
    `page` (from 1) and `per_page` (50; at most 500)."""
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    cells_of_course = SessionRollup.objects.filter(course_id=course_id)
    if filters.get("since"):
        cells_of_course = cells_of_course.filter(session_start__date__gte=filters["since"])
    if filters.get("until"):
        cells_of_course = cells_of_course.filter(session_start__date__lte=filters["until"])
    learners = CourseRollup.objects.filter(course_id=course_id)
    if filters.get("q"):
        learners = learners.filter(
            Q(user__display_name__icontains=filters["q"])
            | Q(user__username__icontains=filters["q"])
        )
    if filters.get("table"):
        learners = learners.filter(
            user_id__in=cells_of_course.filter(table_id=filters["table"]).values("user_id")
        )
    if filters.get("status"):
        learners = learners.filter(
            user_id__in=cells_of_course.filter(status=filters["status"]).values("user_id")
        )
    total = learners.count()
    per_page = min(int(filters.get("per_page") or MATRIX_PER_PAGE), MATRIX_PER_PAGE_MAX)
    pages = max(1, -(-total // per_page))
    page = min(max(1, int(filters.get("page") or 1)), pages)
    people = list(
        learners.order_by("user__display_name", "user__username", "user_id").values_list(
            "user_id", "user__display_name", "user__username"
        )[(page - 1) * per_page : page * per_page]
    )
    infos = sources.sessions_info(course_id=course_id)

    def shown(info) -> bool:
        day = (info.start or info.scheduled_start).date()
        return not (
            (filters.get("since") and day < filters["since"])
            or (filters.get("until") and day > filters["until"])
        )

    held_ids = [
        info.id
        for info in sorted(infos.values(), key=lambda i: (i.start or i.scheduled_start, i.id))
        if shown(info)
    ]
    by_user: dict[int, dict] = {user_id: {} for user_id, _name, _username in people}
    tables_of: dict[int, int] = {}
    for row in cells_of_course.filter(user_id__in=list(by_user)).values_list(*CELL_FIELDS):
        cell = dict(zip(CELL_FIELDS, row, strict=True))
        by_user[cell["user_id"]][cell["live_session_id"]] = cell
        if cell["table_id"] is not None:
            tables_of[cell["user_id"]] = cell["table_id"]
    table_names = tables_of_course(course_id)
    rows = []
    for user_id, display_name, username in people:
        mine = by_user[user_id]
        rows.append(
            {
                "id": user_id,
                "name": display_name or username,
                "table_id": tables_of.get(user_id),
                "table": table_names.get(tables_of.get(user_id), ""),
                "cells": [
                    {
                        "session_id": sid,
                        "status": c["status"],
                        "mode": c["engagement_mode"],
                        "score": c["engagement_score"],
                        "attendance_percent": c["attendance_percent"],
                        "watch_percent": c["watch_percent"],
                    }
                    for sid in held_ids
                    if (c := mine.get(sid))
                ],
            }
        )
    return {
        "sessions": [
            {
                "id": sid,
                "title": infos[sid].title if sid in infos else "",
                "start": (infos[sid].start or infos[sid].scheduled_start) if sid in infos else None,
                "held": infos[sid].is_held if sid in infos else False,
            }
            for sid in held_ids
        ],
        "learners": rows,
        "page": page,
        "pages": pages,
        "total": total,
        "per_page": per_page,
        "filters": {k: v for k, v in filters.items() if k not in ("page", "per_page")},
    }


def rollups_version(course_id: int) -> str:
    """Changes whenever any of the course's rollups does: every recomputation
    ends with the course rows of the learners concerned (insights/rollups.py)."""
    latest = CourseRollup.objects.filter(course_id=course_id).aggregate(
        at=Max("updated_at"), rows=Count("id")
    )
    return f"{latest['at'].isoformat() if latest['at'] else '-'}:{latest['rows']}"


def _cached(name: str, course_id: int, compute):
    """A course-wide read, kept until the course's rollups change."""
    key = f"insights:{name}:{course_id}:{rollups_version(course_id)}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, CACHE_SECONDS)
    return found


def course_trends_get(course_id: int) -> list[dict]:
    return _cached("trends", course_id, lambda: _course_trends(course_id))


def _course_trends(course_id: int) -> list[dict]:
    """Per ISO week of held sessions: mean attendance %, shares present,
    caught up later and active, poll answer rate, mean engagement score
    (one grouped query)."""
    held = SessionRollup.objects.filter(course_id=course_id).exclude(status=SessionStatus.UPCOMING)
    weeks = (
        held.annotate(week=TruncWeek("session_start", tzinfo=UTC))
        .values("week")
        .annotate(
            rows=Count("id"),
            sessions=Count("live_session_id", distinct=True),
            attendance=Avg("attendance_percent"),
            present=Count("id", filter=Q(status=SessionStatus.PRESENT)),
            later=Count("id", filter=Q(status=SessionStatus.WATCHED_LATER)),
            active=Count("id", filter=Q(is_active=True)),
            polls=Sum("polls_open"),
            answered=Sum(F("polls_answered") + F("playback_polls_answered")),
            score=Avg("engagement_score"),
        )
        .order_by("week")
    )
    trends = []
    for row in weeks:
        year, week, _day = row["week"].isocalendar()
        trends.append(
            {
                "week": f"{year}-W{week:02d}",
                "sessions": row["sessions"],
                "attendance_percent": round(row["attendance"], 1),
                "present_percent": _percent(row["present"], row["rows"]),
                "watched_later_percent": _percent(row["later"], row["rows"]),
                "active_percent": _percent(row["active"], row["rows"]),
                "poll_answer_percent": _percent(row["answered"] or 0, row["polls"] or 0),
                "engagement_score": round(row["score"], 1),
            }
        )
    return trends


RISK_LABELS = {
    "absent_not_caught_up": "Absent from two or more sessions and not caught up",
    "falling_participation": "Participation falling (last two sessions under 70% of before)",
    "overdue_reviews": "Five or more review cards overdue",
}


def at_risk_list(course_id: int) -> list[dict]:
    rows = list(
        CourseRollup.objects.filter(course_id=course_id)
        .exclude(risk_reasons=[])
        .values(
            "user_id",
            "risk_reasons",
            "engagement_score",
            "sessions_absent",
            "sessions_held",
            "cards_overdue",
            "last_activity_at",
        )
    )
    names = _names(r["user_id"] for r in rows)
    for row in rows:
        row["name"] = names.get(row["user_id"], "")
        row["reasons"] = [
            {"code": code, "label": RISK_LABELS.get(code, code)} for code in row["risk_reasons"]
        ]
    return sorted(rows, key=lambda r: (-len(r["reasons"]), r["engagement_score"], r["name"]))


def table_view_get(course_id: int) -> list[dict]:
    return _cached("tables", course_id, lambda: _table_view(course_id))


def _table_view(course_id: int) -> list[dict]:
    """The persistent tables across the course: members, mean engagement,
    talk per member and the table's equity index over all held sessions
    (one grouped query)."""
    rows = list(
        SessionRollup.objects.filter(course_id=course_id, table_id__isnull=False)
        .exclude(status=SessionStatus.UPCOMING)
        .values("table_id", "user_id")
        .annotate(talk_ms=Sum("talk_ms"), score=Avg("engagement_score"), sessions=Count("id"))
        .order_by("table_id", "user_id")
    )
    names = _names(r["user_id"] for r in rows)
    table_names = tables_of_course(course_id)
    tables: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        tables[row["table_id"]].append(row)
    view = []
    for table_id, members in tables.items():
        total = sum(m["talk_ms"] for m in members)
        sessions = sum(m["sessions"] for m in members)
        view.append(
            {
                "table_id": table_id,
                "name": table_names.get(table_id, ""),
                "talk_ms": total,
                "equity": rollups.equity_index(m["talk_ms"] for m in members),
                "engagement_score": round(
                    sum(m["score"] * m["sessions"] for m in members) / sessions, 1
                ),
                "members": [
                    {
                        "user_id": m["user_id"],
                        "name": names.get(m["user_id"], ""),
                        "talk_ms": m["talk_ms"],
                        "talk_share": round(m["talk_ms"] / total, 3) if total else None,
                        "engagement_score": round(m["score"], 1),
                    }
                    for m in members
                ],
            }
        )
    return view


TIMELINE_LIMIT = 500


def learner_timeline_get(course_id: int, user_id: int, *, limit: int = TIMELINE_LIMIT) -> dict:
    """One learner's drill-down: their row per session and recording and
    the latest events of everything they did (the raw log, newest first)."""
    events = (
        event_list(course_id=course_id, actor_id=user_id)
        .order_by("-occurred_at", "-id")
        .values(
            "id",
            "occurred_at",
            "verb",
            "mode",
            "object_type",
            "object_id",
            "live_session_id",
            "recording_id",
            "media_time_ms",
            "success",
            "duration_ms",
        )[:limit]
    )
    return {
        "user": {"id": user_id, "name": _names([user_id]).get(user_id, "")},
        "course": course_rollup_get(course_id, user_id),
        "sessions": _session_rows(course_id, user_id),
        "recordings": _recording_rows(course_id, user_id),
        "events": list(events),
    }


def _session_rows(course_id: int, user_id: int) -> list[dict]:
    infos = sources.sessions_info(course_id=course_id)
    rows = list(
        SessionRollup.objects.filter(course_id=course_id, user_id=user_id)
        .order_by("session_start", "live_session_id")
        .values("live_session_id", "session_start", *SESSION_ROW_FIELDS)
    )
    for row in rows:
        info = infos.get(row["live_session_id"])
        row["title"] = info.title if info else ""
    return rows


def _recording_rows(course_id: int, user_id: int) -> list[dict]:
    return list(
        RecordingRollup.objects.filter(course_id=course_id, user_id=user_id)
        .order_by("recording_id")
        .values(
            "recording_id",
            "live_session_id",
            "length_ms",
            "watched_ms",
            "watch_percent",
            "completed",
            "completed_at",
            "polls_answered",
            "polls_correct",
            "notes",
            "comments",
            "last_activity_at",
        )
    )


def course_rollup_get(course_id: int, user_id: int) -> dict | None:
    return CourseRollup.objects.filter(course_id=course_id, user_id=user_id).values().first()


def learner_progress_get(user_id: int, course_id: int) -> dict:
    """A learner's own progress: their sessions, recordings, reviews and
    their own trend (each session against their earlier mean). Never a
    classmate's name or number."""
    sessions = _session_rows(course_id, user_id)
    held = [s for s in sessions if s["status"] != SessionStatus.UPCOMING]
    trend = []
    for index, row in enumerate(held):
        earlier = [s["engagement_score"] for s in held[:index]]
        trend.append(
            {
                "session_id": row["live_session_id"],
                "title": row["title"],
                "score": row["engagement_score"],
                "own_mean_before": round(statistics.mean(earlier), 1) if earlier else None,
            }
        )
    return {
        "course": course_rollup_get(course_id, user_id),
        "sessions": sessions,
        "recordings": _recording_rows(course_id, user_id),
        "trend": trend,
    }


def program_overview_get(program_id: int) -> dict:
    program = Program.objects.get(pk=program_id)
    courses = list(Course.objects.filter(programs=program).order_by("code", "term"))
    stats = {
        row["course_id"]: row
        for row in CourseRollup.objects.filter(course__in=courses)
        .values("course_id")
        .annotate(
            learners=Count("id"),
            attendance_percent=Avg("attendance_percent"),
            active_percent=Avg("active_percent"),
            engagement_score=Avg("engagement_score"),
            at_risk=Count("id", filter=~Q(risk_reasons=[])),
        )
    }
    rows = []
    for course in courses:
        row = stats.get(course.pk, {})
        rows.append(
            {
                "id": course.pk,
                "code": course.code,
                "term": course.term,
                "title": course.title,
                "learners": row.get("learners", 0),
                "attendance_percent": _round(row.get("attendance_percent")),
                "active_percent": _round(row.get("active_percent")),
                "engagement_score": _round(row.get("engagement_score")),
                "at_risk": row.get("at_risk", 0),
            }
        )
    return {"program": {"id": program.pk, "name": program.name}, "courses": rows}


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


# --- during a session ---------------------------------------------------------------------------


def live_engagement_get(session_id: int, *, now: datetime | None = None) -> dict:
    """The console's panel: who (present now) has done nothing for 10
    minutes, tables whose talk is dominated by one person, the open polls'
    answer rates. Reads the last 10 minutes of the log and the open
    attendance rows."""
    now = now or timezone.now()
    info = sources.sessions_info(session_ids=[session_id])[session_id]
    learners = set(sources.learner_ids(info.course_id))
    present = (
        set(
            Attendance.objects.filter(session_id=session_id, left_at__isnull=True).values_list(
                "user_id", flat=True
            )
        )
        & learners
    )
    since = now - timedelta(minutes=SILENT_MINUTES)
    recent = session_events_list(
        session_id,
        verbs=[*rollups.LIVE_ACTS, "spoke"],
        mode="live",
        since=since,
        with_actor=True,
    ).values_list("actor_id", "verb", "duration_ms")
    active: set[int] = set()
    for actor, verb, duration in recent:
        if verb != "spoke" or (duration or 0) >= rollups.TALK_THRESHOLD_MS:
            active.add(actor)
    joined = dict(
        Attendance.objects.filter(session_id=session_id, user_id__in=present)
        .values("user_id")
        .annotate(first=Min("joined_at"))
        .values_list("user_id", "first")
    )
    silent = sorted(u for u in present - active if joined.get(u) and joined[u] <= since)
    talk = defaultdict(int)
    for actor, duration in session_events_list(
        session_id, verbs=["spoke"], mode="live", with_actor=True
    ).values_list("actor_id", "duration_ms"):
        talk[actor] += duration or 0
    seats = _seats(info, present)
    rows = [
        {"user_id": u, "table_id": seats.get(u), "present_ms": 1, "talk_ms": talk.get(u, 0)}
        for u in present
    ]
    tables = table_balance(rows)
    table_names = tables_of_course(info.course_id)
    names = _names(set(silent) | {t["dominated_by"] for t in tables if t["dominated_by"]})
    polls = []
    for poll in Poll.objects.filter(session_id=session_id, state=PollState.OPEN).annotate(
        answered=Count("responses")
    ):
        answered = poll.answered
        polls.append(
            {
                "id": poll.pk,
                "prompt": poll.prompt,
                "answered": answered,
                "present": len(present),
                "answer_percent": _percent(answered, len(present)),
            }
        )
    return {
        "at": now,
        "present": len(present),
        "silent": [{"user_id": u, "name": names.get(u, "")} for u in silent],
        "dominated_tables": [
            {
                "table_id": t["table_id"],
                "name": table_names.get(t["table_id"], ""),
                "user_id": t["dominated_by"],
                "user": names.get(t["dominated_by"], ""),
                "share": round(t["shares"][t["dominated_by"]], 3),
            }
            for t in tables
            if t["dominated_by"]
        ],
        "tables": [
            {"table_id": t["table_id"], "talk_ms": t["talk_ms"], "equity": t["equity"]}
            for t in tables
        ],
        "polls": polls,
    }


def _seats(info, user_ids) -> dict[int, int]:
    found = {}
    for table in seat_map_get(course_id=info.course_id):
        for member in table["members"]:
            if member["id"] in user_ids:
                found[member["id"]] = table["id"]
    return found
