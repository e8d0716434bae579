"""Assignment and Grade Services 2.0: grade passback to the LMS gradebook.

Staff choose per LMS context what is sent (GradebookSetting): attendance,
participation and quiz score per live session, completion per recording. The
scores are read through classroom/gradebook.py and playback/gradebook.py
(docs/lms.md defines them) and sent as a percentage (scoreMaximum 100).

`grades_push(context=)` first makes the line items match the choice (created
by the tool in the context's line-items container, relabelled with PUT,
deleted when no longer wanted; a deep link's lineItem, stored on the resource
link, is used instead of creating one, and never deleted), then sends every
score that changed since it was last sent, each with `activityProgress:
Completed`, `gradingProgress: FullyGraded` and a timestamp strictly after the
previous one for that (line item, user). ScoreSend is the idempotency record:
written `pending` before the POST, `sent` after, so an unchanged score is
never sent again and a re-send after a killed worker only repeats the same
value with a newer timestamp. One push per context at a time (a PostgreSQL
session advisory lock, released if the worker dies)."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.db import connection, transaction
from django.utils import timezone

from classroom import hooks as classroom_hooks
from classroom.gradebook import (
    session_attendance_scores,
    session_participation_scores,
    session_quiz_scores,
    session_scores_ready,
)
from classroom.models import SessionState
from classroom.selectors import live_session_list
from courses.models import Role
from lti import claims as C
from lti.client import ServiceError, service_request
from lti.errors import LtiError
from lti.models import (
    GradebookSetting,
    GradeKind,
    LineItem,
    LtiContext,
    LtiIdentity,
    LtiResourceLink,
    ScoreSend,
)
from playback.gradebook import (
    recording_completion_scores,
    recording_list_for_gradebook,
    recording_scores_ready,
)

log = logging.getLogger("lti")

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
SCORE_MAXIMUM = 100.0
SESSION_KINDS = (GradeKind.ATTENDANCE, GradeKind.PARTICIPATION, GradeKind.QUIZ, GradeKind.REVIEW)
SETTING_NAMES = ("attendance", "participation", "quiz", "playback", "review")
LABELS = {
    GradeKind.ATTENDANCE: "Attendance: {title}",
    GradeKind.PARTICIPATION: "Participation: {title}",
    GradeKind.QUIZ: "Quiz: {title}",
    GradeKind.PLAYBACK: "Watched: {title}",
    GradeKind.REVIEW: "Review: {title}",
}


def review_available() -> bool:
    """Review completion is offered when an app (reinforcement) grades it."""
    return bool(classroom_hooks.session_review_scores.functions)


@dataclass
class PushReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    busy: bool = False

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": self.errors[:20],
            "busy": self.busy,
        }


def gradebook_setting_get(*, context: LtiContext) -> GradebookSetting:
    setting, _ = GradebookSetting.objects.get_or_create(context=context)
    return setting


def gradebook_setting_update(*, context: LtiContext, **flags: bool) -> GradebookSetting:
    unknown = set(flags) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"unknown gradebook settings {sorted(unknown)}")
    setting = gradebook_setting_get(context=context)
    for name, value in flags.items():
        setattr(setting, name, bool(value))
    setting.save()
    return setting


def _scores_allowed(context: LtiContext) -> None:
    if not context.lineitems_url:
        raise LtiError(
            "The LMS did not give a line-items URL for this course (Assignment and Grade "
            "Services is not enabled for the tool).",
            code="lti_no_ags",
            status=409,
        )
    missing = {C.SCOPE_LINEITEM, C.SCOPE_SCORE} - set(context.ags_scopes or [])
    if missing:
        raise LtiError(
            f"The LMS did not grant the tool the scopes {sorted(missing)} for this course.",
            code="lti_ags_scope",
            status=409,
        )


def _wanted(context: LtiContext, setting: GradebookSetting) -> dict[tuple[str, int], str]:
    """(kind, object id) → label, for what staff chose."""
    wanted: dict[tuple[str, int], str] = {}
    session_kinds = [k for k in SESSION_KINDS if getattr(setting, k)]
    if not review_available() and GradeKind.REVIEW in session_kinds:
        session_kinds.remove(GradeKind.REVIEW)
    if session_kinds:
        sessions = live_session_list(course=context.course).exclude(state=SessionState.CANCELLED)
        for session in sessions:
            for kind in session_kinds:
                wanted[(kind, session.pk)] = LABELS[kind].format(title=session.title)[:255]
    if setting.playback:
        for recording in recording_list_for_gradebook(course=context.course):
            wanted[(GradeKind.PLAYBACK, recording.pk)] = LABELS[GradeKind.PLAYBACK].format(
                title=recording.title
            )[:255]
    return wanted


def _deep_linked(context: LtiContext) -> dict[tuple[str, int], str]:
    """Line items the platform made from our deep links: (kind, id) → URL. A
    session's column carries its attendance score, a recording's its completion."""
    found: dict[tuple[str, int], str] = {}
    for link in LtiResourceLink.objects.filter(context=context).exclude(lineitem_url=""):
        custom = link.custom or {}
        session_id = str(custom.get("roundtable_session_id", ""))
        recording_id = str(custom.get("roundtable_recording_id", ""))
        if session_id.isdigit():
            found[(GradeKind.ATTENDANCE, int(session_id))] = link.lineitem_url
        elif recording_id.isdigit():
            found[(GradeKind.PLAYBACK, int(recording_id))] = link.lineitem_url
    return found


def _call(context, scope, method, url, accept, content_type="", payload=None):
    return service_request(
        registration=context.deployment.registration,
        scopes=[scope],
        method=method,
        url=url,
        accept=accept,
        content_type=content_type,
        payload=payload,
    )


def line_items_sync(*, context: LtiContext, report: PushReport | None = None) -> PushReport:
    """Create, relabel and delete line items to match the gradebook setting."""
    report = report or PushReport()
    _scores_allowed(context)
    setting = gradebook_setting_get(context=context)
    wanted = _wanted(context, setting)
    existing = {(li.kind, li.object_id): li for li in LineItem.objects.filter(context=context)}
    linked = _deep_linked(context)
    for key, label in wanted.items():
        item = existing.get(key)
        kind, object_id = key
        body = {
            "scoreMaximum": SCORE_MAXIMUM,
            "label": label,
            "resourceId": f"{kind}:{object_id}",
            "tag": str(kind),
        }
        try:
            if item is None and key in linked:
                LineItem.objects.create(
                    context=context,
                    kind=kind,
                    object_id=object_id,
                    url=linked[key],
                    label=label,
                    owned=False,
                )
            elif item is None:
                answer = _call(
                    context,
                    C.SCOPE_LINEITEM,
                    "POST",
                    context.lineitems_url,
                    LINEITEM_TYPE,
                    LINEITEM_TYPE,
                    body,
                )
                url = answer.body.get("id") if isinstance(answer.body, dict) else None
                if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                    raise ServiceError("The platform's new line item has no id URL.")
                LineItem.objects.create(
                    context=context, kind=kind, object_id=object_id, url=url[:1000], label=label
                )
                report.created += 1
            elif item.owned and item.label != label:
                _call(
                    context, C.SCOPE_LINEITEM, "PUT", item.url, LINEITEM_TYPE, LINEITEM_TYPE, body
                )
                item.label = label
                item.save(update_fields=["label", "updated_at"])
                report.updated += 1
        except ServiceError as error:
            report.failed += 1
            report.errors.append(f"line item {label!r}: {error.reason}")
    for key, item in existing.items():
        if key in wanted:
            continue
        try:
            if item.owned:
                try:
                    _call(context, C.SCOPE_LINEITEM, "DELETE", item.url, LINEITEM_TYPE)
                except ServiceError as error:
                    if error.http_status != 404:  # gone already: fine
                        raise
            item.delete()
            report.deleted += 1
        except ServiceError as error:
            report.failed += 1
            report.errors.append(f"deleting {item.label!r}: {error.reason}")
    return report


def _learners(context: LtiContext) -> dict[int, str]:
    """Active learners of the course who came from this platform: user id → sub."""
    issuer = context.deployment.registration.issuer
    return dict(
        LtiIdentity.objects.filter(
            issuer=issuer,
            user__enrollments__course=context.course,
            user__enrollments__is_active=True,
            user__enrollments__role=Role.LEARNER,
        ).values_list("user_id", "sub")
    )


def _scores_for(item: LineItem, learners: dict[int, str]) -> dict[int, float]:
    """user id → score in [0, 1] for the learners who have one now."""
    from classroom.models import LiveSession
    from playback.models import Recording

    if item.kind == GradeKind.PLAYBACK:
        recording = Recording.objects.filter(pk=item.object_id).first()
        if recording is None or not recording_scores_ready(recording=recording):
            return {}
        scores = recording_completion_scores(recording=recording)
        return {u: s for u, s in scores.items() if u in learners}
    session = LiveSession.objects.filter(pk=item.object_id).first()
    if session is None or not session_scores_ready(session=session):
        return {}
    if item.kind == GradeKind.REVIEW:
        merged: dict[int, float] = {}
        for scores in classroom_hooks.session_review_scores(
            session=session, learner_ids=set(learners)
        ):
            merged.update(scores or {})
        # Only learners with a review result (none until the follow-up was sent).
        return {u: s for u, s in merged.items() if u in learners}
    if item.kind == GradeKind.QUIZ:
        scores = session_quiz_scores(session=session, learner_ids=set(learners)) or {}
    elif item.kind == GradeKind.PARTICIPATION:
        scores = session_participation_scores(session=session)
    else:
        scores = session_attendance_scores(session=session)
    # An ended session: a learner with no trace was absent (0).
    return {u: scores.get(u, 0.0) for u in learners}


def scores_url(lineitem_url: str) -> str:
    """{line item URL}/scores, keeping its query string (AGS 2.0 §3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _timestamp(previous):
    now = timezone.now()
    if previous is not None and now <= previous:
        now = previous + timedelta(milliseconds=1)
    return now


def score_send(
    *, context: LtiContext, item: LineItem, user_id: int, sub: str, given: float
) -> ScoreSend:
    """Send one score; the ScoreSend row says what happened."""
    with transaction.atomic():
        record = (
            ScoreSend.objects.select_for_update().filter(line_item=item, user_id=user_id).first()
        )
        stamp = _timestamp(record.timestamp if record else None)
        if record is None:
            record = ScoreSend(line_item=item, user_id=user_id)
        record.sub = sub
        record.score_given, record.score_maximum = given, SCORE_MAXIMUM
        record.timestamp, record.status = stamp, ScoreSend.Status.PENDING
        record.attempts += 1
        record.save()
    payload = {
        "userId": sub,
        "scoreGiven": given,
        "scoreMaximum": SCORE_MAXIMUM,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        _call(
            context,
            C.SCOPE_SCORE,
            "POST",
            scores_url(item.url),
            "application/json",
            SCORE_TYPE,
            payload,
        )
    except ServiceError as error:
        ScoreSend.objects.filter(pk=record.pk).update(
            status=ScoreSend.Status.FAILED, error=error.reason[:2000]
        )
        record.status, record.error = ScoreSend.Status.FAILED, error.reason
        return record
    now = timezone.now()
    ScoreSend.objects.filter(pk=record.pk).update(
        status=ScoreSend.Status.SENT, error="", sent_at=now
    )
    record.status, record.error, record.sent_at = ScoreSend.Status.SENT, "", now
    return record


def scores_push(*, context: LtiContext, report: PushReport | None = None) -> PushReport:
    report = report or PushReport()
    learners = _learners(context)
    for item in LineItem.objects.filter(context=context).order_by("id"):
        scores = _scores_for(item, learners)
        if not scores:
            continue
        stored = {s.user_id: s for s in ScoreSend.objects.filter(line_item=item)}
        for user_id, fraction in scores.items():
            given = round(fraction * SCORE_MAXIMUM, 2)
            previous = stored.get(user_id)
            if (
                previous is not None
                and previous.status == ScoreSend.Status.SENT
                and previous.score_given == given
                and previous.sub == learners[user_id]
            ):
                report.skipped += 1
                continue
            record = score_send(
                context=context, item=item, user_id=user_id, sub=learners[user_id], given=given
            )
            if record.status == ScoreSend.Status.SENT:
                report.sent += 1
            else:
                report.failed += 1
                report.errors.append(f"{item.label} / {record.sub}: {record.error[:200]}")
    return report


def _lock_key(context: LtiContext) -> int:
    return zlib.crc32(f"lti-grades:{context.pk}".encode())


@contextmanager
def _push_lock(context: LtiContext) -> Iterator[bool]:
    """True while this caller holds the context's push lock, False if another
    push holds it: a PostgreSQL advisory lock (every process and worker), or
    on the embedded SQLite default (one process) a lock of this process."""
    key = _lock_key(context)
    if connection.vendor != "postgresql":
        with _LOCAL_PUSHES_LOCK:
            locked = key not in _LOCAL_PUSHES
            _LOCAL_PUSHES.add(key)
        try:
            yield locked
        finally:
            if locked:
                with _LOCAL_PUSHES_LOCK:
                    _LOCAL_PUSHES.discard(key)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (locked,) = cursor.fetchone()
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


_LOCAL_PUSHES: set[int] = set()
_LOCAL_PUSHES_LOCK = threading.Lock()


def grades_push(*, context: LtiContext) -> PushReport:
    """Line items, then changed scores; one push per context at a time."""
    report = PushReport()
    _scores_allowed(context)
    with _push_lock(context) as locked:
        if not locked:
            report.busy = True
            return report
        line_items_sync(context=context, report=report)
        scores_push(context=context, report=report)
    if report.failed:
        log.warning("lti: grade push of context %s: %s failure(s)", context.pk, report.failed)
    return report
