"""Reads of recordings, timelines, rooms, notes, answers and progress. The
snapshot a room's WebSocket sends on connect and the player page come from
the same selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from classroom.models import Poll, PollBallot, PollResponse, PollScope, Seat, Table
from classroom.selectors import poll_correct_payload, poll_public_payload
from classroom.services.polls import voter_key
from courses.models import Enrollment, Role, User
from playback.access import room_may_control
from playback.events import message_payload, note_payload, state_payload
from playback.models import (
    Note,
    NoteVisibility,
    PlaybackAnswer,
    PlaybackConnection,
    PlaybackRoom,
    PlaybackRoomMember,
    Recording,
    RecordingStatus,
    RoomKind,
    RoomMessage,
    TimelineAudience,
    TimelineEntry,
    TimelineKind,
    WatchProgress,
)
from playback.services.progress import progress_payload
from playback.services.recordings import recording_bounds, recording_settings_get
from playback.services.timeline import MediaClock

ROOM_MESSAGES_LIMIT = 200


# --- Polls of a recording ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingPoll:
    poll: Any  # classroom.Poll
    offset_ms: int
    replays: bool


def recording_polls_get(*, recording: Recording) -> list[RecordingPoll]:
    """The live session's polls at their media offsets (from the timeline),
    with whether staff let each replay."""
    entries = list(
        TimelineEntry.objects.filter(
            recording=recording, kind=TimelineKind.POLL_OPENED
        ).values_list("data", "offset_ms")
    )
    offsets = {data["poll_id"]: offset for data, offset in entries if "poll_id" in data}
    if not offsets:
        return []
    chosen = recording_settings_get(recording)["replay_polls"]
    polls = Poll.objects.filter(pk__in=offsets, session_id=recording.live_session_id)
    items = [
        RecordingPoll(
            poll=poll, offset_ms=offsets[poll.pk], replays=chosen is None or poll.pk in chosen
        )
        for poll in polls
    ]
    return sorted(items, key=lambda item: (item.offset_ms, item.poll.pk))


def _voter_keys(poll, users: dict[int, int | None]) -> dict[str, int]:
    """voter_key -> user id, for each user's own key and their table's key."""
    keys = {}
    for user_id, table_id in users.items():
        keys[voter_key(poll_id=poll.pk, user_id=user_id)] = user_id
        if poll.scope == PollScope.ONE_PER_TABLE and table_id is not None:
            keys[voter_key(poll_id=poll.pk, table_id=table_id)] = user_id
    return keys


def _tables_of(course_id: int, user_ids) -> dict[int, int | None]:
    tables = dict(
        Seat.objects.filter(course_id=course_id, user_id__in=user_ids).values_list(
            "user_id", "table_id"
        )
    )
    return {user_id: tables.get(user_id) for user_id in user_ids}


@dataclass(frozen=True)
class AnonymousAnswer:
    """An answer to an anonymous poll as far as it may be known: that it was
    given, not what it was (docs/polls.md, "Anonymous polls")."""

    answer: Any = None
    is_correct: bool | None = None
    score: float | None = None


def _ballot_user_ids(poll, user_ids) -> set[int]:
    """Who of these users answered this anonymous poll live: their ballot."""
    if not poll.is_anonymous or not user_ids:
        return set()
    return set(
        PollBallot.objects.filter(poll=poll, user_id__in=user_ids).values_list("user_id", flat=True)
    )


def answered_user_ids(*, poll, user_ids: set[int]) -> set[int]:
    """Which of these users answered the poll, live or while watching. Live
    answers are found by voter key, and for an anonymous poll by ballot."""
    if not user_ids:
        return set()
    answered = set(
        PlaybackAnswer.objects.filter(poll=poll, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    answered |= _ballot_user_ids(poll, set(user_ids) - answered)
    rest = set(user_ids) - answered
    if rest:
        keys = _voter_keys(poll, _tables_of(poll.session.course_id, rest))
        for key in PollResponse.objects.filter(poll=poll, voter_key__in=keys).values_list(
            "voter_key", flat=True
        ):
            answered.add(keys[key])
    return answered


def live_answer_get(*, poll, user, table_id: int | None):
    """The user's answer given in the live session (their own, or their
    table's shared answer), or None. For an anonymous poll, only that they
    answered (an `AnonymousAnswer`)."""
    if _ballot_user_ids(poll, {user.pk}):
        return AnonymousAnswer()
    keys = _voter_keys(poll, {user.pk: table_id})
    return PollResponse.objects.filter(poll=poll, voter_key__in=keys).first()


def segment_start_ms(*, recording: Recording, offset_ms: int) -> int:
    """Where the chapter holding `offset_ms` begins ("rewatch from")."""
    start, _end = recording_bounds(recording)
    previous = (
        TimelineEntry.objects.filter(
            recording=recording, is_chapter=True, offset_ms__lt=offset_ms, offset_ms__gte=start
        )
        .order_by("-offset_ms")
        .values_list("offset_ms", flat=True)
        .first()
    )
    return previous if previous is not None else start


def my_answer_payload(*, recording: Recording, item: RecordingPoll, source: str, answer) -> dict:
    """One learner's answer to a poll, with the correct answer (they answered,
    so it may be shown) and where to rewatch from when it was wrong."""
    poll = item.poll
    if poll.is_anonymous and source == "playback" and isinstance(answer, PlaybackAnswer):
        # Stored without what it was (playback.services.answers): known only
        # in the reply to the answer itself.
        answer = AnonymousAnswer()
    payload = {
        "poll_id": poll.pk,
        "source": source,
        "answer": answer.answer,
        "is_correct": answer.is_correct,
        "score": answer.score,
        "correct": poll_correct_payload(poll) if poll.is_quiz else None,
        "rewatch_from_ms": None,
    }
    if answer.is_correct is False:
        payload["rewatch_from_ms"] = segment_start_ms(recording=recording, offset_ms=item.offset_ms)
    return payload


def recording_polls_for_user(*, recording: Recording, user, table_id: int | None) -> list[dict]:
    """Every replayed poll (public payload: never the correct answer) with the
    user's own answer, live or from playback, where there is one."""
    items = [item for item in recording_polls_get(recording=recording) if item.replays]
    if not items:
        return []
    mine = {
        answer.poll_id: answer
        for answer in PlaybackAnswer.objects.filter(
            user=user, poll_id__in=[item.poll.pk for item in items]
        )
    }
    keys: dict[str, int] = {}
    for item in items:
        for key in _voter_keys(item.poll, {user.pk: table_id}):
            keys[key] = item.poll.pk
    live = {
        keys[response.voter_key]: response
        for response in PollResponse.objects.filter(voter_key__in=keys)
    }
    for item in items:
        if _ballot_user_ids(item.poll, {user.pk}):
            live[item.poll.pk] = AnonymousAnswer()
    result = []
    for item in items:
        public = poll_public_payload(item.poll)
        public["offset_ms"] = item.offset_ms
        if item.poll.pk in live:
            public["mine"] = my_answer_payload(
                recording=recording, item=item, source="live", answer=live[item.poll.pk]
            )
        elif item.poll.pk in mine:
            public["mine"] = my_answer_payload(
                recording=recording, item=item, source="playback", answer=mine[item.poll.pk]
            )
        else:
            public["mine"] = None
        result.append(public)
    return result


