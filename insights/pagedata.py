"""What the insights pages show, shaped for their templates and scripts.

The numbers come from the rollups, read through insights/selectors.py (their
definitions are in docs/analytics.md); this module only arranges them for
the pages: charts with their data tables, medians, filters applied to lists,
labels, and the console panel's strings. It computes no measure of its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from django.core.paginator import Paginator
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from classroom.models import Poll
from classroom.selectors import poll_results_get, seat_map_get
from courses.models import STAFF_ROLES, Course, Enrollment, Program, Role
from courses.selectors import course_list_for_user
from insights import selectors
from playback.models import Recording

# The console panel: who has been silent this long, and a table whose top
# talker holds at least this share of its talk (docs/analytics.md, "Pages").
SILENT_WINDOW_MINUTES = selectors.SILENT_MINUTES
DOMINANCE_PERCENT = round(100 * selectors.DOMINANCE_SHARE)

LIVE_PANEL_STRINGS = {
    "updated": _("Updated at {time}."),
    "summary": _("{present} learners here now."),
    "no_table": _("no table"),
    "silent_none": _("Everyone present has taken part recently."),
    "nobody_present": _("No learner is here yet."),
    "dominated_by": _("{name} holds {share}% of the talk"),
    "dominated_none": _(
        "No table of three or more has one person holding {share}% or more of its talk."
    ),
    "poll_rate": _("{answered} of {present} here answered · {rate}%"),
    "failed": _("Could not refresh the measures ({message}). Trying again shortly."),
    "error": _("Something went wrong."),
}


def median(values: Iterable[float | int | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def chart_build(
    *,
    chart_id: str,
    title: str,
    summary: str,
    x_label: str,
    labels: Sequence[str],
    datasets: Sequence[dict],
    unit: str = "",
    y_label: str = "",
    y_max: float | None = None,
    kind: str = "line",
    stacked: bool = False,
) -> dict:
    """A chart for templates/insights/_chart.html: the JSON its script draws
    (`spec`) and the same numbers as table rows, so the data table and the
    canvas can never disagree."""
    spec = {
        "type": kind,
        "labels": list(labels),
        "datasets": [{"label": str(d["label"]), "data": list(d["data"])} for d in datasets],
        "unit": unit,
        "y_label": str(y_label),
        "y_max": y_max,
        "stacked": stacked,
    }
    rows = [
        {
            "label": label,
            "values": [_cell(dataset["data"][index], unit) for dataset in spec["datasets"]],
        }
        for index, label in enumerate(spec["labels"])
    ]
    return {
        "id": chart_id,
        "title": title,
        "summary": summary,
        "x_label": x_label,
        "spec": spec,
        "rows": rows,
        "is_empty": not spec["labels"],
    }


def _cell(value, unit: str) -> str:
    if value is None:
        return "—"
    number = round(float(value), 1)
    text = f"{number:g}"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".strip()


# --- shared shapes ------------------------------------------------------------------------------

STATUS_LABELS = {
    "present": _("Present"),
    "watched_later": _("Watched later"),
    "absent": _("Absent, not caught up"),
    "upcoming": _("Not held yet"),
}
# A symbol beside the colour (never colour alone), hidden from screen readers,
# which read the label.
STATUS_SYMBOLS = {"present": "✓", "watched_later": "▶", "absent": "✕", "upcoming": "·"}
FOLLOW_UP_LABELS = {
    "absent": _("Absent and has not watched the recording"),
    "present_but_silent": _("Present but took no part"),
    "low_engagement": _("Engagement under half the class median"),
}
VERB_LABELS = {
    "joined": _("Joined the live session"),
    "left": _("Left the live session"),
    "chatted": _("Sent a chat message"),
    "asked": _("Asked a question"),
    "upvoted": _("Upvoted a question"),
    "reacted": _("Reacted"),
    "raised_hand": _("Raised a hand"),
    "answered": _("Answered a poll"),
    "spoke": _("Spoke"),
    "seated": _("Was seated at a table"),
    "set_away": _("Stepped away"),
    "returned": _("Came back"),
    "played": _("Played the recording"),
    "paused": _("Paused the recording"),
    "seeked": _("Jumped in the recording"),
    "completed": _("Completed the recording"),
    "noted": _("Took a note"),
    "edited_note": _("Edited a note"),
    "deleted_note": _("Deleted a note"),
    "commented": _("Commented on the recording"),
    "changed_rate": _("Changed the playback speed"),
    "requested_help": _("Asked for help for the table"),
    "enrolled": _("Was enrolled"),
}
TIMELINE_PAGE_SIZE = 50


def minutes(ms: int | float | None) -> float | None:
    return None if ms is None else round(ms / 60_000, 1)


def clock(ms: int | float) -> str:
    """Milliseconds as m:ss (or h:mm:ss)."""
    seconds = int(round((ms or 0) / 1000))
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"


def percent_of(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def status_cell(status: str | None) -> dict:
    status = status or "upcoming"
    return {
        "status": status,
        "label": STATUS_LABELS.get(status, status),
        "symbol": STATUS_SYMBOLS.get(status, "·"),
    }


# --- the hub ------------------------------------------------------------------------------------


def insights_home_get(*, user) -> dict:
    teaching, learning = [], []
    for course in course_list_for_user(user=user):
        if course.viewer_role in STAFF_ROLES:
            teaching.append(course)
        elif course.viewer_role == Role.LEARNER:
            learning.append(course)
    if user.is_superuser:
        teaching = list(Course.objects.order_by("code", "term")[:200])
        programs = Program.objects.all()
    else:
        programs = Program.objects.filter(admins=user)
    return {
        "teaching": teaching,
        "learning": learning,
        "programs": list(programs.order_by("name")),
    }


def course_tables_list(*, course_id: int) -> list[dict]:
    return [
        {"id": table["id"], "name": table["name"]} for table in seat_map_get(course_id=course_id)
    ]


def is_course_learner(*, course_id: int, user_id: int) -> bool:
    return Enrollment.objects.filter(
        course_id=course_id, user_id=user_id, role=Role.LEARNER, is_active=True
    ).exists()


# --- the course dashboard -----------------------------------------------------------------------


def course_dashboard_page(
    *,
    course_id: int,
    matrix: dict,
    trends: list[dict],
    at_risk: list[dict],
    tables: list[dict],
    filters: dict,
) -> dict:
    sessions = matrix["sessions"]
    learners = []
    counts = {"present": 0, "watched_later": 0, "absent": 0}
    for learner in matrix["learners"]:
        by_session = {cell["session_id"]: cell for cell in learner["cells"]}
        cells = []
        for session in sessions:
            cell = by_session.get(session["id"])
            shown = status_cell(cell["status"] if cell else None)
            if cell and cell["status"] in counts:
                counts[cell["status"]] += 1
            if cell:
                shown["detail"] = _cell_detail(cell)
            cells.append(shown)
        learners.append({**learner, "cells": cells})
    graded = sum(counts.values())
    of_shown = (
        _("of the learner-sessions on this page")
        if matrix["pages"] > 1
        else _("of learner-sessions")
    )
    kpis = [
        {"label": _("Learners"), "value": matrix["total"]},
        {"label": _("Sessions held"), "value": sum(1 for s in sessions if s["held"])},
        {
            "label": _("Present live"),
            "value": _percent_text(percent_of(counts["present"], graded)),
            "sub": of_shown,
        },
        {
            "label": _("Watched later"),
            "value": _percent_text(percent_of(counts["watched_later"], graded)),
            "sub": of_shown,
        },
        {
            "label": _("Absent, not caught up"),
            "value": _percent_text(percent_of(counts["absent"], graded)),
            "sub": of_shown,
        },
        {"label": _("At risk"), "value": len(at_risk)},
    ]
    trend_chart = chart_build(
        chart_id="chart-trends",
        title=str(_("Per week, in percent of the learners of each session")),
        summary=str(
            _(
                "Line chart of weekly attendance, active share, watched-later share and poll "
                "answer rate, in percent; the table below has the numbers."
            )
        ),
        x_label=str(_("Week")),
        labels=[week["week"] for week in trends],
        datasets=[
            {"label": _("Attendance"), "data": [w["attendance_percent"] for w in trends]},
            {"label": _("Active"), "data": [w["active_percent"] for w in trends]},
            {"label": _("Watched later"), "data": [w["watched_later_percent"] for w in trends]},
            {"label": _("Polls answered"), "data": [w["poll_answer_percent"] for w in trends]},
        ],
        unit="%",
        y_label=str(_("Percent")),
        y_max=100,
    )
    if filters.get("table"):
        tables = [table for table in tables if table["table_id"] == filters["table"]]
    if filters.get("q"):
        needle = filters["q"].lower()
        at_risk = [row for row in at_risk if needle in row["name"].lower()]
    return {
        "sessions": [
            {**session, "index": index} for index, session in enumerate(sessions, start=1)
        ],
        "learners": learners,
        "legend": [
            status_cell(status) for status in ("present", "watched_later", "absent", "upcoming")
        ],
        "kpis": kpis,
        "charts": [trend_chart],
        "trend_chart": trend_chart,
        "trend_weeks": trends,
        "at_risk": at_risk,
        "tables": [
            {
                **table,
                "talk_minutes": minutes(table["talk_ms"]),
                "talk": clock(table["talk_ms"]),
                "members": [
                    {
                        **member,
                        "talk": clock(member["talk_ms"]),
                        "talk_percent": None
                        if member["talk_share"] is None
                        else round(100 * member["talk_share"]),
                    }
                    for member in table["members"]
                ],
            }
            for table in tables
        ],
        "is_filtered": bool(set(filters) - {"page", "per_page"}),
        "matrix_page": {
            "page": matrix["page"],
            "pages": matrix["pages"],
            "total": matrix["total"],
            "previous": matrix["page"] - 1 if matrix["page"] > 1 else None,
            "next": matrix["page"] + 1 if matrix["page"] < matrix["pages"] else None,
        },
    }


def _percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def _cell_detail(cell: dict) -> str:
    if cell["status"] == "present":
        return str(
            _("%(attendance)s%% of the session") % {"attendance": round(cell["attendance_percent"])}
        )
    if cell["status"] == "watched_later":
        return str(
            _("watched %(watched)s%% of the recording") % {"watched": round(cell["watch_percent"])}
        )
    return ""


# --- one learner (staff drill-down) --------------------------------------------------------------


def learner_timeline_page(*, timeline: dict, filters: dict, page: str | None) -> dict:
    events = timeline["events"]
    if filters.get("mode"):
        events = [e for e in events if e["mode"] == filters["mode"]]
    if filters.get("since"):
        events = [e for e in events if localtime(e["occurred_at"]).date() >= filters["since"]]
    if filters.get("until"):
        events = [e for e in events if localtime(e["occurred_at"]).date() <= filters["until"]]
    paginator = Paginator(events, TIMELINE_PAGE_SIZE)
    page_obj = paginator.get_page(page)
    days: list[dict] = []
    for event in page_obj.object_list:
        when = localtime(event["occurred_at"])
        if not days or days[-1]["date"] != when.date():
            days.append({"date": when.date(), "events": []})
        days[-1]["events"].append({**event, "at": when, "label": _event_label(event)})
    return {
        "learner": timeline["user"],
        "course_row": timeline["course"],
        "risk_labels": [
            selectors.RISK_LABELS.get(code, code)
            for code in (timeline["course"] or {}).get("risk_reasons", [])
        ],
        "kpis": _learner_kpis(timeline["course"]),
        "session_rows": [_session_row(row) for row in timeline["sessions"]],
        "recording_rows": _recording_rows(timeline["recordings"]),
        "days": days,
        "page_obj": page_obj,
        "event_total": len(events),
        "event_limit_reached": len(timeline["events"]) >= selectors.TIMELINE_LIMIT,
    }


def _event_label(event: dict) -> str:
    label = str(VERB_LABELS.get(event["verb"], event["verb"].replace("_", " ").capitalize()))
    if event["verb"] == "spoke" and event.get("duration_ms"):
        label += f" ({clock(event['duration_ms'])})"
    if event["verb"] == "answered" and event.get("success") is not None:
        label += " · " + str(_("right") if event["success"] else _("not right"))
    if event.get("media_time_ms") is not None and event["mode"] == "playback":
        label += " · " + str(_("at %(time)s") % {"time": clock(event["media_time_ms"])})
    return label


def _learner_kpis(row: dict | None) -> list[dict]:
    if not row:
        return []
    held = row["sessions_held"]
    return [
        {
            "label": _("Attendance"),
            "value": _percent_text(round(row["attendance_percent"], 1)),
            "sub": _("of scheduled time"),
        },
        {
            "label": _("Sessions present"),
            "value": f"{row['sessions_present']} / {held}",
            "sub": _("%(n)s watched later") % {"n": row["sessions_watched_later"]},
        },
        {
            "label": _("Active"),
            "value": _percent_text(round(row["active_percent"], 1)),
            "sub": _("of 10-minute windows"),
        },
        {
            "label": _("Quiz answers right"),
            "value": f"{row['polls_correct']} / {row['polls_graded']}",
            "sub": _("of %(n)s polls answered, live or later") % {"n": row["polls_answered"]},
        },
        {
            "label": _("Recordings completed"),
            "value": f"{row['recordings_completed']} / {row['recordings_started']}",
            "sub": _("%(m)s min watched") % {"m": minutes(row["watched_ms"])},
        },
        {
            "label": _("Reviews done"),
            "value": row["reviews_done"],
            "sub": _("%(n)s overdue") % {"n": row["cards_overdue"]}
            if row.get("cards_overdue") is not None
            else _("no review cards yet"),
        },
    ]


def _session_row(row: dict) -> dict:
    return {
        **row,
        "cell": status_cell(row["status"]),
        "present_minutes": minutes(row["present_ms"]),
        "talk": clock(row["talk_ms"]),
        "polls_text": f"{row['polls_answered'] + row.get('playback_polls_answered', 0)} / {row['polls_open']}",
        "quiz_text": (
            f"{row['polls_correct'] + row.get('playback_polls_correct', 0)} / "
            f"{row['polls_graded'] + row.get('playback_polls_graded', 0)}"
        )
        if row["polls_graded"] + row.get("playback_polls_graded", 0)
        else "—",
    }


def _recording_rows(rows: list[dict]) -> list[dict]:
    titles = dict(
        Recording.objects.filter(pk__in=[row["recording_id"] for row in rows]).values_list(
            "id", "title"
        )
    )
    return [{**_recording_row(row), "title": titles.get(row["recording_id"], "")} for row in rows]


def _recording_row(row: dict) -> dict:
    return {
        **row,
        "watched_minutes": minutes(row["watched_ms"]),
        "length_minutes": minutes(row["length_ms"]),
    }


# --- a learner's own progress --------------------------------------------------------------------


def my_progress_page(*, progress: dict) -> dict:
    """Only the learner's own numbers, compared with their own past."""
    sessions = [_session_row(row) for row in progress["sessions"]]
    held = [row for row in sessions if row["status"] != "upcoming"]
    trend = progress["trend"]
    labels = [_short_session_label(row) for row in held]
    chart = chart_build(
        chart_id="chart-my-sessions",
        title=str(_("Your sessions, one after another")),
        summary=str(
            _(
                "Line chart of your attendance and your engagement score per session, in "
                "percent; the table below has the numbers."
            )
        ),
        x_label=str(_("Session")),
        labels=labels,
        datasets=[
            {"label": _("Attendance"), "data": [round(r["attendance_percent"], 1) for r in held]},
            {"label": _("Engagement score"), "data": [t["score"] for t in trend]},
            {"label": _("Your average before"), "data": [t["own_mean_before"] for t in trend]},
        ],
        unit="%",
        y_label=str(_("Percent")),
        y_max=100,
    )
    comparison = None
    if len(trend) >= 2 and trend[-1]["own_mean_before"] is not None:
        last, before = trend[-1]["score"], trend[-1]["own_mean_before"]
        comparison = {
            "last": round(last, 1),
            "before": before,
            "direction": "up" if last > before + 1 else "down" if last < before - 1 else "same",
        }
    return {
        "kpis": _learner_kpis(progress["course"]),
        "course_row": progress["course"],
        "session_rows": sessions,
        "recording_rows": _recording_rows(progress["recordings"]),
        "charts": [chart],
        "chart": chart,
        "comparison": comparison,
    }


