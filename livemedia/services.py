"""Media services: the session's Janus room, feed ids, TURN credentials, the
mode hook and talk time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from analytics.selectors import session_talk_totals
from analytics.services import event_record
from classroom.models import LiveSession, Participant, Seat
from core.asyncdb import db_call
from courses.models import User
from livemedia import events
from livemedia.conf import media_conf
from livemedia.events import MEDIA_APPLY, SPEAKING, media_group  # noqa: F401 (public names)

logger = logging.getLogger(__name__)

ROOM_ID = re.compile(r"^rt(?P<session>\d+)-(?P<sig>[0-9a-f]{16})$")
FEED_ID = re.compile(r"^u(?P<user>\d+)-(?P<tag>[0-9a-f]{8})$")
ROOM_PUBLISHERS_MAX = 250  # a class of 150 + staff + reconnect overlap
TALK_FLUSH_DELAY = 1.0


def _sign(value: str, purpose: str) -> str:
    return hmac.new(
        media_conf().room_admin_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def room_id_for(session_id: int) -> str:
    """The session's one VideoRoom: unguessable, derived (no table to keep)."""
    return f"rt{session_id}-{_sign(str(session_id), 'room')[:16]}"


def room_secret_for(session_id: int) -> str:
    return _sign(str(session_id), "room-secret")[:32]


def session_for_room(room_id: str) -> int | None:
    match = ROOM_ID.match(str(room_id))
    if not match:
        return None
    session_id = int(match["session"])
    return session_id if hmac.compare_digest(room_id, room_id_for(session_id)) else None


def feed_id_new(user_id: int) -> str:
    return f"u{user_id}-{secrets.token_hex(4)}"


def feed_user(feed_id: str) -> int | None:
    match = FEED_ID.match(str(feed_id))
    return int(match["user"]) if match else None


def room_create_body(session_id: int) -> dict:
    conf = media_conf()
    return {
        "request": "create",
        "room": room_id_for(session_id),
        "admin_key": conf.room_admin_key,
        "permanent": False,
        "description": f"session {session_id}",
        "secret": room_secret_for(session_id),
        "is_private": True,
        # A subscription must name the private id of a participant of this
        # room: only Django's own handles have one.
        "require_pvtid": True,
        "publishers": ROOM_PUBLISHERS_MAX,
        "bitrate": conf.publisher_bitrate,
        "bitrate_cap": True,
        "fir_freq": 10,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "audiolevel_ext": True,
        "audiolevel_event": True,
        "audio_active_packets": conf.audio_active_packets,
        "audio_level_average": conf.audio_level_average,
        "notify_joining": False,
        "record": False,
        "rec_dir": conf.recordings_dir,
        "lock_record": True,
    }


# --- ICE ----------------------------------------------------------------------------


def ice_servers_for(user_id: int, now: float | None = None) -> list[dict]:
    """STUN/TURN for a browser. TURN credentials follow coturn's
    `use-auth-secret` scheme: username `<expiry>:<user>`, password the base64
    HMAC-SHA1 of the username with the shared secret; they expire by themselves."""
    servers: list[dict] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS and settings.TURN_SECRET:
        expiry = int((now or time.time()) + settings.TURN_TTL_SECONDS)
        username = f"{expiry}:{user_id}"
        digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                "username": username,
                "credential": base64.b64encode(digest).decode(),
            }
        )
    return servers


# --- Staff mute locks --------------------------------------------------------------

MUTE_LOCK_SECONDS = 12 * 3600


def mute_lock_key(session_id: int, user_id: int) -> str:
    return f"media:mute_lock:{session_id}:{user_id}"


def mute_locked(session_id: int, user_id: int) -> bool:
    """Staff muted this user and locked the microphone (they cannot unmute)."""
    return bool(cache.get(mute_lock_key(session_id, user_id)))


async def staff_mute(session_id: int, user_id: int, *, locked: bool) -> None:
    """Mute `user_id` everywhere; `locked` keeps them from unmuting."""
    if locked:
        cache.set(mute_lock_key(session_id, user_id), True, timeout=MUTE_LOCK_SECONDS)
    await events.force_muted(session_id, user_id, locked)


