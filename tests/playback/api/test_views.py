"""The playback HTTP API: uploads (checked with PyAV), settings, rooms, notes,
progress and analytics."""

from __future__ import annotations

from pathlib import Path

import pytest

from playback.models import PlaybackRoom, Recording, TimelineEntry
from playback.services.progress import progress_heartbeat
from tests.factories import ChatMessageFactory
from tests.playback.helpers import add_quiz_poll

pytestmark = pytest.mark.django_db


def _stored_files(media_root) -> list[Path]:
    folder = Path(media_root) / "recordings"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def eager_timeline(monkeypatch):
    """Run the queued timeline build in-process (with REDIS_URL Celery would queue it)."""
    from playback import tasks

    monkeypatch.setattr(
        tasks.recording_timeline_build,
        "delay",
        lambda recording_id: tasks.recording_timeline_build(recording_id),
    )


@pytest.mark.parametrize(
    ("kind", "mime", "video"),
    [
        ("mp4", "video/mp4", "h264"),
        ("webm", "video/webm", "vp8"),
        ("mp3", "audio/mpeg", ""),
        ("m4a", "audio/mp4", ""),
    ],
)
def test_staff_upload_media_checked_by_reading_it(
    client, course, instructor, media_files, media_root, kind, mime, video
):
    client.force_login(instructor)
    with open(media_files[kind], "rb") as handle:
        response = client.post(
            f"/api/courses/{course.pk}/recordings/upload/", {"file": handle, "title": "Lecture"}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["mime_type"], body["has_video"]) == ("ready", mime, bool(video))
    assert 5900 <= body["duration_ms"] <= 6100
    recording = Recording.objects.get(pk=body["id"])
    assert recording.source == "upload" and recording.video_codec == video
    assert Path(recording.file.name).name != f"sample.{kind}"  # stored under a random name


