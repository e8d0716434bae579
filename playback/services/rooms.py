"""Playback rooms: opening and inviting, presence, and the server-owned play
state that keeps every member at the same media position.

The state says: at server time `reference_ms` the media is at `position_ms`;
while playing it advances at `rate` and stops by itself at `until_ms` (a poll
that pauses). Play, pause and rate changes take effect LEAD_MS in the future,
so members whose messages arrive at different moments still act at the same
instant (their clocks are synchronised by pings). A group seek waits for the
present members to report `ready` for at most SEEK_READY_TIMEOUT_MS, a poll
for its answers for at most the recording's poll timeout: no room can hang on
one slow or silent member. Every write runs under the room row lock."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import EventMode
from analytics.services import event_record
from classroom.models import Table
from classroom.services.room import REACTIONS
from core import kv
from core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from core.rooms import actions
from core.rooms.flushes import flush_on_commit
from core.rooms.limits import rate_limit
from courses.models import Enrollment, Role
from playback import events
from playback.access import RecordingAccess, room_may_control
from playback.models import (
    PlaybackClientAction,
    PlaybackConnection,
    PlaybackRoom,
    PlaybackRoomMember,
    Recording,
    RoomControl,
    RoomKind,
    RoomMessage,
    RoomState,
    WaitReason,
    WatchProgress,
)
from playback.selectors import answered_user_ids, recording_polls_get, room_members_get
from playback.services.progress import contiguous_end
from playback.services.recordings import recording_bounds, recording_settings_get

REACTIONS_DELAY = 0.5  # one burst per half second per room
LEAD_MS = 300  # play/pause/rate take effect this far in the future
SEEK_READY_TIMEOUT_MS = 5000
RATES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
PRESENCE_STALE_SECONDS = 45  # a connection not seen for this long does not count
SEEN_WRITE_SECONDS = 10
CHAT_MAX_LENGTH = 2000
CHAT_LIMIT = (5, 5)  # messages per seconds per user
REACTION_LIMIT = (10, 5)
ADHOC_MEMBERS_MAX = 12
END_RESTART_MS = 250  # "play" this close to the end starts over
POLL_REVIEW_MS = 5000  # a group keeps a poll's results on screen this long before playing on


def now_ms() -> int:
    return int(time.time() * 1000)


# --- Pure state arithmetic ------------------------------------------------------------------


def position_at(room: PlaybackRoom, t_ms: int, end_ms: int | None = None) -> int:
    """The media position of the room at server time t_ms."""
    if room.state != RoomState.PLAYING:
        return room.position_ms
    advanced = room.position_ms + max(0, t_ms - room.reference_ms) * room.rate
    limit = room.until_ms if room.until_ms is not None else end_ms
    if limit is not None:
        advanced = min(advanced, max(limit, room.position_ms))
    return int(advanced)


def stop_reached_at(room: PlaybackRoom) -> int | None:
    """Server time at which a playing room reaches `until_ms`."""
    if room.state != RoomState.PLAYING or room.until_ms is None:
        return None
    return room.reference_ms + int(max(0, room.until_ms - room.position_ms) / room.rate)


def next_check_ms(state: dict[str, Any]) -> int | None:
    """When a room in this state (a `room.state` payload) must be looked at
    again by the server: the poll stop, or the end of a wait."""
    if state.get("state") == RoomState.PLAYING and state.get("until_ms") is not None:
        return state["at_ms"] + int(
            max(0, state["until_ms"] - state["position_ms"]) / (state.get("rate") or 1.0)
        )
    waiting = state.get("waiting")
    if state.get("state") == RoomState.WAITING and waiting and waiting.get("deadline_ms"):
        return waiting["deadline_ms"]
    return None


# --- Helpers ---------------------------------------------------------------------------------


def room_lock(room_id: int) -> PlaybackRoom:
    room = (
        PlaybackRoom.objects.select_for_update(of=("self",))
        .select_related("recording")
        .filter(pk=room_id)
        .first()
    )
    if room is None:
        raise NotFoundError(_("Playback room not found."), code="room_not_found")
    return room


def room_event_record(
    room: PlaybackRoom, actor, verb: str, *, media_ms: int | None = None, **fields
) -> None:
    extensions = {"room_id": room.pk, "room_kind": room.kind, **fields.pop("extensions", {})}
    event_record(
        actor=actor,
        verb=verb,
        object_type=fields.pop("object_type", "recording"),
        object_id=fields.pop("object_id", room.recording_id),
        course_id=room.recording.course_id,
        live_session_id=room.recording.live_session_id,
        recording_id=room.recording_id,
        mode=EventMode.PLAYBACK,
        media_time_ms=max(0, media_ms) if media_ms is not None else None,
        extensions=extensions,
        **fields,
    )


def media_ms_clean(recording: Recording, value: Any, field: str = "media_ms") -> int:
    """A position in the recording, in ms: a number from 0 to its duration.
    Anything else (negative, beyond the end, 2**63) is refused with `invalid`,
    never clamped into something the client did not ask for."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(
            _("%(field)s must be a number of milliseconds.") % {"field": field},
            code="invalid",
            details={field: "integer"},
        )
    duration = recording.duration_ms or 0
    if not 0 <= value <= duration:
        raise ValidationError(
            _("%(field)s must be between 0 and %(duration)s ms (the recording's length).")
            % {"field": field, "duration": duration},
            code="invalid",
            details={field: "out_of_range", "duration_ms": duration},
        )
    return int(value)


