"""Who may open a recording or a playback room (playback.access)."""

from __future__ import annotations

import pytest

from core.errors import NotAuthenticatedError, NotFoundError, PermissionDeniedError
from courses.models import Role
from playback.access import access_playback_room, access_recording
from playback.models import RecordingStatus
from playback.services import rooms
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_members_of_the_course_open_its_recordings(recording, learner, observer, instructor):
    for user in (learner, observer, instructor):
        assert access_recording(user=user, recording_id=recording.pk).recording == recording


def test_another_course_or_a_missing_id_is_not_found(recording, outsider, learner):
    for user, recording_id in ((outsider, recording.pk), (learner, 999_999)):
        with pytest.raises(NotFoundError) as error:
            access_recording(user=user, recording_id=recording_id)
        assert error.value.code == "recording_not_found"


def test_learners_see_ready_recordings_only(recording, learner, instructor):
    recording.status = RecordingStatus.PROCESSING
    recording.save(update_fields=["status"])
    with pytest.raises(NotFoundError):
        access_recording(user=learner, recording_id=recording.pk)
    assert access_recording(user=instructor, recording_id=recording.pk)


def test_staff_actions_are_refused_to_learners(recording, learner):
    with pytest.raises(PermissionDeniedError):
        access_recording(user=learner, recording_id=recording.pk, action="teach")


def test_anonymous_users_must_log_in(recording):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotAuthenticatedError):
        access_recording(user=AnonymousUser(), recording_id=recording.pk)


def _open(recording, user, kind, **kwargs):
    return rooms.room_open(
        access=access_recording(user=user, recording_id=recording.pk), kind=kind, **kwargs
    )[0]


def test_a_learner_cannot_open_another_tables_room(recording, tables, instructor):
    room_a = _open(recording, tables["ann"], "table")
    assert access_playback_room(user=tables["bob"], room_id=room_a.pk).room == room_a
    assert access_playback_room(user=instructor, room_id=room_a.pk).is_staff
    with pytest.raises(NotFoundError) as error:
        access_playback_room(user=tables["cat"], room_id=room_a.pk)
    assert error.value.code == "room_not_found"


def test_a_room_alone_is_its_owners_only(recording, tables, instructor):
    solo = _open(recording, tables["ann"], "solo")
    assert access_playback_room(user=tables["ann"], room_id=solo.pk).is_host
    for user in (tables["bob"], instructor):
        with pytest.raises(NotFoundError):
            access_playback_room(user=user, room_id=solo.pk)


def test_adhoc_rooms_open_to_the_invited(recording, tables, course):
    room = _open(recording, tables["ann"], "adhoc", invite_user_ids=[tables["cat"].pk])
    assert access_playback_room(user=tables["cat"], room_id=room.pk)
    with pytest.raises(NotFoundError):
        access_playback_room(user=tables["bob"], room_id=room.pk)
    observer = EnrollmentFactory(course=course, role=Role.OBSERVER).user
    with pytest.raises(NotFoundError):
        access_playback_room(user=observer, room_id=room.pk)


def test_rooms_of_another_course_are_not_found(recording, tables, outsider, platform_admin):
    room = _open(recording, tables["ann"], "table")
    with pytest.raises(NotFoundError):
        access_playback_room(user=outsider, room_id=room.pk)
    assert access_playback_room(user=platform_admin, room_id=room.pk)