# --- Timeline and chapters ------------------------------------------------------------------


def timeline_visible(*, recording: Recording, is_staff: bool, table_id: int | None) -> list[dict]:
    """What this viewer may see of the live session's moments: class chat,
    their table's chat, staff chat for staff; never a deleted message."""
    entries = TimelineEntry.objects.filter(recording=recording)
    if not is_staff:
        visible = Q(audience=TimelineAudience.ALL)
        if table_id is not None:
            visible |= Q(audience=TimelineAudience.TABLE, table_id=table_id)
        entries = entries.filter(visible)
    chapters = recording_settings_get(recording)["chapters"]
    return [
        {
            "key": entry.key,
            "kind": entry.kind,
            "offset_ms": entry.offset_ms,
            "at": entry.occurred_at,
            "chapter": entry.is_chapter,
            "title": chapters.get(entry.key, entry.title),
            "data": entry.data,
        }
        for entry in entries.order_by("offset_ms", "id")
    ]


def chapters_get(*, recording: Recording) -> list[dict]:
    """Chapters in order: the start, then mode changes and polls (a chapter
    starting at the same moment as the previous one replaces it)."""
    start, end = recording_bounds(recording)
    names = recording_settings_get(recording)["chapters"]
    chapters = [
        {
            "key": "start",
            "offset_ms": start,
            "title": names.get("start", "Start"),
            "default": "Start",
        }
    ]
    for entry in TimelineEntry.objects.filter(recording=recording, is_chapter=True).order_by(
        "offset_ms", "id"
    ):
        if entry.offset_ms < start or entry.offset_ms >= end:
            continue
        item = {
            "key": entry.key,
            "offset_ms": entry.offset_ms,
            "title": names.get(entry.key, entry.title),
            "default": entry.title,
            "kind": entry.kind,
        }
        if chapters[-1]["offset_ms"] == entry.offset_ms and chapters[-1]["key"] == "start":
            chapters[-1] = {**item, "title": names.get(entry.key, names.get("start", entry.title))}
        else:
            chapters.append(item)
    return chapters