def present_user_ids(room_id: int) -> set[int]:
    since = timezone.now() - timedelta(seconds=PRESENCE_STALE_SECONDS)
    return set(
        PlaybackConnection.objects.filter(room_id=room_id, seen_at__gte=since).values_list(
            "user_id", flat=True
        )
    )


def participant_ids(recording: Recording, user_ids: set[int]) -> set[int]:
    """Of these users, those a poll waits for: the learners. Staff visiting a
    room may answer but never hold it up; observers cannot answer."""
    if not user_ids:
        return set()
    return set(
        Enrollment.objects.filter(
            course_id=recording.course_id,
            user_id__in=user_ids,
            is_active=True,
            role=Role.LEARNER,
        ).values_list("user_id", flat=True)
    )


def members_payload(room: PlaybackRoom) -> list[dict[str, Any]]:
    return room_members_get(room=room)


# --- Opening rooms ---------------------------------------------------------------------------


def room_open(
    *,
    access: RecordingAccess,
    kind: str,
    table_id: int | None = None,
    invite_user_ids: list[int] | None = None,
    control: str | None = None,
) -> tuple[PlaybackRoom, bool]:
    """The room to watch in: the user's own (alone), their table's (one per
    recording and table, created on first use), or a new ad-hoc room with the
    people invited. Returns (room, created)."""
    recording, user = access.recording, access.user
    if kind not in RoomKind.values:
        raise ValidationError(_("Unknown room type."), code="invalid", details={"kind": kind})
    if control is not None and control not in RoomControl.values:
        raise ValidationError(
            _("Unknown control policy."), code="invalid", details={"control": control}
        )
    start, _end = recording_bounds(recording)
    now = now_ms()
    if kind == RoomKind.SOLO:
        progress = WatchProgress.objects.filter(recording=recording, user=user).first()
        position = start
        if progress and not progress.completed_at:
            position = max(start, min(progress.position_ms, _end))
        defaults = {
            "host": user,
            "control": RoomControl.HOST,
            "position_ms": position,
            "reference_ms": now,
        }
        room, created = _get_or_create(recording=recording, kind=kind, host=user, defaults=defaults)
        if not created and progress is not None and not progress.completed_at:
            _solo_resume(room.pk, progress, position)
            room.refresh_from_db()
        return room, created
    if kind == RoomKind.TABLE:
        if table_id is None or not access.is_staff:
            table_id = access.table_id
        if table_id is None:
            raise ConflictError(
                _("You are not seated at a table in this course."), code="not_seated"
            )
        if not Table.objects.filter(pk=table_id, course_id=recording.course_id).exists():
            raise NotFoundError(_("No such table."), code="table_not_found")
        defaults = {
            "host": user,
            "control": control or RoomControl.ANYONE,
            "position_ms": start,
            "reference_ms": now,
        }
        return _get_or_create(recording=recording, kind=kind, table_id=table_id, defaults=defaults)
    if not access.may_participate:
        raise PermissionDeniedError(_("Observers can watch but not take part."), code="forbidden")
    invitees = _invitees_clean(recording, user, invite_user_ids or [])
    with transaction.atomic():
        room = PlaybackRoom.objects.create(
            recording=recording,
            kind=RoomKind.ADHOC,
            host=user,
            control=control or RoomControl.ANYONE,
            position_ms=start,
            reference_ms=now,
        )
        PlaybackRoomMember.objects.create(room=room, user=user, invited_by=user)
        PlaybackRoomMember.objects.bulk_create(
            [PlaybackRoomMember(room=room, user_id=uid, invited_by=user) for uid in invitees]
        )
        room.recording = recording
        room_event_record(room, user, "created_room", extensions={"invited": sorted(invitees)})
    return room, True


