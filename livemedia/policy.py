"""Who may receive whom, from the room mode: the one rule of the media plane.

`room_state_get` reads everything the rule needs in four queries; the rest are
pure functions of that state, so every consumer (one per connected user) can
apply a mode change without further queries, and tests can check the rule
without Janus.

| mode | a learner at table t receives | staff receive |
|---|---|---|
| lecture, podium | the podium | the podium |
| table_talk | table t (+ the podium if it addresses all) | the podium |
| visiting k | t = k: table k + staff; else as table_talk | table k + the podium |
| stage k | table k + the podium | table k + the podium |

The podium is the instructors (always there) and the invited speakers. Nobody
receives themselves. A user without a table (observer, unseated learner)
receives what a learner of no table would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from classroom.models import LiveSession, PodiumSpeaker, RoomMode, Seat, SessionState
from courses.models import Enrollment, Role


@dataclass(frozen=True)
class RoomState:
    session_id: int
    course_id: int
    live: bool
    mode: str
    mode_table_id: int | None
    podium_addresses_all: bool
    table_of: dict[int, int] = field(default_factory=dict)  # learner → table
    instructors: tuple[int, ...] = ()
    staff: frozenset[int] = frozenset()  # instructors and TAs
    speakers: tuple[int, ...] = ()  # invited podium speakers, in invitation order
    observers: frozenset[int] = frozenset()

    @property
    def podium(self) -> tuple[int, ...]:
        seen: dict[int, None] = {}
        for user_id in (*self.instructors, *self.speakers):
            seen.setdefault(user_id, None)
        return tuple(seen)

    def table_members(self, table_id: int | None) -> list[int]:
        if table_id is None:
            return []
        return sorted(user for user, table in self.table_of.items() if table == table_id)


def room_state_get(session_id: int) -> RoomState:
    session = LiveSession.objects.get(pk=session_id)
    enrollments = Enrollment.objects.filter(
        course_id=session.course_id, is_active=True
    ).values_list("user_id", "role")
    instructors, staff, observers = [], set(), set()
    for user_id, role in enrollments:
        if role == Role.INSTRUCTOR:
            instructors.append(user_id)
            staff.add(user_id)
        elif role == Role.TA:
            staff.add(user_id)
        elif role == Role.OBSERVER:
            observers.add(user_id)
    speakers = PodiumSpeaker.objects.filter(
        session_id=session_id, removed_at__isnull=True
    ).order_by("invited_at", "id")
    return RoomState(
        session_id=session.pk,
        course_id=session.course_id,
        live=session.state == SessionState.LIVE,
        mode=session.mode,
        mode_table_id=session.mode_table_id,
        podium_addresses_all=session.podium_addresses_all,
        table_of=dict(
            Seat.objects.filter(course_id=session.course_id).values_list("user_id", "table_id")
        ),
        instructors=tuple(sorted(instructors)),
        staff=frozenset(staff),
        speakers=tuple(speakers.values_list("user_id", flat=True)),
        observers=frozenset(observers),
    )


def audible_sources(state: RoomState, user_id: int) -> frozenset[int]:
    """The users whose audio and video `user_id` may receive now."""
    if not state.live:
        return frozenset()
    podium = set(state.podium)
    mode, stage = state.mode, state.mode_table_id
    is_staff = user_id in state.staff
    table = None if is_staff else state.table_of.get(user_id)
    allowed: set[int] = set()
    if mode in (RoomMode.LECTURE, RoomMode.PODIUM):
        allowed |= podium
    elif mode == RoomMode.STAGE:
        allowed |= podium | set(state.table_members(stage))
    elif mode == RoomMode.VISITING:
        if is_staff:
            allowed |= podium | set(state.table_members(stage))
        elif table is not None and table == stage:
            allowed |= set(state.table_members(table)) | set(state.staff)
        else:
            allowed |= set(state.table_members(table))
            if state.podium_addresses_all:
                allowed |= podium
    elif mode == RoomMode.TABLE_TALK:
        allowed |= set(state.table_members(table))
        if state.podium_addresses_all or is_staff:
            allowed |= podium
    allowed.discard(user_id)
    return frozenset(allowed)


def may_publish(state: RoomState, user_id: int) -> bool:
    """Observers watch; everyone else publishes once (who hears it is the rule above)."""
    return user_id not in state.observers


def heard_by_all(state: RoomState) -> tuple[int, ...]:
    """Who the recording captures now (audio), in focus order: the first one
    with video is the recording's picture."""
    if not state.live:
        return ()
    podium = state.podium
    if state.mode in (RoomMode.LECTURE, RoomMode.PODIUM):
        return podium
    if state.mode == RoomMode.STAGE:
        members = tuple(state.table_members(state.mode_table_id))
        return members + tuple(user for user in podium if user not in members)
    if state.podium_addresses_all:
        return podium
    return ()