# --- Notes ------------------------------------------------------------------------------------


def notes_visible(*, recording: Recording, user, table_id: int | None) -> list[dict]:
    visible = Q(author=user) | Q(visibility=NoteVisibility.COURSE)
    if table_id is not None:
        visible |= Q(visibility=NoteVisibility.TABLE, table_id=table_id)
    notes = (
        Note.objects.filter(recording=recording, deleted_at__isnull=True)
        .filter(visible)
        .select_related("author")
        .order_by("media_ms", "id")
    )
    return [note_payload(note) for note in notes]


# --- Rooms ------------------------------------------------------------------------------------


def room_members_get(*, room: PlaybackRoom) -> list[dict]:
    """The people of the room, who is here now first: table members, invited
    members, or (alone) the owner; plus anyone else connected (staff visiting)."""
    since = timezone.now() - timedelta(seconds=45)
    online = set(
        PlaybackConnection.objects.filter(room=room, seen_at__gte=since).values_list(
            "user_id", flat=True
        )
    )
    if room.kind == RoomKind.TABLE:
        ids = set(Seat.objects.filter(table_id=room.table_id).values_list("user_id", flat=True))
    elif room.kind == RoomKind.ADHOC:
        ids = set(PlaybackRoomMember.objects.filter(room=room).values_list("user_id", flat=True))
    else:
        ids = {room.host_id} if room.host_id else set()
    ids |= online
    users = User.objects.filter(pk__in=ids)
    members = [
        {
            "id": user.pk,
            "name": user.name,
            "online": user.pk in online,
            "host": user.pk == room.host_id,
        }
        for user in users
    ]
    return sorted(members, key=lambda m: (not m["online"], m["name"].lower(), m["id"]))


def room_payload(room: PlaybackRoom) -> dict:
    return {
        "id": room.pk,
        "kind": room.kind,
        "control": room.control,
        "host": {"id": room.host_id, "name": room.host.name} if room.host_id else None,
        "table": {"id": room.table_id, "name": room.table.name} if room.table_id else None,
    }


def recording_payload(recording: Recording) -> dict:
    start, end = recording_bounds(recording)
    settings = recording_settings_get(recording)
    return {
        "id": recording.pk,
        "title": recording.title,
        "course_id": recording.course_id,
        "live_session_id": recording.live_session_id,
        "status": recording.status,
        "source": recording.source,
        "duration_ms": recording.duration_ms,
        "start_ms": start,
        "end_ms": end,
        "mime_type": recording.mime_type,
        "has_video": bool(recording.video_codec),
        "media_url": reverse("recording-media", args=[recording.pk]),
        "pause_at_polls": settings["pause_at_polls"],
        "forward_skip": settings["forward_skip"],
        "completion_threshold": settings["completion_threshold"],
        "poll_timeout_seconds": settings["poll_timeout_seconds"],
        "created_at": recording.created_at,
    }


def room_seq_get(room_id: int) -> int | None:
    """The room's current frame seq (None for a room that does not exist)."""
    return PlaybackRoom.objects.filter(pk=room_id).values_list("seq", flat=True).first()