def _solo_resume(room_id: int, progress: WatchProgress, position: int) -> None:
    """A new visit to my room alone starts where I last watched: when I
    watched after this room last moved (with my table, in a group, or
    heartbeats after the room stopped) and nobody is in the room now, it
    waits there, paused."""
    with transaction.atomic():
        room = room_lock(room_id)
        if present_user_ids(room.pk) or room.state == RoomState.WAITING:
            return
        heard = progress.last_heartbeat_at or progress.updated_at
        if heard is None or heard <= room.updated_at or room.position_ms == position:
            return
        _set_paused(room, position, now_ms())
        _save_state(room)
        events.room_state_changed(room, cause="resume_position")


def _get_or_create(*, recording, kind, defaults, **lookup) -> tuple[PlaybackRoom, bool]:
    room = PlaybackRoom.objects.filter(recording=recording, kind=kind, **lookup).first()
    if room is not None:
        return room, False
    try:
        with transaction.atomic():
            room = PlaybackRoom.objects.create(
                recording=recording, kind=kind, **{**defaults, **lookup}
            )
    except IntegrityError:  # someone else opened it a moment ago
        return PlaybackRoom.objects.get(recording=recording, kind=kind, **lookup), False
    return room, True


def _invitees_clean(recording: Recording, inviter, user_ids: list[int]) -> set[int]:
    if not isinstance(user_ids, list) or any(
        isinstance(uid, bool) or not isinstance(uid, int) or not 0 < uid < 2**63 for uid in user_ids
    ):
        raise ValidationError(
            _("Invite people by their user ids."), code="invalid", details={"user_ids": "list"}
        )
    wanted = set(user_ids) - {inviter.pk}
    if len(wanted) > ADHOC_MEMBERS_MAX:
        raise ValidationError(
            _("A group has at most %(n)d people.") % {"n": ADHOC_MEMBERS_MAX + 1},
            code="too_many_members",
        )
    members = set(
        Enrollment.objects.filter(
            course_id=recording.course_id, user_id__in=wanted, is_active=True
        ).values_list("user_id", flat=True)
    )
    if members != wanted:
        raise NotFoundError(
            _("Only people of this course can be invited."),
            code="user_not_found",
            details={"user_ids": sorted(wanted - members)},
        )
    return members


def room_invite(*, room_id: int, actor, user_ids: list[int]) -> list[int]:
    """Invite more people into an ad-hoc room (any member may). Returns the
    ids newly invited."""
    with transaction.atomic():
        room = room_lock(room_id)
        if room.kind != RoomKind.ADHOC:
            raise ConflictError(_("Only invited groups take invitations."), code="not_adhoc_room")
        if not PlaybackRoomMember.objects.filter(room=room, user=actor).exists():
            raise PermissionDeniedError(
                _("Only members of this group can invite."), code="forbidden"
            )
        wanted = _invitees_clean(room.recording, actor, user_ids)
        existing = set(
            PlaybackRoomMember.objects.filter(room=room).values_list("user_id", flat=True)
        )
        new = sorted(wanted - existing)
        if len(existing) + len(new) > ADHOC_MEMBERS_MAX + 1:
            raise ValidationError(
                _("A group has at most %(n)d people.") % {"n": ADHOC_MEMBERS_MAX + 1},
                code="too_many_members",
            )
        PlaybackRoomMember.objects.bulk_create(
            [PlaybackRoomMember(room=room, user_id=uid, invited_by=actor) for uid in new]
        )
        if new:
            events.room_members_changed(room, members_payload(room))
            room_event_record(room, actor, "invited", extensions={"invited": new})
    return new


