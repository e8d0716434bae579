"""The page selectors on the hand-built history (tests/insights/conftest.py)."""

from __future__ import annotations

import pytest

from courses.models import Program
from insights import selectors
from insights.services import rollups_course_rebuild

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(history):
    rollups_course_rebuild(course_id=history.course.pk)
    return history


def test_session_report(built):
    report = selectors.session_report_get(built.session.pk)
    names = [row["name"] for row in report["learners"]]
    assert sorted(names) == ["Ana", "Ben", "Cid", "Dee"]
    # Present: Ana 43 min, Dee 50 min → median 46.5 min.
    assert report["medians"]["present_ms"] == 46.5 * 60_000
    (table,) = [t for t in report["tables"] if t["table_id"] == built.table.pk]
    assert table["talk_ms"] == 17_500
    # Ben missed it live but caught up: no follow-up.
    assert {f["name"]: f["reason"] for f in report["follow_up"]} == {"Cid": "absent"}
    assert [p["prompt"] for p in report["polls"]] == ["2+2?", "Mood?"]
    assert report["session"]["length_ms"] == 50 * 60_000


def test_course_matrix_marks_present_watched_later_absent(built):
    matrix = selectors.course_matrix_get(built.course.pk, {})
    cells = {row["name"]: row["cells"][0]["status"] for row in matrix["learners"]}
    assert cells == {"Ana": "present", "Ben": "watched_later", "Cid": "absent", "Dee": "present"}
    only_table = selectors.course_matrix_get(built.course.pk, {"table": str(built.table.pk)})
    assert [row["name"] for row in only_table["learners"]] == ["Ana", "Dee"]
    absent = selectors.course_matrix_get(built.course.pk, {"status": "absent"})
    assert [row["name"] for row in absent["learners"]] == ["Cid"]


def test_trends_per_week(built):
    (week,) = selectors.course_trends_get(built.course.pk)
    assert week["week"] == "2026-W10"
    assert week["present_percent"] == 50.0  # Ana and Dee of four
    assert week["watched_later_percent"] == 25.0
    assert week["poll_answer_percent"] == 50.0  # Ana live + Ben in playback, of 4 × 1 poll


def test_learner_progress_is_only_their_own(built):
    progress = selectors.learner_progress_get(built.ben.pk, built.course.pk)
    assert [s["status"] for s in progress["sessions"]] == ["watched_later"]
    text = str(progress)
    for other in ("Ana", "Cid", "Dee"):
        assert other not in text


def test_learner_timeline_lists_their_events_newest_first(built):
    timeline = selectors.learner_timeline_get(built.course.pk, built.ana.pk)
    verbs = [e["verb"] for e in timeline["events"]]
    assert verbs[0] == "spoke" and "seated" in verbs and len(verbs) == 9


def test_table_view_and_program_overview(built):
    (table,) = selectors.table_view_get(built.course.pk)
    assert table["talk_ms"] == 17_500 and table["equity"] == 0.814
    program = Program.objects.create(name="Science")
    program.courses.add(built.course)
    overview = selectors.program_overview_get(program.pk)
    assert overview["courses"][0]["learners"] == 4


def test_at_risk_after_two_absences(built, instructor):
    from tests.factories import LiveSessionFactory
    from tests.insights.conftest import at

    second = LiveSessionFactory(
        course=built.course,
        scheduled_start=at(7 * 24 * 60),
        scheduled_end=at(7 * 24 * 60 + 60),
        started_at=at(7 * 24 * 60),
        ended_at=at(7 * 24 * 60 + 60),
        state="ended",
    )
    assert second.pk
    rollups_course_rebuild(course_id=built.course.pk)
    risky = {
        row["name"]: [r["code"] for r in row["reasons"]]
        for row in selectors.at_risk_list(built.course.pk)
    }
    # Cid missed both; Ben caught up the first; Ana and Dee missed only the second.
    assert risky == {"Cid": ["absent_not_caught_up"]}


def test_cached_course_reads_follow_the_rollups(built):
    from insights.services import rollups_update

    assert selectors.course_trends_get(built.course.pk)[0]["present_percent"] == 50.0
    rollups_update()  # bookmark past the history
    built.record("joined", built.cid, 30)  # Cid turns out to have been there
    rollups_update()
    assert selectors.course_trends_get(built.course.pk)[0]["present_percent"] == 75.0
