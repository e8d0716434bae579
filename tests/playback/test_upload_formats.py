"""MP4 and M4A files as ffmpeg writes them (not PyAV's own muxing, which
tests/playback/conftest.py uses): the upload path accepts them through the
API and the page, and they become ready recordings that play (the media
endpoint serves byte ranges of them). ffmpeg is required in CI (.ci/run
installs it); elsewhere these tests skip when it is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from courses.models import Role
from playback.models import Recording
from tests.conftest import require
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

SECONDS = 3
VIDEO = ["-f", "lavfi", "-i", "testsrc=size=160x96:rate=10"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
# name: (ffmpeg inputs and codecs, file name, mime type, video codec, audio codec)
FORMATS = {
    "mp4": (VIDEO + AUDIO + H264 + ["-c:a", "aac"], "talk.mp4", "video/mp4", "h264", "aac"),
    # the index (moov) first, as web tools write it
    "mp4-faststart": (
        VIDEO + AUDIO + H264 + ["-c:a", "aac", "-movflags", "+faststart"],
        "talk.mp4",
        "video/mp4",
        "h264",
        "aac",
    ),
    "m4a": (AUDIO + ["-c:a", "aac"], "talk.m4a", "audio/mp4", "", "aac"),
}


@pytest.fixture(scope="module")
def ffmpeg_files(tmp_path_factory) -> dict[str, Path]:
    ffmpeg = shutil.which("ffmpeg")
    require(ffmpeg is not None, "ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("ffmpeg")
    files = {}
    for name, (arguments, file_name, *_rest) in FORMATS.items():
        target = folder / name / file_name
        target.parent.mkdir()
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *arguments]
        command += ["-t", str(SECONDS), "-shortest", str(target)]
        subprocess.run(command, check=True, timeout=60)  # noqa: S603
        files[name] = target
    return files


def _check_ready(recording: Recording, name: str) -> None:
    _arguments, _file, mime, video, audio = FORMATS[name]
    assert recording.status == "ready" and recording.source == "upload"
    assert recording.mime_type == mime
    assert (recording.video_codec, recording.audio_codec) == (video, audio)
    assert abs(recording.duration_ms - SECONDS * 1000) <= 150
    assert Path(recording.file.path).stat().st_size == recording.size_bytes


def _plays(client, recording: Recording) -> None:
    whole = Path(recording.file.path).read_bytes()
    response = client.get(f"/recordings/{recording.pk}/media", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == whole[:100]
    assert response["Content-Type"].startswith(recording.mime_type)


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.TA])
def test_the_api_takes_ffmpeg_mp4_and_m4a(client, course, media_root, ffmpeg_files, name, role):
    client.force_login(EnrollmentFactory(course=course, role=role).user)
    with open(ffmpeg_files[name], "rb") as handle:
        response = client.post(f"/api/courses/{course.pk}/recordings/upload/", {"file": handle})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "talk" and body["status"] == "ready"
    recording = Recording.objects.get(pk=body["id"])
    _check_ready(recording, name)
    _plays(client, recording)
    learner = EnrollmentFactory(course=course, role=Role.LEARNER).user
    client.force_login(learner)  # learners see it in the list, ready
    listed = client.get(f"/api/courses/{course.pk}/recordings/").json()
    assert [item["id"] for item in listed] == [recording.pk]
    _plays(client, recording)


@pytest.mark.parametrize("name", list(FORMATS))
def test_the_page_takes_ffmpeg_mp4_and_m4a(
    client, course, instructor, media_root, ffmpeg_files, name
):
    client.force_login(instructor)
    with open(ffmpeg_files[name], "rb") as handle:
        response = client.post(
            f"/courses/{course.pk}/recordings/upload/", {"file": handle, "title": "Week 3"}
        )
    recording = Recording.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/recordings/{recording.pk}/settings/"
    assert recording.title == "Week 3"
    _check_ready(recording, name)
    page = client.get(f"/recordings/{recording.pk}/").content.decode()
    assert "Watch alone" in page  # ready: it can be watched