def room_control_set(*, room_id: int, actor, control: str) -> PlaybackRoom:
    if control not in RoomControl.values:
        raise ValidationError(
            _("Unknown control policy."), code="invalid", details={"control": control}
        )
    with transaction.atomic():
        room = room_lock(room_id)
        if room.host_id != actor.pk:
            raise PermissionDeniedError(_("Only the host can change this."), code="host_only")
        if room.kind == RoomKind.SOLO:
            raise ConflictError(_("You watch alone in this room."), code="solo_room")
        if room.control != control:
            room.control = control
            room.save(update_fields=["control", "updated_at"])
            events.room_settings_changed(room)
    return room


# --- Presence ----------------------------------------------------------------------------------


def room_join(*, room_id: int, user, channel: str) -> bool:
    """Record an open socket. The first one of a user announces them; a late
    joiner never changes where the room is, but a playing room that skipped a
    poll everyone present had answered stops there again for the newcomer."""
    with transaction.atomic():
        room = room_lock(room_id)
        now = timezone.now()
        first = not PlaybackConnection.objects.filter(
            room=room, user=user, seen_at__gte=now - timedelta(seconds=PRESENCE_STALE_SECONDS)
        ).exists()
        PlaybackConnection.objects.update_or_create(
            room=room,
            channel=channel[:200],
            defaults={"user": user, "connected_at": now, "seen_at": now},
        )
        if first:
            events.room_members_changed(room, members_payload(room))
            room_event_record(room, user, "joined", media_ms=position_at(room, now_ms()))
            if room.state == RoomState.PLAYING:
                _restop(room, cause="member_joined")
    return first


def room_leave(*, room_id: int, user, channel: str) -> bool:
    """Forget a socket; the last one of a user announces their leaving and
    no longer holds up a wait."""
    with transaction.atomic():
        room = room_lock(room_id)
        connection = PlaybackConnection.objects.filter(room=room, channel=channel[:200]).first()
        if connection is None:
            return False
        connection.delete()
        now = timezone.now()
        last = not PlaybackConnection.objects.filter(
            room=room, user=user, seen_at__gte=now - timedelta(seconds=PRESENCE_STALE_SECONDS)
        ).exists()
        if last:
            events.room_members_changed(room, members_payload(room))
            room_event_record(
                room,
                user,
                "left",
                media_ms=position_at(room, now_ms()),
                duration_ms=int((now - connection.connected_at).total_seconds() * 1000),
            )
            if not present_user_ids(room.pk) and room.state != RoomState.PAUSED:
                # Nobody left: stop where the room is, so whoever comes back
                # (or the owner of a room alone) resumes from there.
                now = now_ms()
                _set_paused(room, position_at(room, now, recording_bounds(room.recording)[1]), now)
                _save_state(room)
                events.room_state_changed(room, cause="empty")
            elif room.state == RoomState.WAITING:
                room_wait_maybe_finish(room)
    return last


def room_seen(*, room_id: int, channel: str) -> None:
    """A ping: the socket is alive (written at most every SEEN_WRITE_SECONDS)."""
    now = timezone.now()
    PlaybackConnection.objects.filter(
        room_id=room_id,
        channel=channel[:200],
        seen_at__lt=now - timedelta(seconds=SEEN_WRITE_SECONDS),
    ).update(seen_at=now)


def client_action_apply(*, room_id: int, user, client_id: str | None, service, **kwargs):
    """Apply a client's frame once (core/rooms/actions.py): returns (applied,
    result); a repeated id returns (False, the first result)."""
    return actions.action_apply(
        PlaybackClientAction,
        scope=("room", room_id),
        user=user,
        client_id=client_id,
        service=service,
        **kwargs,
    )


# --- The play state ----------------------------------------------------------------------------


