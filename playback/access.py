"""Fetch-and-check for recordings and playback rooms: the only way views,
APIs and consumers obtain them.

Outsiders of the course get `recording_not_found` / `room_not_found`, exactly
as for an id that does not exist. Learners see ready recordings only. A room
opens to: its owner (alone), the members of its table and the course staff
(table rooms), the host and the people invited (ad-hoc rooms); platform
admins open everything."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from classroom.models import Seat
from core.errors import NotAuthenticatedError, NotFoundError
from courses.access import CourseAccess, CourseAction, MemberAccess, access_course
from playback.models import (
    PlaybackRoom,
    PlaybackRoomMember,
    Recording,
    RecordingStatus,
    RoomControl,
    RoomKind,
)


@dataclass(frozen=True)
class RecordingAccess(MemberAccess):
    recording: Recording
    course_access: CourseAccess
    table_id: int | None  # the user's persistent table in the course, if seated


def access_recording(
    *, user, recording_id: int, action: CourseAction | str = CourseAction.VIEW
) -> RecordingAccess:
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    not_found = NotFoundError(_("Recording not found."), code="recording_not_found")
    recording = (
        Recording.objects.select_related("course", "live_session").filter(pk=recording_id).first()
    )
    if recording is None:
        raise not_found
    try:
        course_access = access_course(user=user, course_id=recording.course_id)
    except NotFoundError as error:
        raise not_found from error
    if recording.status != RecordingStatus.READY and not course_access.is_staff:
        raise not_found
    table_id = (
        Seat.objects.filter(course_id=recording.course_id, user=user)
        .values_list("table_id", flat=True)
        .first()
    )
    access = RecordingAccess(recording=recording, course_access=course_access, table_id=table_id)
    access.require(action)
    return access


@dataclass(frozen=True)
class RoomAccess:
    room: PlaybackRoom
    recording_access: RecordingAccess

    @property
    def user(self):
        return self.recording_access.user

    @property
    def recording(self) -> Recording:
        return self.recording_access.recording

    @property
    def table_id(self) -> int | None:
        return self.recording_access.table_id

    @property
    def is_staff(self) -> bool:
        return self.recording_access.is_staff

    @property
    def may_participate(self) -> bool:
        return self.recording_access.may_participate

    @property
    def is_host(self) -> bool:
        return self.room.host_id == self.user.pk


def room_may_control(room: PlaybackRoom, user, *, may_participate: bool) -> bool:
    """Observers never steer; in a host-only room only the host does."""
    if not may_participate:
        return False
    return room.control == RoomControl.ANYONE or room.host_id == user.pk


def room_admits(room: PlaybackRoom, recording_access: RecordingAccess) -> bool:
    user = recording_access.user
    if recording_access.course_access.is_admin or room.host_id == user.pk:
        return True
    if room.kind == RoomKind.TABLE:
        return recording_access.is_staff or recording_access.table_id == room.table_id
    if room.kind == RoomKind.ADHOC:
        return PlaybackRoomMember.objects.filter(room=room, user=user).exists()
    return False


def access_playback_room(*, user, room_id: int) -> RoomAccess:
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError()
    not_found = NotFoundError(_("Playback room not found."), code="room_not_found")
    room = (
        PlaybackRoom.objects.select_related("table", "host")
        .defer("stream_heads")
        .filter(pk=room_id)
        .first()
    )
    if room is None:
        raise not_found
    try:
        recording_access = access_recording(user=user, recording_id=room.recording_id)
    except NotFoundError as error:
        raise not_found from error
    if not room_admits(room, recording_access):
        raise not_found
    return RoomAccess(room=room, recording_access=recording_access)
