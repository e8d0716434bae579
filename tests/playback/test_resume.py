"""Resume position: a learner's last position is stored from heartbeats and a
new visit starts there, through the API (progress, opening a room), the
recording page and the room's first WebSocket frame (its snapshot)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from playback.access import access_playback_room, access_recording
from playback.models import WatchProgress
from playback.selectors import room_snapshot_get
from playback.services import rooms
from playback.services.progress import progress_heartbeat

pytestmark = pytest.mark.django_db


def _watch(recording, user, from_ms: int, to_ms: int) -> None:
    """What the player's heartbeats do while it plays from `from_ms` to `to_ms`
    in real time (the clock is wound back instead of waiting)."""
    progress_heartbeat(recording=recording, user=user, from_ms=from_ms, to_ms=from_ms)
    WatchProgress.objects.filter(recording=recording, user=user).update(
        last_heartbeat_at=timezone.now() - timedelta(milliseconds=to_ms - from_ms + 100)
    )
    result = progress_heartbeat(recording=recording, user=user, from_ms=from_ms, to_ms=to_ms)
    assert result["clipped"] is False


def _open_solo(client, recording) -> tuple[int, int]:
    response = client.post(
        f"/api/recordings/{recording.pk}/rooms/", {"kind": "solo"}, content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    return response.json()["id"], response.status_code


def _snapshot_position(user, room_id: int) -> int:
    """The position the room's first WebSocket frame tells the player."""
    snapshot = room_snapshot_get(access=access_playback_room(user=user, room_id=room_id))
    return snapshot["state"]["position_ms"]


def test_the_last_position_is_stored_and_a_new_visit_resumes_there(client, recording, learner):
    client.force_login(learner)
    room_id, created = _open_solo(client, recording)
    assert created == 201 and _snapshot_position(learner, room_id) == 0
    _watch(recording, learner, 0, 3000)

    progress = client.get(f"/api/recordings/{recording.pk}/progress/").json()
    assert progress["position_ms"] == 3000 and not progress["completed"]
    page = client.get(f"/recordings/{recording.pk}/").content.decode()
    assert "Continue where you left off (0:03)" in page

    # The room emptied when the tab closed; the next visit opens the same room
    # and the player is told to start at 3 s.
    again, status = _open_solo(client, recording)
    assert (again, status) == (room_id, 200)
    assert _snapshot_position(learner, room_id) == 3000


def test_a_first_solo_visit_starts_at_the_position_watched_elsewhere(client, recording, tables):
    ann = tables["ann"]
    client.force_login(ann)
    table = client.post(
        f"/api/recordings/{recording.pk}/rooms/", {"kind": "table"}, content_type="application/json"
    )
    assert table.status_code == 201
    _watch(recording, ann, 0, 4000)
    room_id, created = _open_solo(client, recording)
    assert created == 201 and _snapshot_position(ann, room_id) == 4000


def test_a_later_visit_resumes_at_the_latest_position_even_if_watched_elsewhere(
    client, recording, tables
):
    """Watched alone to 1 s, then on with the table to 4 s: alone again
    resumes at 4 s, not where the room alone was left."""
    ann = tables["ann"]
    client.force_login(ann)
    solo_id, _ = _open_solo(client, recording)
    _watch(recording, ann, 0, 1000)
    rooms.room_seek(  # the room alone was left paused at 1 s
        room_id=solo_id, actor=ann, may_participate=True, is_staff=False, position_ms=1000
    )
    _watch(recording, ann, 1000, 4000)  # with the table
    again, status = _open_solo(client, recording)
    assert (again, status) == (solo_id, 200)
    assert _snapshot_position(ann, solo_id) == 4000


def test_a_completed_recording_starts_again_from_the_beginning(client, recording, learner):
    recording.settings = {"completion_threshold": 0.5}
    recording.save(update_fields=["settings"])
    client.force_login(learner)
    _watch(recording, learner, 0, 5000)
    assert client.get(f"/api/recordings/{recording.pk}/progress/").json()["completed"]
    room_id, _ = _open_solo(client, recording)
    assert _snapshot_position(learner, room_id) == 0
    assert (
        "Continue where you left off"
        not in client.get(f"/recordings/{recording.pk}/").content.decode()
    )


def test_resuming_is_per_learner(client, recording, learner, course):
    from courses.models import Role
    from tests.factories import EnrollmentFactory

    other = EnrollmentFactory(course=course, role=Role.LEARNER).user
    _watch(recording, learner, 0, 3000)
    client.force_login(other)
    room_id, _ = _open_solo(client, recording)
    assert _snapshot_position(other, room_id) == 0
    assert client.get(f"/api/recordings/{recording.pk}/progress/").json()["position_ms"] == 0
    assert access_recording(user=other, recording_id=recording.pk)
