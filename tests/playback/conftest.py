from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from classroom.models import SessionState
from courses.models import Role
from playback.media import synthetic_media_write
from playback.models import Recording, RecordingSource, RecordingStatus
from tests.factories import EnrollmentFactory, LiveSessionFactory, SeatFactory, TableFactory

MEDIA_SECONDS = 6


class _MediaFiles(dict):
    """Short synthetic media of each accepted kind, generated with PyAV the
    first time a test asks for that kind (then reused for the session)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, kind: str) -> Path:
        path = synthetic_media_write(
            self.folder / f"sample.{kind}",
            seconds=MEDIA_SECONDS,
            kind=kind,
            width=160,
            height=96,
            fps=10,
        )
        self[kind] = path
        return path


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> dict[str, Path]:
    return _MediaFiles(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def ended_session(course):
    start = timezone.now() - timedelta(days=1)
    return LiveSessionFactory(
        course=course,
        title="Week 1",
        scheduled_start=start,
        state=SessionState.ENDED,
        started_at=start,
        ended_at=start + timedelta(minutes=50),
    )


def make_recording(
    course, media_files, media_root, *, session=None, kind="webm", **fields
) -> Recording:
    source = media_files[kind]
    folder = Path(media_root) / "recordings" / f"course-{course.pk}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"test-{course.pk}-{kind}-{Recording.objects.count()}.{source.suffix[1:]}"
    shutil.copy(source, target)
    defaults = {
        "title": "Recording",
        "source": RecordingSource.LIVE,
        "status": RecordingStatus.READY,
        "mime_type": {
            "webm": "video/webm",
            "mp4": "video/mp4",
            "m4a": "audio/mp4",
            "mp3": "audio/mpeg",
        }[kind],
        "duration_ms": MEDIA_SECONDS * 1000,
        "size_bytes": target.stat().st_size,
        "video_codec": "vp8" if kind == "webm" else "h264" if kind == "mp4" else "",
        "audio_codec": "opus",
        "file": str(target.relative_to(media_root)),
        "recorded_from": session.started_at if session else None,
    }
    defaults.update(fields)
    return Recording.objects.create(course=course, live_session=session, **defaults)


@pytest.fixture
def recording(course, ended_session, media_files, media_root):
    return make_recording(course, media_files, media_root, session=ended_session)


@pytest.fixture
def tables(course):
    """Table A: ann, bob; table B: cat."""
    table_a = TableFactory(course=course, name="A")
    table_b = TableFactory(course=course, name="B")
    people = {}
    for name, table in (("ann", table_a), ("bob", table_a), ("cat", table_b)):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__username=name).user
        SeatFactory(table=table, user=user)
        people[name] = user
    return {"a": table_a, "b": table_b, **people}
