"""Every write of recaps: build a session's recap from its stored sources,
staff edits, publish and unpublish. docs/recaps.md describes the contents.

The build reads only the layers below (classroom, playback, transcripts) and
stores a snapshot: a page view never recomputes it. It runs in the
`recaps.recap_build` task, started by hooks (recaps/hooks.py) when the session
ends, when the recording's timeline is built and when its transcript changes.
"""

from __future__ import annotations

import uuid
from collections import Counter

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from classroom.models import (
    Announcement,
    ChatChannel,
    ChatMessage,
    LiveSession,
    Poll,
    Question,
    SessionState,
)
from classroom.selectors import poll_results_get
from core.errors import ConflictError, ValidationError
from playback.models import Recording
from playback.selectors import chapters_get, media_offsets_ms, session_recordings_get
from questions.grading import has_correct_answer
from recaps import hooks as recap_hooks
from recaps.models import Recap, RecapStatus
from recaps.summarisers import TimedText, points_limit, summariser_get
from transcripts.selectors import transcript_cues, transcript_for

CHAT_BUCKET_MS = 60_000  # chat is counted per minute
CHAT_PEAKS = 3
CHAT_PEAK_MIN = 3  # a minute with fewer messages is not a peak
CHAT_SAMPLES = 3
ANSWER_WINDOW_MS = 90_000  # an answer is what was said in the 90 s before "answered"
ANSWER_MAX_CHARS = 600
POINT_TEXT_MAX = 500
NOTE_MAX = 4000
POINTS_MAX = 20


def moment_url(recording_id: int | None, media_ms: int | None) -> str:
    """The recording's page starting at that second ('' without a recording)."""
    if recording_id is None or media_ms is None:
        return ""
    return f"{reverse('recording-detail', args=[recording_id])}?t={max(0, int(media_ms)) // 1000}"


class _Clock:
    """Where a moment of the live session is: media ms of the recording, or
    (without one) ms since the session started."""

    def __init__(self, session: LiveSession, recording: Recording | None) -> None:
        self.session = session
        self.recording = recording

    def offsets(self, moments: list) -> list[int | None]:
        if not moments:
            return []
        if self.recording is not None:
            return media_offsets_ms(recording=self.recording, moments=moments)
        start = self.session.started_at
        if start is None:
            return [None] * len(moments)
        return [max(0, int((m - start).total_seconds() * 1000)) for m in moments]

    def url(self, media_ms: int | None) -> str:
        return moment_url(self.recording.pk if self.recording else None, media_ms)


def _name(user, *, anonymous: bool = False) -> str:
    if anonymous:
        return _("Anonymous")
    return user.name if user is not None else _("Someone")


def _option_texts(poll: Poll) -> dict[str, str]:
    return {option["id"]: option["text"] for option in poll.definition.get("options", [])}


def _right_answer(poll: Poll) -> str:
    """The right answer in words, '' when the poll has none."""
    definition = poll.definition
    if not has_correct_answer(poll.kind, definition):
        return ""
    if "correct" in definition:
        texts = _option_texts(poll)
        return "; ".join(texts.get(option_id, option_id) for option_id in definition["correct"])
    if definition.get("accepted"):
        return "; ".join(definition["accepted"])
    tolerance = definition.get("tolerance") or 0
    value = definition["correct_value"]
    return f"{value} (± {tolerance})" if tolerance else f"{value}"