async def staff_unlock(session_id: int, user_id: int) -> None:
    cache.delete(mute_lock_key(session_id, user_id))
    await events.unlocked(session_id, user_id)


# --- The mode hook ----------------------------------------------------------------


def media_mode_applied(session_id: int) -> None:
    """Call after any change to who may hear whom (mode, podium, seating,
    session end, recording start/pause/stop): once the transaction commits,
    every media connection of the session re-applies the policy: it
    unsubscribes what is no longer allowed, subscribes what now is, and
    starts or stops recording its publisher. Publishers are never torn down."""
    events.mode_applied(session_id)


# --- Talk time ------------------------------------------------------------------------


def _talk_key(session_id: int, user_id: int) -> str:
    return f"media:talking:{session_id}:{user_id}"


def talk_event_apply(*, session_id: int, user_id: int, talking: bool, at: datetime) -> int | None:
    """A talking / stopped-talking event from Janus. A stop closes the open
    talk and records `spoke` with its duration; returns that duration (ms)."""
    key = _talk_key(session_id, user_id)
    if talking:
        cache.set(key, at.timestamp(), timeout=6 * 3600)
        return None
    started = cache.get(key)
    cache.delete(key)
    if started is None:
        return None
    duration_ms = max(0, int(round((at.timestamp() - started) * 1000)))
    session = LiveSession.objects.filter(pk=session_id).values("course_id").first()
    if session is None:
        return None
    with transaction.atomic():
        Participant.objects.update_or_create(
            session_id=session_id, user_id=user_id, defaults={"last_spoke_at": at}
        )
        event_record(
            actor=_user(user_id),
            verb="spoke",
            object_type="live_session",
            object_id=session_id,
            course_id=session["course_id"],
            live_session_id=session_id,
            duration_ms=duration_ms,
            occurred_at=datetime.fromtimestamp(started, tz=UTC),
        )
    return duration_ms


def _user(user_id: int):
    return User.objects.filter(pk=user_id).first()


def talking_now(session_id: int, user_ids) -> set[int]:
    keys = {_talk_key(session_id, user_id): user_id for user_id in user_ids}
    return {keys[key] for key in cache.get_many(list(keys))}


def talk_meters_get(session_id: int) -> dict:
    """Talk time per learner and per table so far, and who is talking now."""
    course_id = LiveSession.objects.values_list("course_id", flat=True).get(pk=session_id)
    totals = session_talk_totals(session_id)
    table_of = dict(Seat.objects.filter(course_id=course_id).values_list("user_id", "table_id"))
    talking = talking_now(session_id, set(table_of) | set(totals))
    learners = {}
    tables: dict[int, dict] = {}
    for user_id in set(totals) | talking:
        if user_id is None:
            continue
        learners[user_id] = {
            "total_ms": int(totals.get(user_id) or 0),
            "talking": user_id in talking,
        }
        table_id = table_of.get(user_id)
        if table_id is not None:
            entry = tables.setdefault(table_id, {"total_ms": 0, "talking": 0})
            entry["total_ms"] += learners[user_id]["total_ms"]
            entry["talking"] += int(user_id in talking)
    return {"at": timezone.now(), "learners": learners, "tables": tables}


async def talk_changed_flush(session_id: int) -> None:
    """The coalesced staff talk meter (`talk.changed`, docs/realtime.md)."""
    # Runs from a timer after the request that scheduled it has finished: not
    # on that request's thread-sensitive executor.
    data = await db_call(talk_meters_get)(session_id)
    await events.talk_changed(session_id, data)


# --- Media health (docs/media.md "When Janus goes away") --------------------------------

_media_up: dict[int, bool] = {}  # session id → last state this process reported


async def media_health_report(session_id: int, up: bool) -> None:
    """Tell the session's staff that audio/video went down or came back
    (`media.health` on the live socket's staff stream; the console shows a
    banner). Each process reports a change once, however many of its media
    connections noticed it; from several processes staff may get the same
    state twice, which is harmless."""
    if _media_up.get(session_id, True) == up:
        return
    _media_up[session_id] = up
    await events.media_health(session_id, up)