def _require_control(room: PlaybackRoom, actor, may_participate: bool) -> None:
    if not room_may_control(room, actor, may_participate=may_participate):
        if not may_participate:
            raise PermissionDeniedError(
                _("Observers can watch but not take part."), code="forbidden"
            )
        raise PermissionDeniedError(
            _("Only the host controls playback in this room."), code="host_only"
        )


def _clear_wait(room: PlaybackRoom) -> None:
    room.waiting_reason = ""
    room.waiting_poll = None
    room.waiting_deadline_ms = None
    room.waiting_ready = []
    room.resume_playing = False


def _save_state(room: PlaybackRoom) -> None:
    room.save(
        update_fields=[
            "state",
            "position_ms",
            "rate",
            "reference_ms",
            "until_ms",
            "resume_playing",
            "waiting_reason",
            "waiting_poll",
            "waiting_deadline_ms",
            "waiting_ready",
            "updated_at",
        ]
    )


def _next_stop(room: PlaybackRoom, position: int) -> int | None:
    """The next poll after `position` where the room pauses: polls replayed at
    all, when the recording pauses at polls, that some present member has
    still to answer."""
    recording = room.recording
    settings = recording_settings_get(recording)
    if not settings["pause_at_polls"]:
        return None
    _start, end = recording_bounds(recording)
    participants = participant_ids(recording, present_user_ids(room.pk))
    if not participants:
        return None
    for item in recording_polls_get(recording=recording):
        if not item.replays or item.offset_ms <= position or item.offset_ms >= end:
            continue
        if participants <= answered_user_ids(poll=item.poll, user_ids=participants):
            continue
        return item.offset_ms
    return None


def _start_playing(room: PlaybackRoom, position: int, at_ms: int) -> None:
    start, end = recording_bounds(room.recording)
    room.state = RoomState.PLAYING
    room.position_ms = max(start, min(position, end))
    room.reference_ms = at_ms
    _clear_wait(room)
    room.until_ms = _next_stop(room, room.position_ms)


def _set_paused(room: PlaybackRoom, position: int, at_ms: int) -> None:
    room.state = RoomState.PAUSED
    room.position_ms = position
    room.reference_ms = at_ms
    room.until_ms = None
    _clear_wait(room)


def _restop(room: PlaybackRoom, *, cause: str) -> None:
    """Recompute where a playing room stops next (presence changed); position
    and reference stay, so nobody jumps."""
    stop = _next_stop(room, position_at(room, now_ms()))
    if stop != room.until_ms:
        room.until_ms = stop
        room.save(update_fields=["until_ms", "updated_at"])
        events.room_state_changed(room, cause=cause)


def room_play(*, room_id: int, actor, may_participate: bool) -> dict[str, Any]:
    with transaction.atomic():
        room = room_lock(room_id)
        _require_control(room, actor, may_participate)
        if room.state == RoomState.PLAYING:
            return {"changed": False}
        start, end = recording_bounds(room.recording)
        at = now_ms() + LEAD_MS
        cause = "resume" if room.state == RoomState.WAITING else "play"
        position = room.position_ms
        if position >= end - END_RESTART_MS:
            position = start
        _start_playing(room, position, at)
        _save_state(room)
        seq = events.room_state_changed(room, cause=cause, by=actor)
        room_event_record(
            room, actor, "played", media_ms=room.position_ms, extensions={"cause": cause}
        )
    return {"changed": True, "seq": seq, "at_ms": at}


def room_pause(*, room_id: int, actor, may_participate: bool) -> dict[str, Any]:
    with transaction.atomic():
        room = room_lock(room_id)
        _require_control(room, actor, may_participate)
        if room.state == RoomState.PAUSED:
            return {"changed": False}
        _start, end = recording_bounds(room.recording)
        at = now_ms() + LEAD_MS
        if room.state == RoomState.PLAYING:
            position = position_at(room, at, end)
        else:
            position, at = room.position_ms, now_ms()
        _set_paused(room, position, at)
        _save_state(room)
        seq = events.room_state_changed(room, cause="pause", by=actor)
        room_event_record(room, actor, "paused", media_ms=position)
    return {"changed": True, "seq": seq, "position_ms": position, "at_ms": at}


