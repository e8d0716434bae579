"""Captions in real Chromium against Daphne: the staff progress bar updates
live and shows a failure's reason; staff upload a caption file and fix a
word and a timing in the editor with the keyboard (history shown, a bad
timing refused); a learner who asked for captions gets the <track> on by
default and toggles it with the CC button and Shift+C. axe-core finds no
WCAG 2.1 A/AA violation on each of those pages and states."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import LiveSession, SessionState
from courses.models import Role
from playback.media import synthetic_media_write
from playback.models import Recording, RecordingStatus
from tests.e2e.axe import axe_violations
from tests.e2e.test_playback import LAPTOP, open_page
from tests.factories import CourseFactory, EnrollmentFactory
from transcripts.models import Cue, CueRevision, Transcript, TranscriptStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

VTT = (
    "WEBVTT\n\n00:00.200 --> 00:03.000\n<v Dr. Rivera>Welcome to the lab\n\n"
    "00:03.500 --> 00:06.000\nPhotosinthesis today\n"
)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    root = tmp_path / "media"
    root.mkdir()
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    monkeypatch.setattr(settings, "MEDIA_ROOT", root)
    source = synthetic_media_write(tmp_path / "lab.webm", seconds=8, kind="webm")
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    teacher = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Rivera"
    ).user
    learner = EnrollmentFactory(
        course=course, role=Role.LEARNER, user__display_name="Ann Okafor"
    ).user
    learner.captions_on = True
    learner.save()
    started = timezone.now() - timedelta(days=1)
    session = LiveSession.objects.create(
        course=course,
        title="Week 2: Photosynthesis",
        scheduled_start=started,
        scheduled_end=started + timedelta(hours=1),
        state=SessionState.ENDED,
        started_at=started,
        ended_at=started + timedelta(minutes=30),
    )
    folder = root / "recordings" / f"course-{course.pk}"
    folder.mkdir(parents=True)
    shutil.copy(source, folder / "lab.webm")
    recording = Recording.objects.create(
        course=course,
        live_session=session,
        title=session.title,
        status=RecordingStatus.READY,
        file=f"recordings/course-{course.pk}/lab.webm",
        mime_type="video/webm",
        duration_ms=8_000,
        video_codec="vp8",
        audio_codec="opus",
        recorded_from=started,
    )
    vtt = tmp_path / "lab.vtt"
    vtt.write_text(VTT)
    return {"recording": recording, "teacher": teacher, "learner": learner, "vtt": vtt}


def _clean(page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: {violations}"


def test_progress_editor_and_player_captions(lab, browser, asgi_server, output_dir):
    recording, teacher, learner = lab["recording"], lab["teacher"], lab["learner"]
    errors: list[str] = []
    transcript = Transcript.objects.create(
        recording=recording, status=TranscriptStatus.RUNNING, progress=0.3, attempts=1
    )

    # Staff: the progress bar on the recording's page follows the job.
    page = open_page(browser, asgi_server, teacher, errors, viewport=LAPTOP)
    page.goto(f"{asgi_server}/recordings/{recording.pk}/")
    bar = page.locator("progress.tr-progress")
    expect(bar).to_have_attribute("value", "30")
    _clean(page, "recording page, transcription running")
    Transcript.objects.filter(pk=transcript.pk).update(progress=0.65)
    page.wait_for_function("() => document.querySelector('progress.tr-progress').value === 65")
    expect(page.locator("[data-tr-label]")).to_contain_text("65%")
    Transcript.objects.filter(pk=transcript.pk).update(
        status=TranscriptStatus.FAILED,
        error="The recording's audio cannot be decoded: Invalid data found",
        error_code="decode_error",
    )
    expect(page.locator("[data-tr-error]")).to_have_text(
        "The recording's audio cannot be decoded: Invalid data found"
    )
    expect(bar).to_be_hidden()
    page.screenshot(path=str(output_dir / "recording-failed.png"), full_page=True)
    _clean(page, "recording page, transcription failed")

    # Staff: upload a caption file, then fix a word and a timing by keyboard.
    page.goto(f"{asgi_server}/recordings/{recording.pk}/transcript/")
    page.set_input_files("#caption-file", str(lab["vtt"]))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".tr-cue")).to_have_count(2)
    cue = Cue.objects.get(transcript__recording=recording, index=1)
    text = page.locator(f"#text-{cue.pk}")
    text.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Photosynthesis today")
    page.keyboard.press("Shift+Tab")  # back to End (s)
    page.keyboard.press("Shift+Tab")  # Start (s)
    page.keyboard.press("Control+A")
    page.keyboard.type("3.4")
    page.keyboard.press("Enter")
    expect(page.locator(f"#text-{cue.pk}")).to_have_value("Photosynthesis today")
    expect(page.locator(".tr-history tbody tr")).to_have_count(1)
    expect(page.locator(".tr-history")).to_contain_text("Dr. Rivera")
    revision = CueRevision.objects.get(cue=cue)
    assert (revision.previous_text, revision.new_start_ms) == ("Photosinthesis today", 3400)
    _clean(page, "editor with history")
    # A bad timing is refused, said next to the caption, focusable.
    page.locator(f"#end-{cue.pk}").fill("2")
    page.locator(f"#end-{cue.pk}").press("Enter")
    expect(page.locator(f"#cue-error-{cue.pk}")).to_contain_text("must end after it starts")
    expect(page.locator(f"#end-{cue.pk}")).to_have_value("2")  # what was typed is kept
    page.screenshot(path=str(output_dir / "editor-error.png"), full_page=True)
    _clean(page, "editor with an error")

    # Learner who asked for captions: the track is on by default; CC toggles.
    viewer = open_page(browser, asgi_server, learner, errors, viewport=LAPTOP)
    viewer.goto(f"{asgi_server}/recordings/{recording.pk}/")
    expect(viewer.get_by_role("heading", name="Captions and transcript")).to_be_visible()
    _clean(viewer, "recording page, learner")
    viewer.get_by_role("button", name="Start watching").click()
    viewer.wait_for_selector("track[kind=captions][default]", state="attached")
    cc = viewer.locator("button.tr-cc")
    expect(cc).to_have_attribute("aria-pressed", "true")
    assert (
        viewer.evaluate("() => document.querySelector('[data-ref=media]').textTracks[0].mode")
        == "showing"
    )
    viewer.wait_for_function(
        "() => document.querySelector('[data-ref=media]').textTracks[0].cues?.length === 2"
    )
    viewer.locator("body").click(position={"x": 5, "y": 5})
    viewer.keyboard.press("Shift+C")
    expect(cc).to_have_attribute("aria-pressed", "false")
    assert (
        viewer.evaluate("() => document.querySelector('[data-ref=media]').textTracks[0].mode")
        == "hidden"
    )
    cc.focus()
    viewer.keyboard.press("Enter")
    expect(cc).to_have_attribute("aria-pressed", "true")
    viewer.screenshot(path=str(output_dir / "player-captions.png"))
    _clean(viewer, "player with captions")
    assert errors == []