def _poll_section(poll: Poll, offset: int | None, clock: _Clock) -> dict:
    results = poll_results_get(poll=poll, for_staff=True)
    total = results["responses"]
    distribution = results["distribution"]
    correct_ids = set(poll.definition.get("correct") or [])
    rows = []
    if "counts" in distribution and poll.definition.get("options"):
        for option in poll.definition["options"]:
            count = distribution["counts"].get(option["id"], 0)
            rows.append(
                {
                    "label": option["text"],
                    "count": count,
                    "percent": round(100 * count / total) if total else 0,
                    "correct": option["id"] in correct_ids,
                }
            )
    elif "counts" in distribution:  # rating
        for value, count in distribution["counts"].items():
            rows.append(
                {
                    "label": value,
                    "count": count,
                    "percent": round(100 * count / total) if total else 0,
                    "correct": False,
                }
            )
    elif "groups" in distribution:  # short text: the most common answers
        accepted = {a.casefold().strip() for a in poll.definition.get("accepted") or []}
        for group in distribution["groups"][:5]:
            rows.append(
                {
                    "label": group["text"],
                    "count": group["count"],
                    "percent": round(100 * group["count"] / total) if total else 0,
                    "correct": group["text"].casefold().strip() in accepted,
                }
            )
    summary = ""
    if poll.kind == "numeric" and distribution.get("median") is not None:
        summary = _("Median %(median)s, mean %(mean)s") % {
            "median": distribution["median"],
            "mean": distribution["mean"],
        }
    elif poll.kind == "rating" and distribution.get("mean") is not None:
        summary = _("Mean rating %(mean)s") % {"mean": distribution["mean"]}
    graded = poll.is_quiz and has_correct_answer(poll.kind, poll.definition)
    correct_count = results.get("correct_count") if graded else None
    return {
        "poll_id": poll.pk,
        "prompt": poll.prompt,
        "kind": poll.kind,
        "responses": total,
        "rows": rows,
        "summary": summary,
        "right_answer": _right_answer(poll),
        "graded": graded,
        "correct_count": correct_count,
        "percent_correct": round(100 * correct_count / total)
        if correct_count is not None and total
        else None,
        "offset_ms": offset,
        "url": clock.url(offset),
    }


def _answer_excerpt(cues: list, answered_ms: int | None, asked_ms: int | None) -> str:
    """What was said between the question and its 'answered' mark (at most
    the last 90 s before it): the spoken answer, from the transcript."""
    if answered_ms is None or not cues:
        return ""
    start = max(asked_ms or 0, answered_ms - ANSWER_WINDOW_MS)
    said = [cue.text.strip() for cue in cues if start <= cue.start_ms <= answered_ms]
    text = " ".join(" ".join(said).split())
    if len(text) > ANSWER_MAX_CHARS:
        text = "…" + text[-(ANSWER_MAX_CHARS - 1) :].split(" ", 1)[-1]
    return text


def _chat_peaks(session: LiveSession, clock: _Clock) -> list[dict]:
    """The minutes with the most chat (class and table channels; the staff
    channel is never counted), with a few class-channel lines of each."""
    messages = list(
        ChatMessage.objects.filter(session=session, deleted_at__isnull=True)
        .exclude(channel=ChatChannel.STAFF)
        .select_related("author")
        .order_by("created_at", "id")
    )
    offsets = clock.offsets([message.created_at for message in messages])
    buckets: Counter[int] = Counter()
    samples: dict[int, list[dict]] = {}
    for message, offset in zip(messages, offsets, strict=True):
        if offset is None:
            continue
        bucket = offset // CHAT_BUCKET_MS * CHAT_BUCKET_MS
        buckets[bucket] += 1
        if (
            message.channel == ChatChannel.CLASS
            and len(samples.setdefault(bucket, [])) < CHAT_SAMPLES
        ):
            samples[bucket].append({"author": _name(message.author), "body": message.body[:280]})
    peaks = [bucket for bucket, count in buckets.most_common() if count >= CHAT_PEAK_MIN][
        :CHAT_PEAKS
    ]
    return [
        {
            "start_ms": bucket,
            "end_ms": bucket + CHAT_BUCKET_MS,
            "messages": buckets[bucket],
            "samples": samples.get(bucket, []),
            "url": clock.url(bucket),
        }
        for bucket in sorted(peaks)
    ]