def _frontier_ms(recording: Recording, user) -> tuple[int, bool]:
    """How far the user has watched without gaps from the start, and whether
    they completed the recording."""
    start, _end = recording_bounds(recording)
    progress = WatchProgress.objects.filter(recording=recording, user=user).first()
    if progress is None:
        return start, False
    return contiguous_end(progress.segments, start), progress.completed_at is not None


SKIP_TOLERANCE_MS = 2000


def room_seek(
    *, room_id: int, actor, may_participate: bool, is_staff: bool, position_ms: Any
) -> dict[str, Any]:
    """Move the room. A playing room waits (at most SEEK_READY_TIMEOUT_MS) for
    its present members to load the new position, then plays; a paused room
    just moves. Before completing, forward skipping may be off for learners
    (backward always works)."""
    with transaction.atomic():
        room = room_lock(room_id)
        _require_control(room, actor, may_participate)
        recording = room.recording
        start, end = recording_bounds(recording)
        target = max(start, min(media_ms_clean(recording, position_ms, "position_ms"), end))
        now = now_ms()
        current = position_at(room, now, end)
        if (
            target > current
            and not is_staff
            and not recording_settings_get(recording)["forward_skip"]
        ):
            frontier, completed = _frontier_ms(recording, actor)
            if not completed and target > frontier + SKIP_TOLERANCE_MS:
                raise PermissionDeniedError(
                    _("Skipping ahead opens once you have watched the recording."),
                    code="skip_forbidden",
                    details={"frontier_ms": frontier},
                )
        playing = room.state == RoomState.PLAYING or (
            room.state == RoomState.WAITING and room.resume_playing
        )
        if playing:
            _clear_wait(room)
            room.state = RoomState.WAITING
            room.waiting_reason = WaitReason.SEEK
            room.waiting_deadline_ms = now + SEEK_READY_TIMEOUT_MS
            room.resume_playing = True
            room.position_ms = target
            room.reference_ms = now
            room.until_ms = None
        else:
            _set_paused(room, target, now)
        _save_state(room)
        seq = events.room_state_changed(room, cause="seek", by=actor)
        room_event_record(
            room,
            actor,
            "seeked",
            media_ms=target,
            extensions={"from_ms": current, "to_ms": target},
        )
    return {"changed": True, "seq": seq, "position_ms": target}


def room_rate_set(*, room_id: int, actor, may_participate: bool, rate: Any) -> dict[str, Any]:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or float(rate) not in RATES:
        raise ValidationError(
            _("Choose a speed from 0.5× to 2×."), code="invalid_rate", details={"rate": list(RATES)}
        )
    with transaction.atomic():
        room = room_lock(room_id)
        _require_control(room, actor, may_participate)
        if room.rate == float(rate):
            return {"changed": False}
        _start, end = recording_bounds(room.recording)
        if room.state == RoomState.PLAYING:
            at = now_ms() + LEAD_MS
            room.position_ms = position_at(room, at, end)
            room.reference_ms = at
        room.rate = float(rate)
        _save_state(room)
        seq = events.room_state_changed(room, cause="rate", by=actor)
        room_event_record(
            room, actor, "changed_rate", media_ms=room.position_ms, extensions={"rate": room.rate}
        )
    return {"changed": True, "seq": seq}


def room_ready(*, room_id: int, user, state_seq: Any) -> dict[str, Any]:
    """A member loaded the position of the wait announced by frame `state_seq`.
    When every present member is ready, the room plays."""
    if isinstance(state_seq, bool) or not isinstance(state_seq, int):
        raise ValidationError(
            _("'seq' must be an integer."), code="invalid", details={"seq": "integer"}
        )
    with transaction.atomic():
        room = room_lock(room_id)
        if (
            room.state != RoomState.WAITING
            or room.waiting_reason != WaitReason.SEEK
            or room.state_seq != state_seq
        ):
            return {"stale": True}
        ready = set(room.waiting_ready or [])
        if user.pk in ready:
            return {"stale": False}
        ready.add(user.pk)
        room.waiting_ready = sorted(ready)
        if not room_wait_maybe_finish(room):
            room.save(update_fields=["waiting_ready", "updated_at"])
            events.emit(
                room,
                "room.ready_changed",
                {"state_seq": room.state_seq, "ready": room.waiting_ready},
            )
    return {"stale": False}


