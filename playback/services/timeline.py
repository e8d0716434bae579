"""A recording's timeline: the live session's stored moments, each placed at
its media offset.

Wall-clock time maps to media time through the recording's spans
(RecordingSpan: one uninterrupted stretch each). A moment inside a recording
pause maps to the pause point; a moment before recording started maps to 0,
after it ended to the end. Without spans (an uploaded file linked to a
session) time zero is `recorded_from`, or else the session's `started_at`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from analytics.selectors import session_events_list
from classroom import events as live_events
from classroom.models import Announcement, ChatMessage, Poll, Question
from courses.models import User
from playback.models import Recording, RecordingSpan, TimelineAudience, TimelineEntry, TimelineKind
from playback.tasks import recording_timeline_build as task

REACTION_BUCKET_MS = 10_000
MODE_TITLES = {
    "lecture": "Lecture",
    "table_talk": "Table talk",
    "visiting": "Instructor visits a table",
    "stage": "Table on stage",
    "podium": "Podium",
}


@dataclass(frozen=True)
class Span:
    started_at: datetime
    ended_at: datetime | None
    media_offset_ms: int


class MediaClock:
    """Maps wall-clock moments of the live session to media milliseconds."""

    def __init__(
        self, spans: list[Span], zero: datetime | None, duration_ms: int | None = None
    ) -> None:
        self.spans = sorted(spans, key=lambda span: span.started_at)
        self.zero = zero
        self.duration_ms = duration_ms

    @classmethod
    def for_recording(cls, recording: Recording) -> MediaClock:
        spans = [
            Span(span.started_at, span.ended_at, span.media_offset_ms)
            for span in RecordingSpan.objects.filter(recording=recording).order_by("started_at")
        ]
        zero = recording.recorded_from
        if zero is None and recording.live_session_id:
            zero = recording.live_session.started_at
        return cls(spans, zero, recording.duration_ms)

    def _clamp(self, offset_ms: float) -> int:
        offset = max(0, int(offset_ms))
        if self.duration_ms is not None:
            offset = min(offset, self.duration_ms)
        return offset

    @staticmethod
    def _span_end_ms(span: Span) -> int:
        if span.ended_at is None:
            return 2**62
        return span.media_offset_ms + int((span.ended_at - span.started_at).total_seconds() * 1000)

    def offset_ms(self, moment: datetime) -> int | None:
        """The media offset of `moment`, or None when nothing anchors media time."""
        if not self.spans:
            if self.zero is None:
                return None
            return self._clamp((moment - self.zero).total_seconds() * 1000)
        if moment < self.spans[0].started_at:
            return self._clamp(self.spans[0].media_offset_ms)
        for index, span in enumerate(self.spans):
            if span.ended_at is None or moment < span.ended_at:
                if moment >= span.started_at:
                    elapsed = (moment - span.started_at).total_seconds() * 1000
                    return self._clamp(span.media_offset_ms + elapsed)
                # Between the previous span's end and this one's start: a pause.
                return self._clamp(self._span_end_ms(self.spans[index - 1]))
        return self._clamp(self._span_end_ms(self.spans[-1]))

    def pauses(self) -> list[tuple[datetime, datetime, int]]:
        """(paused at, resumed at, media offset) of every pause between spans."""
        found = []
        for before, after in zip(self.spans, self.spans[1:], strict=False):
            if before.ended_at is not None and after.started_at >= before.ended_at:
                found.append(
                    (before.ended_at, after.started_at, self._clamp(self._span_end_ms(before)))
                )
        return found


def _entries_for(recording: Recording, clock: MediaClock) -> list[TimelineEntry]:
    session_id = recording.live_session_id
    entries: list[TimelineEntry] = []

    def add(key: str, kind: str, moment: datetime, **fields) -> None:
        offset = clock.offset_ms(moment)
        if offset is not None:
            entries.append(
                TimelineEntry(
                    recording=recording,
                    key=key,
                    kind=kind,
                    offset_ms=offset,
                    occurred_at=moment,
                    **fields,
                )
            )

    for paused_at, resumed_at, _offset in clock.pauses():
        add(
            f"pause:{int(paused_at.timestamp() * 1000)}",
            TimelineKind.RECORDING_PAUSED,
            paused_at,
            data={
                "paused_at": paused_at.isoformat(),
                "resumed_at": resumed_at.isoformat(),
                "paused_seconds": round((resumed_at - paused_at).total_seconds()),
            },
        )
    for poll in Poll.objects.filter(session_id=session_id).order_by("opened_at", "id"):
        summary = {"poll_id": poll.pk, "prompt": poll.prompt, "kind": poll.kind}
        add(
            f"poll_opened:{poll.pk}",
            TimelineKind.POLL_OPENED,
            poll.opened_at,
            is_chapter=True,
            title=f"Poll: {poll.prompt}"[:200],
            data=summary,
        )
        if poll.closed_at:
            add(f"poll_closed:{poll.pk}", TimelineKind.POLL_CLOSED, poll.closed_at, data=summary)
    messages = ChatMessage.objects.filter(session_id=session_id, deleted_at__isnull=True)
    for message in messages.select_related("author"):
        audience, table_id = TimelineAudience.ALL, None
        if message.channel == "table":
            audience, table_id = TimelineAudience.TABLE, message.table_id
        elif message.channel == "staff":
            audience = TimelineAudience.STAFF
        if audience == TimelineAudience.TABLE and table_id is None:
            continue  # its table was deleted: nobody may read it any more
        add(
            f"chat:{message.pk}",
            TimelineKind.CHAT,
            message.created_at,
            audience=audience,
            table_id=table_id,
            data=_json(live_events.message_payload(message)),
        )
    questions = Question.objects.filter(session_id=session_id, deleted_at__isnull=True)
    for question in questions.select_related("author"):
        add(
            f"question:{question.pk}",
            TimelineKind.QUESTION,
            question.created_at,
            data=_json(live_events.question_payload(question)),
        )
    for announcement in Announcement.objects.filter(session_id=session_id).select_related("author"):
        add(
            f"announcement:{announcement.pk}",
            TimelineKind.ANNOUNCEMENT,
            announcement.created_at,
            data=_json(live_events.announcement_payload(announcement)),
        )
    log = session_events_list(
        session_id,
        verbs=("mode_changed", "invited_to_podium", "removed_from_podium", "reacted"),
        mode="live",
    )
    reactions: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reaction_moments: dict[int, datetime] = {}
    user_names = _user_names(log)
    for event in log:
        extensions = event.extensions or {}
        if event.verb == "mode_changed":
            mode = extensions.get("mode", "")
            add(
                f"mode:{event.event_id}",
                TimelineKind.MODE_CHANGED,
                event.occurred_at,
                is_chapter=True,
                title=MODE_TITLES.get(mode, mode.replace("_", " ").capitalize() or "Mode"),
                data={"mode": mode, "table_id": extensions.get("table_id")},
            )
        elif event.verb in ("invited_to_podium", "removed_from_podium"):
            user_id = int(event.object_id) if str(event.object_id).isdigit() else None
            add(
                f"podium:{event.event_id}",
                TimelineKind.PODIUM_CHANGED,
                event.occurred_at,
                data={
                    "action": "invited" if event.verb == "invited_to_podium" else "removed",
                    "user": {"id": user_id, "name": user_names.get(user_id, "")},
                },
            )
        else:
            offset = clock.offset_ms(event.occurred_at)
            if offset is None:
                continue
            bucket = offset // REACTION_BUCKET_MS * REACTION_BUCKET_MS
            reactions[bucket][extensions.get("reaction", "other")] += 1
            reaction_moments.setdefault(bucket, event.occurred_at)
    for bucket, counts in sorted(reactions.items()):
        entries.append(
            TimelineEntry(
                recording=recording,
                key=f"reactions:{bucket}",
                kind=TimelineKind.REACTIONS,
                offset_ms=bucket,
                occurred_at=reaction_moments[bucket],
                data={"counts": dict(counts), "total": sum(counts.values())},
            )
        )
    return entries


def _user_names(log) -> dict[int, str]:
    ids = {
        int(event.object_id)
        for event in log
        if event.verb in ("invited_to_podium", "removed_from_podium")
        and str(event.object_id).isdigit()
    }
    return {user.pk: user.name for user in User.objects.filter(pk__in=ids)}


def _json(payload: dict) -> dict:
    """Payloads hold datetimes; JSONField needs plain values."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def recording_timeline_build(*, recording_id: int) -> int:
    """(Re)build the timeline from the session's stored rows. Idempotent: the
    recording row lock serialises concurrent builds, and the old entries are
    replaced in the same transaction. Returns the number of entries."""
    with transaction.atomic():
        recording = (
            Recording.objects.select_for_update(of=("self",))
            .select_related("live_session")
            .filter(pk=recording_id)
            .first()
        )
        if recording is None:
            return 0
        entries = (
            _entries_for(recording, MediaClock.for_recording(recording))
            if recording.live_session_id
            else []
        )
        TimelineEntry.objects.filter(recording=recording).delete()
        TimelineEntry.objects.bulk_create(entries, batch_size=500)
        recording.timeline_built_at = timezone.now()
        recording.save(update_fields=["timeline_built_at", "updated_at"])
        # playback.hooks imports the recordings services, which import this
        # module: a real cycle, so the import waits until the call.
        from playback.hooks import timeline_built

        timeline_built(recording_id=recording.pk, live_session_id=recording.live_session_id)
    return len(entries)


def recording_timeline_build_on_commit(recording_id: int) -> None:
    """Queue the Celery task once the current transaction commits."""
    transaction.on_commit(lambda: task.delay(recording_id))
