"""Learning events as xAPI 1.0.3 statements (docs/analytics.md#xapi-mapping).

One event makes one statement whose `id` is the event's `event_id`, so the
same event always makes the same statement. Playback acts on a recording
follow the xAPI video profile (https://w3id.org/xapi/video). Actors are
accounts named by user id: no names or e-mail addresses leave the platform.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import QuerySet

from analytics.models import LearningEvent
from analytics.verbs import VERBS

VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_PROFILE = {
    "id": "https://w3id.org/xapi/video",
    "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
}
VIDEO_EXT = "https://w3id.org/xapi/video/extensions/"
ACTIVITY_TYPES = {
    "poll": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "question": "http://id.tincanapi.com/activitytype/forum-reply",
    "live_session": "http://id.tincanapi.com/activitytype/webinar",
    "chat_message": "http://id.tincanapi.com/activitytype/chat-message",
    "room_message": "http://id.tincanapi.com/activitytype/chat-message",
    "note": "http://id.tincanapi.com/activitytype/note",
}
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
EVENT_FIELDS = (
    "event_id",
    "occurred_at",
    "actor_id",
    "verb",
    "object_type",
    "object_id",
    "course_id",
    "live_session_id",
    "recording_id",
    "mode",
    "media_time_ms",
    "success",
    "score",
    "response",
    "duration_ms",
    "extensions",
)


def _base() -> str:
    return settings.INSIGHTS_XAPI_BASE.rstrip("/")


def _iri(*parts) -> str:
    return "/".join([_base(), "xapi", *(str(p) for p in parts)])


def _duration(ms: int) -> str:
    return f"PT{ms / 1000:.3f}S"


def _seconds(ms) -> float:
    return round((ms or 0) / 1000, 3)


def _segments_seconds(segments: str) -> float:
    total = 0.0
    for part in (segments or "").split("[,]"):
        if "[.]" in part:
            start, end = part.split("[.]", 1)
            try:
                total += max(0.0, float(end) - float(start))
            except ValueError:
                continue
    return total


def statement_from_event(event: dict, *, lengths: dict[int, int] | None = None) -> dict:
    """The statement of one event (a dict of EVENT_FIELDS). `lengths` maps
    recording ids to their length in ms (the video profile needs it)."""
    verb = VERBS.get(event["verb"])
    actor_name = str(event["actor_id"]) if event["actor_id"] else "system"
    extensions = {
        _iri("extensions", key): value
        for key, value in (event["extensions"] or {}).items()
        if key != "played_segments"
    }
    extensions[_iri("extensions", "mode")] = event["mode"]
    for key in ("live_session_id", "recording_id"):
        if event[key] is not None:
            extensions[_iri("extensions", key)] = event[key]
    if event["media_time_ms"] is not None:
        extensions[_iri("extensions", "media_time_ms")] = event["media_time_ms"]
    is_video = event["object_type"] == "recording" and event["mode"] == "playback"
    object_id = event["object_id"] or event["live_session_id"] or event["course_id"] or "platform"
    activity: dict = {"objectType": "Activity", "id": _iri(event["object_type"], object_id)}
    activity_type = VIDEO_TYPE if is_video else ACTIVITY_TYPES.get(event["object_type"])
    activity["definition"] = {
        "type": activity_type or _iri("activity-types", event["object_type"]),
        "name": {"en-US": f"{event['object_type'].replace('_', ' ')} {object_id}"},
    }
    statement: dict = {
        "id": str(event["event_id"]),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": _base(), "name": actor_name},
        },
        "verb": {
            "id": verb.iri if verb else f"urn:roundtable:verb:{event['verb']}",
            "display": {"en-US": event["verb"]},
        },
        "object": activity,
        "timestamp": event["occurred_at"].isoformat(),
        "version": "1.0.3",
    }
    context: dict = {"extensions": extensions}
    if event["course_id"] is not None:
        context["contextActivities"] = {
            "parent": [
                {
                    "objectType": "Activity",
                    "id": _iri("course", event["course_id"]),
                    "definition": {"type": COURSE_TYPE},
                }
            ]
        }
    result: dict = {}
    if event["success"] is not None:
        result["success"] = event["success"]
    if event["score"] is not None:
        result["score"] = {"raw": event["score"]}
    if event["response"]:
        result["response"] = event["response"][:1000]
    if event["duration_ms"] is not None:
        result["duration"] = _duration(event["duration_ms"])
    if is_video:
        _video(event, statement, context, result, lengths or {})
    statement["context"] = context
    if result:
        statement["result"] = result
    return statement


def _video(event: dict, statement: dict, context: dict, result: dict, lengths: dict) -> None:
    """The video profile's required parts for played, paused, seeked, completed."""
    verb = event["verb"]
    context.setdefault("contextActivities", {})["category"] = [VIDEO_PROFILE]
    length_ms = lengths.get(event["recording_id"] or 0, 0)
    time_s = _seconds(event["media_time_ms"])
    extensions = result.setdefault("extensions", {})
    if verb == "seeked":
        own = event["extensions"] or {}
        extensions[VIDEO_EXT + "time-from"] = _seconds(own.get("from_ms"))
        extensions[VIDEO_EXT + "time-to"] = _seconds(own.get("to_ms"))
    else:
        extensions[VIDEO_EXT + "time"] = time_s
    # The video profile's player session: the playback room, or the learner's
    # own viewing of the recording (a stable UUID, not a random one).
    room = (event["extensions"] or {}).get("room_id")
    player = f"room/{room}" if room else f"recording/{event['recording_id']}/{event['actor_id']}"
    context["extensions"][VIDEO_EXT + "session-id"] = str(
        uuid.uuid5(uuid.NAMESPACE_URL, _iri(player))
    )
    if verb in ("paused", "completed"):
        context["extensions"][VIDEO_EXT + "length"] = _seconds(length_ms)
    if verb == "completed":
        segments = (event["extensions"] or {}).get("played_segments", "")
        if segments:
            extensions[VIDEO_EXT + "played-segments"] = segments
        watched = _segments_seconds(segments)
        length_s = length_ms / 1000
        extensions[VIDEO_EXT + "progress"] = (
            round(min(100.0, 100 * watched / length_s), 2) if length_s else 0.0
        )
        result["completion"] = True
        result.pop("success", None)
    if not extensions:
        result.pop("extensions")


def event_rows(events: QuerySet[LearningEvent]) -> Iterator[dict]:
    yield from events.values(*EVENT_FIELDS).iterator(chunk_size=2000)


def recording_lengths(recording_ids: Iterable[int]) -> dict[int, int]:
    from insights.sources import recordings_info

    return {
        rid: info.length_ms for rid, info in recordings_info(recording_ids=recording_ids).items()
    }


def statements_jsonl(events: QuerySet[LearningEvent]) -> Iterator[str]:
    """One JSON line per event, streamed (a server-side cursor)."""
    lengths = recording_lengths(
        set(events.exclude(recording_id=None).values_list("recording_id", flat=True).distinct())
    )
    for row in event_rows(events):
        yield json.dumps(statement_from_event(row, lengths=lengths), separators=(",", ":")) + "\n"