def room_wait_maybe_finish(room: PlaybackRoom) -> bool:
    """End a wait that nobody present holds up any more. True if it ended."""
    present = present_user_ids(room.pk)
    if room.waiting_reason == WaitReason.SEEK:
        done = present <= set(room.waiting_ready or [])
        cause = "ready"
    else:
        participants = participant_ids(room.recording, present)
        answered = (
            answered_user_ids(poll=room.waiting_poll, user_ids=participants)
            if room.waiting_poll is not None
            else set()
        )
        done = room.waiting_poll is None or participants <= answered
        cause = "answered"
        if done and room.waiting_poll is not None and participants:
            # Everyone answered: the room stays on the poll while its results
            # are read (docs/playback.md, "Polls").
            _poll_review_begin(room, answered & participants)
            return True
    if not done:
        return False
    _end_wait(room, cause=cause)
    return True


def _poll_review_begin(room: PlaybackRoom, answered: set[int]) -> None:
    """Keep a poll wait everyone present has answered, so each learner reads
    their result: alone until they continue (no deadline), in a group for
    POLL_REVIEW_MS (never longer than the wait had left)."""
    if room.kind == RoomKind.SOLO:
        deadline = None
    else:
        deadline = now_ms() + POLL_REVIEW_MS
        if room.waiting_deadline_ms is not None:
            deadline = min(deadline, room.waiting_deadline_ms)
    ready = sorted(answered)
    if room.waiting_deadline_ms == deadline and list(room.waiting_ready or []) == ready:
        return
    room.waiting_deadline_ms = deadline
    room.waiting_ready = ready
    room.save(update_fields=["waiting_deadline_ms", "waiting_ready", "updated_at"])
    events.room_state_changed(room, cause="review")


def poll_review(room: PlaybackRoom) -> bool:
    """Whether the room waits at a poll that every learner present has
    answered: its results are on screen until it plays on."""
    if room.state != RoomState.WAITING or room.waiting_reason != WaitReason.POLL:
        return False
    if room.waiting_poll_id is None:
        return False
    participants = participant_ids(room.recording, present_user_ids(room.pk))
    return bool(participants) and participants <= answered_user_ids(
        poll=room.waiting_poll, user_ids=participants
    )


def _end_wait(room: PlaybackRoom, *, cause: str, by=None) -> None:
    if room.resume_playing:
        _start_playing(room, room.position_ms, now_ms() + LEAD_MS)
    else:
        _set_paused(room, room.position_ms, now_ms())
    _save_state(room)
    events.room_state_changed(room, cause=cause, by=by)


def room_resume(*, room_id: int, actor, may_participate: bool) -> dict[str, Any]:
    """End a wait now (the host, or anyone when anyone controls)."""
    with transaction.atomic():
        room = room_lock(room_id)
        _require_control(room, actor, may_participate)
        if room.state != RoomState.WAITING:
            raise ConflictError(_("The room is not waiting."), code="not_waiting")
        reason = room.waiting_reason
        _end_wait(room, cause="resume", by=actor)
        room_event_record(
            room,
            actor,
            "played",
            media_ms=room.position_ms,
            extensions={"cause": f"resume_{reason}"},
        )
    return {"changed": True}


def room_tick(*, room_id: int) -> str | None:
    """Do what is due at this moment: stop at a poll, or end a wait whose time
    ran out. Any process may call it any number of times (each member's
    socket schedules one): the row lock and the re-check make it idempotent.
    Returns what happened."""
    peek = PlaybackRoom.objects.filter(pk=room_id).first()
    if peek is None or not _tick_due(peek, now_ms()):
        return None
    with transaction.atomic():
        room = room_lock(room_id)
        now = now_ms()
        if not _tick_due(room, now):
            return None
        if room.state == RoomState.WAITING:
            cause = "answered" if poll_review(room) else "timeout"
            _end_wait(room, cause=cause)
            return cause
        return _stop_at_poll(room, now)


def _tick_due(room: PlaybackRoom, now: int) -> bool:
    if room.state == RoomState.WAITING:
        return room.waiting_deadline_ms is not None and room.waiting_deadline_ms <= now
    reached = stop_reached_at(room)
    return reached is not None and reached <= now