def _short_session_label(row: dict) -> str:
    start = row.get("session_start")
    day = date_format(localtime(start), "j M") if start else ""
    return f"{day} · {row['title']}" if day else row["title"]


# --- after a session -----------------------------------------------------------------------------


def session_report_page(*, report: dict) -> dict:
    session = report["session"]
    length = max(session["length_ms"], 1)
    learners = []
    for row in report["learners"]:
        spans = [
            {
                "left": round(100 * max(0, start) / length, 2),
                "width": round(100 * max(0, min(end, length) - max(0, start)) / length, 2),
                "text": f"{clock(start)}–{clock(end)}",
            }
            for start, end in row["intervals"]
            if end > start
        ]
        learners.append(
            {
                **row,
                "cell": status_cell(row["status"]),
                "spans": spans,
                "presence_text": ", ".join(span["text"] for span in spans)
                or str(_("not present live")),
                "present_minutes": minutes(row["present_ms"]),
                "talk": clock(row["talk_ms"]),
                "active_text": f"{row['windows_active']} / {row['windows_total']}",
                "polls_text": f"{row['polls_answered']} / {row['polls_open']}",
            }
        )
    learners.sort(key=lambda row: row["name"].lower())
    medians = report["medians"]
    present = [row for row in learners if row["present_ms"] > 0]
    polls = [_poll_summary(poll, present=len(present)) for poll in _with_correct(report["polls"])]
    tables = [
        {
            **table,
            "talk": clock(table["talk_ms"]),
            "equity_text": "—" if table["equity"] is None else f"{table['equity']:.2f}",
            "dominated_name": next(
                (r["name"] for r in learners if r["user_id"] == table["dominated_by"]), ""
            ),
            "top_share": round(100 * max((s or 0) for s in table["shares"].values()))
            if table["shares"]
            else None,
        }
        for table in report["tables"]
    ]
    chat_total = sum(row["messages"] for row in learners)
    kpis = [
        {
            "label": _("Present live"),
            "value": f"{len(present)} / {len(learners)}",
            "sub": _("%(n)s watched later")
            % {"n": sum(1 for r in learners if r["status"] == "watched_later")},
        },
        {
            "label": _("Median time present"),
            "value": f"{minutes(medians['present_ms']) or 0:g} min",
            "sub": _("of %(m)s min held") % {"m": minutes(session["length_ms"])},
        },
        {
            "label": _("Active"),
            "value": _percent_text(
                percent_of(sum(1 for r in present if r["windows_active"]), len(present))
            ),
            "sub": _("of learners present"),
        },
        {"label": _("Chat messages"), "value": chat_total},
        {"label": _("Questions"), "value": len(report["questions"])},
        {"label": _("Polls"), "value": len(polls)},
    ]
    return {
        "report_session": session,
        "kpis": kpis,
        "learners": learners,
        "medians": {
            "present_minutes": minutes(medians["present_ms"]),
            "attendance_percent": medians["attendance_percent"],
            "talk": clock(medians["talk_ms"]) if medians["talk_ms"] is not None else "—",
            "messages": medians["messages"],
            "windows_active": medians["windows_active"],
            "engagement_score": medians["engagement_score"],
        },
        "table_rows": tables,
        "table_median_talk": clock(median(t["talk_ms"] for t in tables) or 0),
        "polls": polls,
        "chat_peaks": report["chat_peaks"],
        "questions": report["questions"],
        "follow_up": [
            {**row, "label": FOLLOW_UP_LABELS.get(row["reason"], row["reason"])}
            for row in report["follow_up"]
        ],
        "axis": {
            "start": session["started_at"],
            "end": session["ended_at"] or session["started_at"],
        },
    }


