"""The registry of the learning-event log: every verb, the object types each
applies to and the extension keys each carries.

`analytics.services.event_record` validates every event against it. With
`settings.ANALYTICS_EVENTS_STRICT` (on outside production) an unknown verb,
object type or extension key, a missing required key or a value of the wrong
type is refused with a `ValidationError`; in production the event is stored
and the mismatch logged, so a forgotten registration never loses a learner's
data. docs/events.md lists the registry; tests/analytics/test_verbs.py checks
that the page and this module agree both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADL = "http://adlnet.gov/expapi/verbs/"
VIDEO = "https://w3id.org/xapi/video/verbs/"
# Roundtable's own verbs: a URN is a valid IRI and claims no web namespace.
OWN = "urn:roundtable:verb:"

NoneType = type(None)


@dataclass(frozen=True)
class Extension:
    key: str
    types: tuple[type, ...]
    required: bool = False

    def type_label(self) -> str:
        names = {
            str: "string",
            int: "integer",
            float: "number",
            bool: "boolean",
            list: "list",
            NoneType: "null",
        }
        return " or ".join(names[t] for t in self.types)

    def accepts(self, value) -> bool:
        if isinstance(value, bool):  # bool is an int to Python, not to the log
            return bool in self.types
        if isinstance(value, int) and float in self.types:
            return True
        return isinstance(value, self.types)


@dataclass(frozen=True)
class Verb:
    name: str
    iri: str
    object_types: tuple[str, ...]
    description: str
    extensions: tuple[Extension, ...] = field(default=())

    def extension(self, key: str) -> Extension | None:
        return next((ext for ext in self.extensions if ext.key == key), None)


OBJECT_TYPES: dict[str, str] = {
    "announcement": "An instructor's announcement in a live session.",
    "chat_message": "A chat message of a live session.",
    "live_session": "A live session (`object_id` is its id).",
    "note": "A learner's note on a recording.",
    "notification": "A notification to a learner (`object_id` is its id).",
    "poll": "A poll, live or met again in playback.",
    "question": "A question of a live session's Q&A.",
    "recording": "A recording (`object_id` is its id).",
    "review_card": "A learner's spaced-repetition card for one question (reinforcement).",
    "room_message": "A chat message of a playback room.",
    "table": "A table of a course's seating.",
    "timer": "A timer of a live session.",
    "user": "A user acted upon (`object_id` is the user's id).",
}


def _ext(key: str, *types: type, required: bool = False) -> Extension:
    return Extension(key, types, required)


def _room(*extra: Extension, required: bool = True) -> tuple[Extension, ...]:
    """The keys every playback-room event carries (optional where the verb is
    also used outside a room)."""
    return (
        _ext("room_id", int, required=required),
        _ext("room_kind", str, required=required),
        *extra,
    )


_VERBS = (
    # --- Live sessions (classroom) ------------------------------------------------------------
    Verb("scheduled", OWN + "scheduled", ("live_session",), "A session was scheduled."),
    Verb("started", OWN + "started", ("live_session",), "A session went live."),
    Verb("ended", OWN + "ended", ("live_session",), "A live session ended."),
    Verb("cancelled", OWN + "cancelled", ("live_session",), "A scheduled session was cancelled."),
    Verb(
        "joined",
        OWN + "joined",
        ("live_session", "recording"),
        "A learner joined a live session, or a playback room (with the room keys).",
        _room(required=False),
    ),
    Verb(
        "left",
        OWN + "left",
        ("live_session", "recording"),
        "A learner's last connection left a live session or a playback room.",
        _room(required=False),
    ),
    Verb(
        "mode_changed",
        OWN + "mode_changed",
        ("live_session",),
        "The session's mode changed (podium, table talk, ...).",
        (
            _ext("mode", str, required=True),
            _ext("table_id", int, NoneType, required=True),
            _ext("previous_mode", str),
            _ext("previous_table_id", int, NoneType),
        ),
    ),
    Verb(
        "seated",
        OWN + "seated",
        ("table",),
        "A learner was seated at a table.",
        (
            _ext("method", str, required=True),
            _ext("by", int, NoneType, required=True),
            _ext("from_table", int, NoneType, required=True),
        ),
    ),
    Verb(
        "chatted",
        OWN + "chatted",
        ("chat_message",),
        "A chat message was posted.",
        (_ext("channel", str, required=True), _ext("table_id", int, NoneType, required=True)),
    ),
    Verb("deleted_message", OWN + "deleted_message", ("chat_message",), "Staff deleted a message."),
    Verb(
        "asked",
        ADL + "asked",
        ("question",),
        "A question was asked (an anonymous one has no actor).",
        (_ext("anonymous", bool, required=True),),
    ),
    Verb("upvoted", OWN + "upvoted", ("question",), "A question was upvoted."),
    Verb(
        "answered_question",
        OWN + "answered_question",
        ("question",),
        "Staff marked a question answered.",
    ),
    Verb("deleted_question", OWN + "deleted_question", ("question",), "A question was deleted."),
    Verb("raised_hand", OWN + "raised_hand", ("live_session",), "A learner raised a hand."),
    Verb("lowered_hand", OWN + "lowered_hand", ("user",), "A hand was lowered."),
    Verb(
        "lowered_all_hands",
        OWN + "lowered_all_hands",
        ("live_session",),
        "Staff lowered every raised hand.",
        (_ext("count", int, required=True),),
    ),
    Verb("invited_to_podium", OWN + "invited_to_podium", ("user",), "A user was invited up."),
    Verb("removed_from_podium", OWN + "removed_from_podium", ("user",), "A user left the podium."),
    Verb("set_away", OWN + "set_away", ("live_session",), "A learner stepped away."),
    Verb("returned", OWN + "returned", ("live_session",), "A learner came back."),
    Verb(
        "started_timer",
        OWN + "started_timer",
        ("timer",),
        "A timer was started (`duration_ms` is its length).",
        (_ext("label", str, required=True),),
    ),
    Verb(
        "adjusted_timer",
        OWN + "adjusted_timer",
        ("timer",),
        "A running timer was extended or shortened.",
        (_ext("delta_seconds", int, required=True),),
    ),
    Verb("stopped_timer", OWN + "stopped_timer", ("timer",), "A timer was stopped."),
    Verb("announced", OWN + "announced", ("announcement",), "An announcement was made."),
    Verb("requested_help", OWN + "requested_help", ("table",), "A table asked for help."),
    Verb("resolved_help", OWN + "resolved_help", ("table",), "Staff resolved a help request."),
    Verb(
        "opened_poll",
        OWN + "opened_poll",
        ("poll",),
        "A poll was opened.",
        (
            _ext("kind", str, required=True),
            _ext("scope", str, required=True),
            _ext("quiz", bool, required=True),
        ),
    ),
    Verb(
        "closed_poll",
        OWN + "closed_poll",
        ("poll",),
        "A poll was closed (by staff, or by its timer).",
        (_ext("responses", int, required=True), _ext("timer", bool, required=True)),
    ),
    Verb("published_poll", OWN + "published_poll", ("poll",), "A poll's results were shown."),
    Verb("reopened_poll", OWN + "reopened_poll", ("poll",), "A closed poll was reopened."),
    Verb(
        "answered",
        ADL + "answered",
        ("poll",),
        "A poll was answered live (with the vote keys) or in playback (with the room keys).",
        (
            _ext("changed", bool),
            _ext("change_count", int),
            _ext("scope", str),
            _ext("table_id", int, NoneType),
            *_room(required=False),
            _ext("kind", str),
            _ext("quiz", bool),
        ),
    ),
    Verb(
        "reacted",
        OWN + "reacted",
        ("live_session", "recording"),
        "A reaction, live or in a playback room (with the room keys).",
        (_ext("reaction", str, required=True), *_room(required=False)),
    ),
    Verb(
        "spoke",
        OWN + "spoke",
        ("live_session",),
        "A turn of talk, from Janus (`duration_ms` is its length; the talk meters sum it).",
    ),
    Verb("started_recording", OWN + "started_recording", ("recording",), "Recording started."),
    Verb("paused_recording", OWN + "paused_recording", ("recording",), "Recording paused."),
    Verb("resumed_recording", OWN + "resumed_recording", ("recording",), "Recording resumed."),
    Verb("stopped_recording", OWN + "stopped_recording", ("recording",), "Recording stopped."),
    # --- Courses ------------------------------------------------------------------------------
    Verb(
        "enrolled",
        OWN + "enrolled",
        ("user",),
        "A user was enrolled in a course.",
        (_ext("role", str, required=True),),
    ),
    Verb("unenrolled", OWN + "unenrolled", ("user",), "A user's enrollment ended."),
    # --- Recordings and playback -------------------------------------------------------------
    Verb(
        "uploaded",
        OWN + "uploaded",
        ("recording",),
        "A recording was uploaded.",
        (_ext("mime_type", str, required=True), _ext("size_bytes", int, required=True)),
    ),
    Verb(
        "configured",
        OWN + "configured",
        ("recording",),
        "A recording's settings changed.",
        (_ext("changed", list, required=True),),
    ),
    Verb("deleted", OWN + "deleted", ("recording",), "A recording was deleted."),
    Verb(
        "created_room",
        OWN + "created_room",
        ("recording",),
        "A playback room was created.",
        _room(_ext("invited", list, required=True)),
    ),
    Verb(
        "invited",
        OWN + "invited",
        ("recording",),
        "Users were invited to a playback room.",
        _room(_ext("invited", list, required=True)),
    ),
    Verb(
        "played",
        VIDEO + "played",
        ("recording",),
        "Playback started (in a room: with the room keys and the cause).",
        (*_room(required=False), _ext("cause", str)),
    ),
    Verb("paused", VIDEO + "paused", ("recording",), "A playback room paused.", _room()),
    Verb(
        "seeked",
        VIDEO + "seeked",
        ("recording",),
        "A playback room seeked.",
        _room(_ext("from_ms", int, required=True), _ext("to_ms", int, required=True)),
    ),
    Verb(
        "changed_rate",
        OWN + "changed_rate",
        ("recording",),
        "A playback room's speed changed.",
        _room(_ext("rate", float, required=True)),
    ),
    Verb(
        "commented",
        ADL + "commented",
        ("room_message",),
        "A chat message in a playback room.",
        _room(),
    ),
    Verb(
        "completed",
        ADL + "completed",
        ("recording",),
        "A learner finished watching a recording.",
        (_ext("played_segments", str, required=True), *_room(required=False)),
    ),
    Verb(
        "noted",
        OWN + "noted",
        ("note",),
        "A note was written.",
        (_ext("visibility", str, required=True), *_room(required=False)),
    ),
    Verb(
        "edited_note",
        OWN + "edited_note",
        ("note",),
        "A note was edited.",
        (_ext("visibility", str, required=True), *_room(required=False)),
    ),
    Verb(
        "deleted_note",
        OWN + "deleted_note",
        ("note",),
        "A note was deleted.",
        (_ext("visibility", str, required=True), *_room(required=False)),
    ),
    # Notifications (docs/notifications.md): every send and every open.
    Verb(
        "sent_notification",
        OWN + "sent_notification",
        ("notification",),
        "A notification went out on one channel (shown in the app, or emailed alone or in a digest).",
        (
            _ext("kind", str, required=True),
            _ext("channel", str, required=True),
            _ext("frequency", str, required=True),
        ),
    ),
    Verb(
        "opened_notification",
        OWN + "opened_notification",
        ("notification",),
        "A learner followed a notification's link (`via`: in_app or email); never a tracking pixel.",
        (
            _ext("kind", str, required=True),
            _ext("via", str, required=True),
            _ext("first", bool, required=True),
        ),
    ),
    # --- Reinforcement (docs/reinforcement.md) --------------------------------------------------
    Verb(
        "followup.planned",
        OWN + "followup.planned",
        ("live_session",),
        "A session's follow-up was planned (by its end or its recording's timeline).",
        (
            _ext("source", str, required=True),
            _ext("learners", int, required=True),
            _ext("items", int, required=True),
        ),
    ),
    Verb(
        "followup.sent",
        OWN + "followup.sent",
        ("live_session",),
        "A session's follow-up went out to its learners (actor: staff who sent it, or none).",
        (_ext("learners", int, required=True), _ext("cards", int, required=True)),
    ),
    Verb(
        "review.answered",
        OWN + "review.answered",
        ("review_card", "poll"),
        "A learner answered a review card (scheduled) or a past question on demand (practice).",
        (
            _ext("question_key", str, required=True),
            _ext("source", str, required=True),
            _ext("rating", int),
            _ext("due_at", str),
        ),
    ),
)

VERBS: dict[str, Verb] = {verb.name: verb for verb in _VERBS}
assert len(VERBS) == len(_VERBS), "a verb is registered twice"


def event_problems(*, verb: str, object_type: str, extensions) -> dict[str, str]:
    """What the registry has against one event, by field (empty: none)."""
    entry = VERBS.get(verb)
    if entry is None:
        return {"verb": f"Unknown verb {verb!r}: register it in analytics/verbs.py."}
    problems: dict[str, str] = {}
    if object_type not in entry.object_types:
        problems["object_type"] = (
            f"{verb!r} applies to {', '.join(entry.object_types)}, not {object_type!r}."
        )
    if not isinstance(extensions, dict):
        return problems
    unknown = sorted(key for key in extensions if entry.extension(key) is None)
    missing = sorted(
        ext.key for ext in entry.extensions if ext.required and ext.key not in extensions
    )
    wrong = sorted(
        key
        for key, value in extensions.items()
        if (ext := entry.extension(key)) is not None and not ext.accepts(value)
    )
    messages = []
    if unknown:
        messages.append(f"unknown keys for {verb!r}: {', '.join(unknown)}")
    if missing:
        messages.append(f"missing keys: {', '.join(missing)}")
    for key in wrong:
        messages.append(f"{key!r} must be {entry.extension(key).type_label()}")
    if messages:
        problems["extensions"] = "; ".join(messages) + " (see analytics/verbs.py)."
    return problems