def _stop_at_poll(room: PlaybackRoom, now: int) -> str:
    recording = room.recording
    stop = room.until_ms
    reached = stop_reached_at(room) or now
    item = next(
        (i for i in recording_polls_get(recording=recording) if i.replays and i.offset_ms == stop),
        None,
    )
    participants = participant_ids(recording, present_user_ids(room.pk))
    answered = answered_user_ids(poll=item.poll, user_ids=participants) if item else set()
    if item is None or not participants or participants <= answered:
        # Nobody present needs it any more: play on to the next stop.
        room.until_ms = _next_stop(room, stop)
        room.save(update_fields=["until_ms", "updated_at"])
        events.room_state_changed(room, cause="poll_skipped")
        return "poll_skipped"
    timeout_s = recording_settings_get(recording)["poll_timeout_seconds"]
    room.state = RoomState.WAITING
    room.position_ms = stop
    room.reference_ms = reached
    room.until_ms = None
    room.waiting_reason = WaitReason.POLL
    room.waiting_poll = item.poll
    room.waiting_deadline_ms = now + timeout_s * 1000
    room.waiting_ready = sorted(answered)
    room.resume_playing = True
    _save_state(room)
    events.room_state_changed(room, cause="poll")
    return "poll"


# --- Chat and reactions ---------------------------------------------------------------------------


def room_chat_send(
    *, room_id: int, user, may_participate: bool, body: Any, media_ms: Any
) -> RoomMessage:
    if not may_participate:
        raise PermissionDeniedError(_("Observers can watch but not take part."), code="forbidden")
    body = body.strip() if isinstance(body, str) else ""
    if not body:
        raise ValidationError(_("The message is empty."), code="message_empty")
    if len(body) > CHAT_MAX_LENGTH:
        raise ValidationError(
            _("A message has at most %(n)d characters.") % {"n": CHAT_MAX_LENGTH},
            code="message_too_long",
        )
    found = PlaybackRoom.objects.select_related("recording").filter(pk=room_id).first()
    if found is None:
        raise NotFoundError(_("Playback room not found."), code="room_not_found")
    media = media_ms_clean(found.recording, media_ms)  # a refused frame costs no quota
    limit, seconds = CHAT_LIMIT
    rate_limit(f"playback:chat:{room_id}:{user.pk}", limit, seconds)
    with transaction.atomic():
        room = room_lock(room_id)
        message = RoomMessage.objects.create(room=room, author=user, body=body, media_ms=media)
        events.chat_posted(room, message)
        room_event_record(
            room,
            user,
            "commented",
            media_ms=media,
            response=body,
            object_type="room_message",
            object_id=message.pk,
        )
    return message


def room_reaction_send(
    *, room_id: int, user, may_participate: bool, kind: Any, media_ms: Any
) -> None:
    if not may_participate:
        raise PermissionDeniedError(_("Observers can watch but not take part."), code="forbidden")
    if kind not in REACTIONS:
        raise ValidationError(
            _("Unknown reaction."), code="invalid_reaction", details={"kind": list(REACTIONS)}
        )
    room = PlaybackRoom.objects.select_related("recording").filter(pk=room_id).first()
    if room is None:
        raise NotFoundError(_("Playback room not found."), code="room_not_found")
    media = media_ms_clean(room.recording, media_ms)  # a refused frame costs no quota
    limit, seconds = REACTION_LIMIT
    rate_limit(f"playback:reaction:{room_id}:{user.pk}", limit, seconds)
    room_event_record(room, user, "reacted", media_ms=media, extensions={"reaction": kind})
    kv.counter_add(f"playback:reactions:{room_id}:{kind}")
    flush_on_commit(
        f"playback-reactions:{room_id}",
        REACTIONS_DELAY,
        lambda: events.reactions_burst_flush(room_id),
    )


def reaction_burst_take(room_id: int) -> dict[str, int]:
    """The reactions counted since the last burst, reset to zero."""
    keys = [f"playback:reactions:{room_id}:{kind}" for kind in REACTIONS]
    return {key.rsplit(":", 1)[1]: value for key, value in kv.counters_take(keys).items()}