def recap_content_build(session: LiveSession, recording: Recording | None, cues: list) -> dict:
    """The computed sections of a session's recap (a JSON-ready dict)."""
    clock = _Clock(session, recording)
    chapters = []
    if recording is not None:
        for chapter in chapters_get(recording=recording):
            chapters.append(
                {
                    "title": chapter["title"],
                    "offset_ms": chapter["offset_ms"],
                    "url": clock.url(chapter["offset_ms"]),
                }
            )
    polls = list(
        Poll.objects.filter(session=session).select_related("session").order_by("opened_at", "id")
    )
    poll_offsets = clock.offsets([poll.opened_at for poll in polls])
    questions = list(
        Question.objects.filter(session=session, deleted_at__isnull=True)
        .select_related("author", "answered_by")
        .order_by("created_at", "id")
    )
    asked = clock.offsets([q.created_at for q in questions])
    answered = clock.offsets([q.answered_at or q.created_at for q in questions])
    question_rows = []
    for question, asked_ms, answered_ms in zip(questions, asked, answered, strict=True):
        is_answered = question.answered_at is not None
        question_rows.append(
            {
                "question_id": question.pk,
                "body": question.body,
                "author": _name(question.author, anonymous=question.is_anonymous),
                "upvotes": question.upvote_count,
                "answered": is_answered,
                "answered_by": _name(question.answered_by) if question.answered_by_id else "",
                "offset_ms": asked_ms,
                "url": clock.url(asked_ms),
                "answer_offset_ms": answered_ms if is_answered else None,
                "answer_url": clock.url(answered_ms) if is_answered else "",
                "answer_excerpt": _answer_excerpt(cues, answered_ms, asked_ms)
                if is_answered
                else "",
            }
        )
    announcements = list(
        Announcement.objects.filter(session=session)
        .select_related("author")
        .order_by("created_at", "id")
    )
    announced = clock.offsets([a.created_at for a in announcements])
    return {
        "has_recording": recording is not None,
        "recording_id": recording.pk if recording else None,
        "recording_title": recording.title if recording else "",
        "duration_ms": recording.duration_ms if recording else None,
        "chapters": chapters,
        "polls": [
            _poll_section(poll, offset, clock)
            for poll, offset in zip(polls, poll_offsets, strict=True)
        ],
        "questions": question_rows,
        "announcements": [
            {
                "body": a.body,
                "author": _name(a.author),
                "offset_ms": offset,
                "url": clock.url(offset),
            }
            for a, offset in zip(announcements, announced, strict=True)
        ],
        "chat_peaks": _chat_peaks(session, clock),
    }


def _points_build(cues: list) -> tuple[list[dict], str]:
    summariser = summariser_get()
    timed = [TimedText(cue.start_ms, cue.end_ms, cue.text, cue.speaker) for cue in cues]
    points = summariser.key_points(timed, limit=points_limit(len(timed)))
    return (
        [
            {
                "id": uuid.uuid4().hex[:12],
                "text": point.text[:POINT_TEXT_MAX],
                "start_ms": int(point.start_ms),
                "origin": "summary",
            }
            for point in points
        ],
        getattr(summariser, "name", type(summariser).__name__),
    )


def recap_build(*, session_id: int) -> Recap | None:
    """Build (or rebuild) the recap of an ended session. Idempotent: the same
    sources give the same recap. Staff's edits survive: their key points
    (once edited), their note and the publication state."""
    session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
    if session is None or session.state != SessionState.ENDED:
        return None
    recording = session_recordings_get(session_ids=[session.pk], is_staff=False).get(session.pk)
    transcript = transcript_for(recording.pk) if recording is not None else None
    cues = transcript_cues(recording.pk) if recording is not None else []
    content = recap_content_build(session, recording, cues)
    points, summariser = _points_build(cues) if cues else ([], "")
    with transaction.atomic():
        recap, _created = Recap.objects.select_for_update().get_or_create(
            session=session, defaults={"course": session.course}
        )
        recap.recording = recording
        recap.content = content
        recap.transcript_status = transcript.status if transcript is not None else ""
        if not recap.points_edited:
            recap.points = points
            recap.summariser = summariser
        recap.version += 1
        recap.built_at = timezone.now()
        recap.save()
    return recap


