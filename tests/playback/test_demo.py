"""The demo recording seed_demo can create (playback.services.demo_recording_ensure)."""

from __future__ import annotations

import pytest

from courses.models import Role
from playback.models import Recording, TimelineEntry
from playback.services import demo_recording_ensure
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_the_demo_recording_is_made_once_with_a_timeline(
    course, instructor, ended_session, django_capture_on_commit_callbacks, monkeypatch
):
    from playback import tasks

    monkeypatch.setattr(
        tasks.recording_timeline_build, "delay", lambda rid: tasks.recording_timeline_build(rid)
    )
    for _ in range(3):
        EnrollmentFactory(course=course, role=Role.LEARNER)
    with django_capture_on_commit_callbacks(execute=True):
        recording = demo_recording_ensure(course, ended_session, seconds=12)
    assert recording.status == "ready" and 11_500 <= recording.duration_ms <= 12_500
    kinds = set(TimelineEntry.objects.filter(recording=recording).values_list("kind", flat=True))
    assert {
        "poll_opened",
        "chat",
        "question",
        "announcement",
        "reactions",
        "recording_paused",
        "mode_changed",
    } <= kinds
    assert demo_recording_ensure(course, ended_session, seconds=12) == recording
    assert Recording.objects.count() == 1