def _with_correct(polls: list[dict]) -> list[dict]:
    """Staff see how many were right in a quiz before its results are
    published (the report's selector reads the learners' view of results)."""
    missing = [p["id"] for p in polls if p["is_quiz"] and "correct_count" not in p["results"]]
    if not missing:
        return polls
    correct = {
        poll.pk: poll_results_get(poll=poll, for_staff=True).get("correct_count")
        for poll in Poll.objects.filter(pk__in=missing).select_related("session")
    }
    return [
        {**p, "results": {**p["results"], "correct_count": correct[p["id"]]}}
        if p["id"] in correct
        else p
        for p in polls
    ]


def _poll_summary(poll: dict, *, present: int) -> dict:
    results = poll["results"]
    answered = results.get("responses", 0)
    correct = results.get("correct_count")
    return {
        **poll,
        "answered": answered,
        "answer_percent": percent_of(answered, present),
        "correct_percent": percent_of(correct, answered) if correct is not None else None,
    }


# --- programs ------------------------------------------------------------------------------------


def program_overview_page(*, overview: dict) -> dict:
    courses = overview["courses"]
    chart = chart_build(
        chart_id="chart-program",
        title=str(_("Attendance and activity per course")),
        summary=str(
            _(
                "Bar chart of each course's mean attendance and active share, in percent; the "
                "table below has the numbers."
            )
        ),
        x_label=str(_("Course")),
        labels=[course["code"] for course in courses],
        datasets=[
            {"label": _("Attendance"), "data": [c["attendance_percent"] for c in courses]},
            {"label": _("Active"), "data": [c["active_percent"] for c in courses]},
        ],
        unit="%",
        y_label=str(_("Percent")),
        y_max=100,
        kind="bar",
    )
    return {
        "courses": courses,
        "charts": [chart],
        "chart": chart,
        "kpis": [
            {"label": _("Courses"), "value": len(courses)},
            {"label": _("Learners"), "value": sum(c["learners"] for c in courses)},
            {"label": _("At risk"), "value": sum(c["at_risk"] for c in courses)},
        ],
    }