def room_snapshot_get(*, access) -> dict:
    """Everything this member may see of the room, as one frame's data. The
    seq is read first: anything committed after it arrives as frames."""
    import time

    room = PlaybackRoom.objects.select_related("recording__course", "host", "table").get(
        pk=access.room.pk
    )
    recording, user, table_id = room.recording, access.user, access.table_id
    from playback.events import STREAMS

    heads = {
        stream: seq
        for stream, seq in (room.stream_heads or {}).items()
        if STREAMS.visible(stream, user_id=user.pk, table_id=table_id)
    }
    messages = list(
        RoomMessage.objects.filter(room=room)
        .select_related("author")
        .order_by("-created_at", "-id")[:ROOM_MESSAGES_LIMIT]
    )
    messages.reverse()
    progress = WatchProgress.objects.filter(recording=recording, user=user).first()
    return {
        "seq": room.seq,
        "heads": heads,
        "server_time": time.time(),
        "me": {
            "id": user.pk,
            "name": user.name,
            "is_staff": access.is_staff,
            "may_participate": access.may_participate,
            "table_id": table_id,
            "is_host": room.host_id == user.pk,
            "may_control": room_may_control(room, user, may_participate=access.may_participate),
        },
        "course": {
            "id": recording.course_id,
            "code": recording.course.code,
            "title": recording.course.title,
        },
        "room": room_payload(room),
        "members": room_members_get(room=room),
        "recording": recording_payload(recording),
        "state": {**state_payload(room), "seq": room.state_seq},
        "chapters": chapters_get(recording=recording),
        "timeline": timeline_visible(
            recording=recording, is_staff=access.is_staff, table_id=table_id
        ),
        "polls": recording_polls_for_user(recording=recording, user=user, table_id=table_id),
        "notes": notes_visible(recording=recording, user=user, table_id=table_id),
        "messages": [message_payload(m) for m in messages],
        "progress": progress_payload(progress, recording),
    }


def rooms_for_user_get(*, access) -> dict:
    """The rooms a user may enter for a recording: their table's (whether or
    not it exists yet, with who is watching in it now) and the groups they
    were invited to."""
    recording, user = access.recording, access.user
    since = timezone.now() - timedelta(seconds=45)
    table = None
    if access.table_id is not None:
        room = PlaybackRoom.objects.filter(
            recording=recording, kind=RoomKind.TABLE, table_id=access.table_id
        ).first()
        watching = (
            PlaybackConnection.objects.filter(room=room, seen_at__gte=since)
            .values("user_id")
            .distinct()
            .count()
            if room
            else 0
        )
        table = {
            "table": Table.objects.filter(pk=access.table_id).values("id", "name").first(),
            "room_id": room.pk if room else None,
            "watching": watching,
        }
    groups = []
    for room in (
        PlaybackRoom.objects.filter(recording=recording, kind=RoomKind.ADHOC, members__user=user)
        .select_related("host")
        .order_by("-created_at")
    ):
        groups.append(
            {
                "room_id": room.pk,
                "host": {"id": room.host_id, "name": room.host.name} if room.host_id else None,
                "members": [m["name"] for m in room_members_get(room=room)],
                "created_at": room.created_at,
            }
        )
    return {"table": table, "groups": groups}


# --- Lists and analytics ------------------------------------------------------------------------


def recording_list_get(*, course, user, is_staff: bool) -> list[dict]:
    """The course's recordings (learners: ready ones) with my progress. Two
    queries whatever the number of recordings."""
    recordings = Recording.objects.filter(course=course).select_related("live_session")
    if not is_staff:
        recordings = recordings.filter(status=RecordingStatus.READY)
    recordings = list(recordings.order_by("-created_at", "id"))
    progress = {
        p.recording_id: p for p in WatchProgress.objects.filter(user=user, recording__in=recordings)
    }
    return [
        {
            "recording": recording,
            "payload": recording_payload(recording),
            "progress": progress_payload(progress.get(recording.pk), recording),
        }
        for recording in recordings
    ]


HEATMAP_BUCKETS = 60