def test_a_renamed_text_file_is_refused_and_nothing_is_kept(
    client, course, instructor, media_root, tmp_path
):
    fake = tmp_path / "lecture.mp4"
    fake.write_bytes(b"this is not a video\n" * 500)
    client.force_login(instructor)
    with open(fake, "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_media"
    assert "file" in response.json()["error"]["details"]
    assert not Recording.objects.exists() and _stored_files(media_root) == []


@pytest.mark.parametrize("kind", ["webm", "mp3"])
def test_a_file_cut_short_is_refused_and_nothing_is_kept(
    client, course, instructor, media_files, media_root, tmp_path, kind
):
    """Its header still announces the whole length (found by fuzzing: the
    first 4 kB of a 90 s WebM was accepted as a ready 90 s recording)."""
    whole = media_files[kind].read_bytes()
    cut = tmp_path / f"lecture.{kind}"
    cut.write_bytes(whole[: len(whole) * 2 // 5])
    client.force_login(instructor)
    with open(cut, "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_media"
    assert "cut short" in response.json()["error"]["message"]
    assert not Recording.objects.exists() and _stored_files(media_root) == []


def test_a_format_browsers_cannot_play_is_refused(client, course, instructor, media_root, tmp_path):
    import av

    wav = tmp_path / "talk.wav"
    container = av.open(str(wav), "w")
    stream = container.add_stream("pcm_s16le", rate=8000)
    stream.layout = "mono"
    frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
    frame.planes[0].update(b"\x00\x01" * 8000)
    frame.sample_rate = 8000
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    client.force_login(instructor)
    with open(wav, "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 400 and response.json()["error"]["code"] == "unsupported_media"
    assert not Recording.objects.exists()


def test_a_file_over_the_limit_is_refused(
    client, course, instructor, media_files, media_root, settings
):
    settings.RECORDING_UPLOAD_MAX_BYTES = 10_000
    client.force_login(instructor)
    with open(media_files["webm"], "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    assert not Recording.objects.exists() and _stored_files(media_root) == []


def test_learners_cannot_upload(client, course, learner, media_files):
    client.force_login(learner)
    with open(media_files["webm"], "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 403 and not Recording.objects.exists()


def test_an_upload_linked_to_a_session_gets_its_timeline(
    client,
    course,
    instructor,
    media_files,
    ended_session,
    eager_timeline,
    django_capture_on_commit_callbacks,
):
    ChatMessageFactory(session=ended_session, author=instructor, body="hi")
    client.force_login(instructor)
    with (
        open(media_files["webm"], "rb") as handle,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            f"/api/courses/{course.pk}/recordings/upload/",
            {"file": handle, "live_session_id": ended_session.pk},
        )
    assert response.status_code == 201
    assert (
        TimelineEntry.objects.filter(recording_id=response.json()["id"], kind="chat").count() == 1
    )


def test_an_upload_cannot_link_another_courses_session(
    client, course, instructor, media_files, other_course
):
    from tests.factories import LiveSessionFactory

    foreign = LiveSessionFactory(course=other_course)
    client.force_login(instructor)
    with open(media_files["webm"], "rb") as handle:
        response = client.post(
            f"/api/courses/{course.pk}/recordings/upload/",
            {"file": handle, "live_session_id": foreign.pk},
        )
    assert response.status_code == 404 and not Recording.objects.exists()


def test_the_list_shows_learners_ready_recordings_with_their_progress(
    client, course, recording, learner, instructor
):
    Recording.objects.filter(pk=recording.pk).update(status="ready")
    processing = Recording.objects.create(course=course, title="Later", status="processing")
    client.force_login(learner)
    items = client.get(f"/api/courses/{course.pk}/recordings/").json()
    assert [item["id"] for item in items] == [recording.pk]
    assert items[0]["progress"]["percent"] == 0
    client.force_login(instructor)
    assert {i["id"] for i in client.get(f"/api/courses/{course.pk}/recordings/").json()} == {
        recording.pk,
        processing.pk,
    }


def test_staff_change_playback_settings(client, recording, instructor, learner, ended_session):
    poll = add_quiz_poll(recording, ended_session, at_seconds=2)
    from playback.services.timeline import recording_timeline_build

    recording_timeline_build(recording_id=recording.pk)
    client.force_login(instructor)
    url = f"/api/recordings/{recording.pk}/settings/"
    response = client.patch(
        url,
        {
            "trim_start_ms": 500,
            "trim_end_ms": 5000,
            "pause_at_polls": False,
            "forward_skip": False,
            "replay_polls": [poll.pk],
            "chapters": {f"poll_opened:{poll.pk}": "Check-in"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["start_ms"], response.json()["end_ms"]) == (500, 5000)
    detail = client.get(f"/api/recordings/{recording.pk}/").json()
    assert [c["title"] for c in detail["chapters"]] == ["Start", "Check-in"]
    flag = client.patch(url, {"completion_threshold": True}, content_type="application/json")
    assert flag.status_code == 400 and "completion_threshold" in flag.json()["error"]["details"]
    bad = client.patch(url, {"trim_end_ms": 600}, content_type="application/json")
    assert bad.status_code == 400 and "trim_end_ms" in bad.json()["error"]["details"]
    client.force_login(learner)
    assert (
        client.patch(url, {"pause_at_polls": True}, content_type="application/json").status_code
        == 403
    )


def test_the_detail_never_holds_correct_answers(client, recording, learner, ended_session):
    add_quiz_poll(recording, ended_session, at_seconds=2)
    from playback.services.timeline import recording_timeline_build

    recording_timeline_build(recording_id=recording.pk)
    client.force_login(learner)
    text = client.get(f"/api/recordings/{recording.pk}/").content.decode()
    assert '"correct"' not in text


def test_rooms_open_on_demand(client, recording, tables, outsider):
    client.force_login(tables["ann"])
    url = f"/api/recordings/{recording.pk}/rooms/"
    first = client.post(url, {"kind": "table"}, content_type="application/json")
    assert first.status_code == 201 and first.json()["ws_path"].startswith("/ws/playback/")
    client.force_login(tables["bob"])
    again = client.post(url, {"kind": "table"}, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    group = client.post(
        url, {"kind": "adhoc", "invite": [tables["cat"].pk]}, content_type="application/json"
    )
    assert group.status_code == 201
    invite = client.post(
        f"/api/playback/rooms/{group.json()['id']}/invite/",
        {"user_ids": [tables["ann"].pk]},
        content_type="application/json",
    )
    assert invite.json() == {"invited": [tables["ann"].pk]}
    client.force_login(outsider)
    assert client.post(url, {"kind": "solo"}, content_type="application/json").status_code == 404
    assert PlaybackRoom.objects.count() == 2


def test_notes_progress_and_export(client, recording, tables):
    client.force_login(tables["ann"])
    created = client.post(
        f"/api/recordings/{recording.pk}/notes/create/",
        {"body": "Remember this", "media_ms": 3000, "visibility": "table"},
        content_type="application/json",
    )
    assert created.status_code == 201
    client.force_login(tables["bob"])
    assert [n["body"] for n in client.get(f"/api/recordings/{recording.pk}/notes/").json()] == [
        "Remember this"
    ]
    client.force_login(tables["ann"])
    export = client.get(f"/api/recordings/{recording.pk}/notes/export/")
    assert (
        export["Content-Type"].startswith("text/markdown")
        and "Remember this" in export.content.decode()
    )
    page_export = client.get(f"/recordings/{recording.pk}/notes.md")
    assert "attachment" in page_export["Content-Disposition"]
    assert client.get(f"/api/recordings/{recording.pk}/progress/").json()["watched_ms"] == 0


def test_analytics_are_for_staff(client, recording, tables, instructor):
    from datetime import timedelta

    from django.utils import timezone

    from playback.models import WatchProgress

    progress_heartbeat(recording=recording, user=tables["ann"], from_ms=0, to_ms=0)
    WatchProgress.objects.update(last_heartbeat_at=timezone.now() - timedelta(seconds=3))
    progress_heartbeat(recording=recording, user=tables["ann"], from_ms=0, to_ms=3000)
    client.force_login(tables["ann"])
    assert client.get(f"/api/recordings/{recording.pk}/analytics/").status_code == 403
    client.force_login(instructor)
    body = client.get(f"/api/recordings/{recording.pk}/analytics/").json()
    assert body["heatmap"]["learners"] == 3
    assert (
        body["heatmap"]["buckets"][0]["learners"] == 1
        and body["heatmap"]["buckets"][-1]["learners"] == 0
    )
    ann = next(row for row in body["learners"] if row["user"]["id"] == tables["ann"].pk)
    assert ann["percent"] == 50.0 and ann["completed"] is False


def test_a_ta_is_told_that_deleting_is_for_instructors(client, recording, ta):
    client.force_login(ta)
    response = client.delete(f"/api/recordings/{recording.pk}/delete/")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only the course's instructors can do this."
    assert Recording.objects.filter(pk=recording.pk).exists()