def recap_build_on_commit(session_id: int) -> None:
    from recaps.tasks import recap_build as task

    transaction.on_commit(lambda: task.delay(session_id))


# --- Staff --------------------------------------------------------------------------------


def _clean_points(points: list[dict], previous: list[dict]) -> list[dict]:
    """Staff's list of points, checked. A point keeps its origin only when
    its text and time are unchanged; anything else is staff's."""
    before = {point["id"]: point for point in previous}
    cleaned = []
    for point in points:
        text = " ".join(str(point.get("text", "")).split())
        if not text:
            continue
        if len(text) > POINT_TEXT_MAX:
            raise ValidationError(
                _("A key point is at most %(n)d characters.") % {"n": POINT_TEXT_MAX},
                details={"points": f"at most {POINT_TEXT_MAX} characters each"},
            )
        start = point.get("start_ms")
        if start is not None and (
            isinstance(start, bool) or not isinstance(start, int) or start < 0
        ):
            raise ValidationError(
                _("A key point's time is a whole number of milliseconds."),
                details={"points": "start_ms: whole number >= 0 or null"},
            )
        key = str(point.get("id") or uuid.uuid4().hex[:12])[:24]
        old = before.get(key)
        same = old is not None and old["text"] == text and old.get("start_ms") == start
        cleaned.append(
            {
                "id": key,
                "text": text,
                "start_ms": start,
                "origin": old.get("origin", "summary") if same else "staff",
            }
        )
    if len(cleaned) > POINTS_MAX:
        raise ValidationError(
            _("A recap has at most %(n)d key points.") % {"n": POINTS_MAX},
            details={"points": f"at most {POINTS_MAX}"},
        )
    return sorted(cleaned, key=lambda p: (p["start_ms"] is None, p["start_ms"] or 0))


def recap_edit(*, recap_id: int, actor, points: list[dict] | None = None, note: str | None = None,
               version: int | None = None) -> Recap:  # fmt: skip
    """Staff change the key points (edit, remove, add) and/or the note.
    `version`, when given, must be the one the editor saw (a rebuild in
    between → conflict, nothing lost)."""
    with transaction.atomic():
        recap = Recap.objects.select_for_update().get(pk=recap_id)
        if version is not None and version != recap.version:
            raise ConflictError(
                _("The recap was rebuilt while you edited it. Reload and edit again."),
                code="recap_changed",
            )
        if points is not None:
            recap.points = _clean_points(points, recap.points)
            recap.points_edited = True
        if note is not None:
            note = note.strip()
            if len(note) > NOTE_MAX:
                raise ValidationError(
                    _("The note is at most %(n)d characters.") % {"n": NOTE_MAX},
                    details={"note": f"at most {NOTE_MAX} characters"},
                )
            recap.note = note
        recap.edited_at = timezone.now()
        recap.edited_by = actor
        recap.save()
    return recap


def recap_points_reset(*, recap_id: int, actor) -> Recap:
    """Back to the summariser's key points (staff's point edits dropped)."""
    with transaction.atomic():
        recap = Recap.objects.select_for_update().get(pk=recap_id)
        recap.points_edited = False
        recap.save(update_fields=["points_edited", "updated_at"])
    return recap_build(session_id=recap.session_id) or recap


def recap_publish(*, recap_id: int, actor, publish: bool = True) -> Recap:
    with transaction.atomic():
        recap = Recap.objects.select_for_update().get(pk=recap_id)
        was_published = recap.is_published
        if publish:
            recap.status = RecapStatus.PUBLISHED
            recap.published_at = recap.published_at or timezone.now()
            recap.published_by = actor
        else:
            recap.status = RecapStatus.DRAFT
            recap.published_at = None
            recap.published_by = None
        recap.save()
        if publish and not was_published:
            recap_hooks.recap_published(recap_id=recap.pk, session_id=recap.session_id)
    return recap
