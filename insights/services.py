"""Keeping the rollups up to date: the incremental job, a session's
finalisation and a course's rebuild (docs/analytics.md#rollups)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.models import LearningEvent
from insights import rollups, sources
from insights.models import Bookmark, CourseRollup, RecordingRollup, SessionRollup

ROLLUP_BOOKMARK = "rollups"
BATCH = 50_000
GAP_PATIENCE = timedelta(minutes=10)  # a missing id not seen by then was rolled back
PROGRESS_MARGIN = timedelta(seconds=5)
MAX_GAPS = 10_000
FIELDS = (
    "id",
    "course_id",
    "live_session_id",
    "recording_id",
    "actor_id",
    "verb",
    "object_id",
    "occurred_at",
)
# Events that change who has rollups in a course (their object is the user).
MEMBERSHIP_VERBS = ("enrolled", "unenrolled")
# Events that change a recording for all its viewers (trim, completion threshold).
RECORDING_WIDE_VERBS = ("configured",)


def _bookmark(name: str) -> Bookmark:
    Bookmark.objects.get_or_create(name=name)
    return Bookmark.objects.select_for_update().get(name=name)


def rollups_update(*, batch: int = BATCH) -> dict:
    """Read the log past the bookmark and recompute the keys the new events
    touch (plus the progress rows written since the last run). Safe to run
    twice, concurrently (the bookmark row is locked) or after a crash: every
    recomputation is idempotent. Returns what was done."""
    with transaction.atomic():
        bookmark = _bookmark(ROLLUP_BOOKMARK)
        run_at = timezone.now()
        since = bookmark.last_run_at
        start = bookmark.last_event_id
        events = list(
            LearningEvent.objects.filter(id__gt=start).order_by("id").values_list(*FIELDS)[:batch]
        )
        gap_ids = [int(key) for key in bookmark.gaps]
        if gap_ids:
            events += list(LearningEvent.objects.filter(id__in=gap_ids).values_list(*FIELDS))
        sessions: set[int] = set()
        recordings: dict[int, set[int]] = defaultdict(set)
        courses: dict[int, set[int]] = defaultdict(set)
        members: dict[int, set[int]] = defaultdict(set)
        whole_recordings: set[int] = set()
        seats: dict[int, dict[int, datetime]] = defaultdict(dict)
        for _id, course, session, recording, actor, verb, object_id, at in events:
            if course is not None and verb in MEMBERSHIP_VERBS and object_id.isdigit():
                members[course].add(int(object_id))
            if course is not None and verb == "seated" and actor is not None:
                first = seats[course].get(actor)
                seats[course][actor] = at if first is None else min(first, at)
            if session is not None:
                sessions.add(session)
            if recording is not None and verb in RECORDING_WIDE_VERBS:
                whole_recordings.add(recording)
            elif recording is not None and actor is not None:
                recordings[recording].add(actor)
            if course is not None and actor is not None:
                courses[course].add(actor)
        if since is not None:
            for recording, user in sources.watch_progress_changed(since - PROGRESS_MARGIN):
                recordings[recording].add(user)
            # Review cards fall due (and overdue) with time alone, no event.
            for course, user in sources.review_due_changed(since, run_at):
                courses[course].add(user)
        for recording in whole_recordings:
            # Its bounds or threshold changed: every viewer's share may have.
            users = rollups.recording_viewers(recording)
            recordings[recording] |= users
        counts = _apply(sessions, recordings, courses)
        for course, users in members.items():
            rollups.learners_refresh(course, users)
        for course, moved in seats.items():
            rollups.learners_refresh(course, moved, since=min(moved.values()))
        seen = {row[0] for row in events}
        new_last = max([start, *seen]) if seen else start
        gaps = {
            key: first
            for key, first in bookmark.gaps.items()
            if int(key) not in seen and run_at - parse_datetime(first) < GAP_PATIENCE
        }
        present = {row[0] for row in events if row[0] > start}
        # Ids jumped over may belong to transactions still open. The first run
        # (start 0) and a sequence that leapt far ahead record none.
        if start and 0 < new_last - start <= len(present) + MAX_GAPS:
            for missing in range(start + 1, new_last):
                if missing not in present and len(gaps) < MAX_GAPS:
                    gaps[str(missing)] = run_at.isoformat()
        bookmark.last_event_id = new_last
        bookmark.gaps = gaps
        bookmark.processed += len(events)
        bookmark.last_run_at = run_at
        bookmark.last_success_at = run_at
        bookmark.save()
    return {"events": len(events), "last_event_id": new_last, **counts}


def _apply(sessions, recordings, courses) -> dict:
    for recording, users in recordings.items():
        rollups.recording_refresh(recording, users)
    # A recording's session shows what was watched: recompute it too.
    info = sources.recordings_info(recording_ids=list(recordings))
    sessions |= {r.live_session_id for r in info.values() if r.live_session_id}
    for session in sorted(sessions):
        course = rollups.session_refresh(session)
        if course is not None:
            # The session's status changed for everyone (held, ended).
            courses[course] |= set(sources.learner_ids(course))
    for recording in info.values():
        courses[recording.course_id] |= recordings[recording.id]
    for course, users in courses.items():
        rollups.course_refresh(course, users)
    return {
        "sessions": len(sessions),
        "recordings": len(recordings),
        "learners": sum(len(u) for u in courses.values()),
    }


def rollups_session_finalise(*, session_id: int) -> None:
    """The session ended: recompute it as final (its end is now fixed)."""
    with transaction.atomic():
        course = rollups.session_refresh(session_id)
        if course is not None:
            rollups.course_refresh(course)


def rollups_course_rebuild(*, course_id: int) -> dict:
    """Throw away and recompute every rollup of one course from the log."""
    with transaction.atomic():
        SessionRollup.objects.filter(course_id=course_id).delete()
        RecordingRollup.objects.filter(course_id=course_id).delete()
        CourseRollup.objects.filter(course_id=course_id).delete()
        recordings = sources.recordings_info(course_id=course_id)
        for recording in recordings:
            rollups.recording_refresh(recording)
        sessions = sources.sessions_info(course_id=course_id)
        for session in sessions:
            rollups.session_refresh(session)
        rollups.course_refresh(course_id)
    return {"sessions": len(sessions), "recordings": len(recordings)}