def heatmap_get(*, recording: Recording, buckets: int = HEATMAP_BUCKETS) -> dict:
    """How many learners watched each slice of the recording (distinct
    learners, from their merged segments), and how many of them rewatched."""
    start, end = recording_bounds(recording)
    length = max(1, end - start)
    size = max(1000, -(-length // buckets))
    count = -(-length // size)
    learners = set(
        Enrollment.objects.filter(
            course_id=recording.course_id, role=Role.LEARNER, is_active=True
        ).values_list("user_id", flat=True)
    )
    watched = [0] * count
    for segments in WatchProgress.objects.filter(
        recording=recording, user_id__in=learners
    ).values_list("segments", flat=True):
        covered = set()
        for seg_start, seg_end in segments:
            first = max(0, (max(seg_start, start) - start) // size)
            last = min(count - 1, (min(seg_end, end) - start - 1) // size)
            covered.update(range(int(first), int(last) + 1))
        for index in covered:
            watched[index] += 1
    return {
        "bucket_ms": size,
        "start_ms": start,
        "end_ms": end,
        "learners": len(learners),
        "buckets": [
            {"from_ms": start + i * size, "to_ms": min(end, start + (i + 1) * size), "learners": n}
            for i, n in enumerate(watched)
        ],
    }


def completion_list_get(*, recording: Recording) -> list[dict]:
    """Every learner of the course: watched share, completion, last activity,
    and poll answers given while watching (right / answered)."""
    enrollments = (
        Enrollment.objects.filter(course_id=recording.course_id, role=Role.LEARNER, is_active=True)
        .select_related("user")
        .order_by("user__display_name", "user__username")
    )
    progress = {p.user_id: p for p in WatchProgress.objects.filter(recording=recording)}
    answers: dict[int, list] = {}
    for user_id, is_correct in PlaybackAnswer.objects.filter(recording=recording).values_list(
        "user_id", "is_correct"
    ):
        answers.setdefault(user_id, []).append(is_correct)
    rows = []
    for enrollment in enrollments:
        mine = progress.get(enrollment.user_id)
        payload = progress_payload(mine, recording)
        given = answers.get(enrollment.user_id, [])
        rows.append(
            {
                "user": {"id": enrollment.user_id, "name": enrollment.user.name},
                "percent": payload["percent"],
                "watched_ms": payload["watched_ms"],
                "completed": payload["completed"],
                "completed_at": payload["completed_at"],
                "last_seen": mine.updated_at if mine else None,
                "position_ms": payload["position_ms"] if mine else None,
                "answers": len(given),
                "right": sum(1 for value in given if value),
            }
        )
    return rows


def session_timeline_recording_get(*, session_id: int) -> Recording | None:
    """The session's most recent ready recording whose timeline is built, or None."""
    return (
        Recording.objects.filter(
            live_session_id=session_id,
            status=RecordingStatus.READY,
            timeline_built_at__isnull=False,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def media_offsets_ms(*, recording: Recording, moments: list) -> list[int | None]:
    """The media offset (ms) of each wall-clock moment of the live session."""
    clock = MediaClock.for_recording(recording)
    return [clock.offset_ms(moment) for moment in moments]


def watched_segments_get(*, recording: Recording, user_ids) -> dict[int, list[list[int]]]:
    """What each of these users watched of the recording ([start, end) ms), one query."""
    return dict(
        WatchProgress.objects.filter(recording=recording, user_id__in=user_ids).values_list(
            "user_id", "segments"
        )
    )


def progress_for_user(*, recording: Recording, user) -> dict:
    progress = WatchProgress.objects.filter(recording=recording, user=user).first()
    return progress_payload(progress, recording)


def session_recordings_get(*, session_ids: list[int], is_staff: bool) -> dict[int, Recording]:
    """For each live session, its most recent recording this viewer may open
    (learners: ready ones only). One query."""
    recordings = Recording.objects.filter(live_session_id__in=session_ids)
    if not is_staff:
        recordings = recordings.filter(status=RecordingStatus.READY)
    found: dict[int, Recording] = {}
    for recording in recordings.order_by("-created_at", "-id"):
        found.setdefault(recording.live_session_id, recording)
    return found
