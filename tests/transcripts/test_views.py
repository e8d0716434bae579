"""Captions over HTTP: the WebVTT track and downloads with the recording's
access rules, the player's <track> and the captions preference, the staff
editor (fix a word, re-time a cue, history; learners 403), caption file
upload (good and bad files), and the API in its JSON error shape."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from playback.access import access_recording
from playback.media import synthetic_media_write
from playback.services.recordings import recording_from_path
from playback.services.rooms import room_open
from transcripts.models import Cue, CueRevision, Transcript
from transcripts.services.captions import captions_upload

pytestmark = pytest.mark.django_db

VTT = (
    b"WEBVTT\n\n00:00.500 --> 00:02.000\n<v Dr. Rivera>Welcome to the lab\n\n"
    b"00:02.500 --> 00:04.000\nPhotosinthesis today\n"
)


@pytest.fixture
def recording(course, ended_session, tmp_path):
    path = synthetic_media_write(
        tmp_path / "clip.webm", seconds=6, kind="webm", width=160, height=96, fps=10
    )
    return recording_from_path(
        course=course, path=path, title="Lab intro", live_session=ended_session
    )


@pytest.fixture
def captioned(recording, instructor):
    captions_upload(
        recording=recording, actor=instructor, uploaded=SimpleUploadedFile("lab.vtt", VTT)
    )
    return recording


def test_captions_follow_the_recordings_access(client, captioned, learner, outsider, observer):
    url = f"/recordings/{captioned.pk}/captions.vtt"
    assert client.get(url).status_code == 403  # not logged in
    client.force_login(outsider)  # a learner of another course
    assert client.get(url).status_code == 404
    for ext in ("vtt", "srt", "txt"):
        assert client.get(f"/recordings/{captioned.pk}/transcript.{ext}").status_code == 404
    assert client.get(f"/api/recordings/{captioned.pk}/transcript/cues/").status_code == 404
    for member in (learner, observer):
        client.force_login(member)
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/vtt; charset=utf-8"
        body = response.content.decode()
        assert body.startswith("WEBVTT\n\n1\n00:00:00.500 --> 00:00:02.000\n<v Dr. Rivera>Welcome")


def test_downloads(client, captioned, learner):
    client.force_login(learner)
    srt = client.get(f"/recordings/{captioned.pk}/transcript.srt")
    assert srt.status_code == 200 and 'filename="lab-intro.srt"' in srt["Content-Disposition"]
    assert "2\n00:00:02,500 --> 00:00:04,000\nPhotosinthesis today" in srt.content.decode()
    text = client.get(f"/recordings/{captioned.pk}/transcript.txt").content.decode()
    assert text == "[00:00:00] Dr. Rivera: Welcome to the lab\n\n[00:00:02] Photosinthesis today\n"
    vtt = client.get(f"/recordings/{captioned.pk}/captions.vtt?download=1")
    assert 'filename="lab-intro.vtt"' in vtt["Content-Disposition"]
    # A recording without captions: 404, not an empty file.
    Transcript.objects.filter(recording=captioned).delete()
    assert client.get(f"/recordings/{captioned.pk}/transcript.srt").status_code == 404


def test_player_track_is_default_for_learners_who_asked(client, captioned, learner):
    access = access_recording(user=learner, recording_id=captioned.pk)
    room, _ = room_open(access=access, kind="solo")
    client.force_login(learner)
    page = client.get(f"/playback/rooms/{room.pk}/").content.decode()
    assert (
        f'<track kind="captions" src="/recordings/{captioned.pk}/captions.vtt" srclang="en" label="Captions">'
        in page
    )
    assert "transcripts/captions.js" in page
    # The preference, from the recording page's captions panel.
    detail = client.get(f"/recordings/{captioned.pk}/").content.decode()
    assert "Captions and transcript" in detail and "Show captions by default" in detail
    response = client.post(
        "/account/captions/", {"captions_on": "on", "next": f"/recordings/{captioned.pk}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/recordings/{captioned.pk}/"
    learner.refresh_from_db()
    assert learner.captions_on is True
    page = client.get(f"/playback/rooms/{room.pk}/").content.decode()
    assert 'label="Captions" default>' in page
    # Off again through the API; an open redirect is refused.
    assert client.put(
        "/api/me/captions/", {"captions_on": False}, content_type="application/json"
    ).json() == {"captions_on": False}
    response = client.post("/account/captions/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_without_asr_pages_say_captions_are_off_and_upload_still_works(
    client, recording, instructor, monkeypatch
):
    from transcripts import asr

    monkeypatch.setattr(asr, "asr_installed", lambda: False)
    client.force_login(instructor)
    detail = client.get(f"/recordings/{recording.pk}/").content.decode()
    assert "Automatic captions are off" in detail and "pip install" in detail
    editor = client.get(f"/recordings/{recording.pk}/transcript/").content.decode()
    assert "Automatic captions are off" in editor and "Transcribe again" not in editor
    refused = client.post(f"/api/recordings/{recording.pk}/transcript/transcribe/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "asr_off"
    response = client.post(
        f"/recordings/{recording.pk}/transcript/upload/",
        {"file": SimpleUploadedFile("lab.srt", b"1\n00:00:01,000 --> 00:00:02,000\nHello\n")},
    )
    assert response.status_code == 302
    assert [c.text for c in Cue.objects.filter(transcript__recording=recording)] == ["Hello"]


def test_bad_caption_files_are_refused_with_the_line(client, captioned, instructor):
    client.force_login(instructor)
    page = client.post(
        f"/recordings/{captioned.pk}/transcript/upload/",
        {"file": SimpleUploadedFile("bad.vtt", b"WEBVTT\n\n00:01.000 --> 00:00.500\nback\n")},
    )
    assert page.status_code == 400
    assert "Line 3: the cue ends before it starts." in page.content.decode()
    api = client.post(
        f"/api/recordings/{captioned.pk}/transcript/upload/",
        {"file": SimpleUploadedFile("bad.srt", b"1\n00:00:01,000 --> 00:00:02,000\nok\n\nx\n")},
    )
    assert api.status_code == 400
    error = api.json()["error"]
    assert error["code"] == "invalid_captions" and error["details"]["line"] == 5
    late = client.post(
        f"/api/recordings/{captioned.pk}/transcript/upload/",
        {"file": SimpleUploadedFile("late.vtt", b"WEBVTT\n\n00:09.000 --> 00:10.000\nlate\n")},
    )
    assert late.status_code == 400 and "after the recording ends" in late.json()["error"]["message"]
    # Nothing was lost: the good captions are still there.
    assert Cue.objects.filter(transcript__recording=captioned).count() == 2


def test_editor_fixes_a_word_retimes_and_keeps_history(client, captioned, instructor, learner):
    cue = Cue.objects.get(transcript__recording=captioned, text="Photosinthesis today")
    url = f"/recordings/{captioned.pk}/transcript/"
    client.force_login(learner)
    assert client.get(url).status_code == 403
    assert (
        client.post(f"{url}cues/{cue.pk}/", {"text": "x", "start": "1", "end": "2"}).status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/recordings/{captioned.pk}/transcript/cues/{cue.pk}/",
            {"text": "x"},
            content_type="application/json",
        ).status_code
        == 403
    )

    client.force_login(instructor)
    assert client.get(url).status_code == 200
    response = client.post(
        f"{url}cues/{cue.pk}/", {"text": "Photosynthesis today", "start": "2.4", "end": "0:04.2"}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#cue-{cue.pk}")
    cue.refresh_from_db()
    assert (cue.text, cue.start_ms, cue.end_ms) == ("Photosynthesis today", 2400, 4200)
    # Bad timings: start after end, past the end of the recording, negative.
    for start, end, message in (
        ("4", "3", "must end after it starts"),
        ("5", "7", "within the recording"),
        ("-1", "2", "before the recording"),
        ("abc", "2", "Times are seconds"),
    ):
        page = client.post(f"{url}cues/{cue.pk}/", {"text": "x", "start": start, "end": end})
        assert page.status_code == 400 and message in page.content.decode(), (start, end)
    for huge in ({"end_ms": 2**70}, {"start_ms": -(2**63)}, {"end_ms": "nan"}):
        api = client.patch(
            f"/api/recordings/{captioned.pk}/transcript/cues/{cue.pk}/",
            huge,
            content_type="application/json",
        )
        assert api.status_code == 400, huge
    page = client.post(f"{url}cues/{cue.pk}/", {"text": "x", "start": "1e300", "end": "inf"})
    assert page.status_code == 400
    api = client.patch(
        f"/api/recordings/{captioned.pk}/transcript/cues/{cue.pk}/",
        {"end_ms": 99_000},
        content_type="application/json",
    )
    assert api.status_code == 400 and api.json()["error"]["details"]["end_ms"]
    api = client.patch(
        f"/api/recordings/{captioned.pk}/transcript/cues/{cue.pk}/",
        {"text": "  Photosynthesis   now "},
        content_type="application/json",
    )
    assert api.status_code == 200 and api.json()["text"] == "Photosynthesis now"
    cue.refresh_from_db()
    assert (cue.text, cue.start_ms, cue.end_ms) == ("Photosynthesis now", 2400, 4200)

    revisions = list(CueRevision.objects.filter(cue=cue).order_by("created_at", "id"))
    assert [
        (r.previous_text, r.new_text, r.previous_start_ms, r.new_start_ms) for r in revisions
    ] == [
        ("Photosinthesis today", "Photosynthesis today", 2500, 2400),
        ("Photosynthesis today", "Photosynthesis now", 2400, 2400),
    ]
    assert all(r.editor == instructor for r in revisions)
    history = client.get(f"/api/recordings/{captioned.pk}/transcript/revisions/").json()
    assert (
        history[0]["new"]["text"] == "Photosynthesis now"
        and history[0]["editor"] == instructor.name
    )
    page = client.get(url).content.decode()
    assert "Photosinthesis today" in page and instructor.name in page  # the history table
    # Captions served reflect the edit.
    client.force_login(learner)
    assert (
        "Photosynthesis now"
        in client.get(f"/recordings/{captioned.pk}/captions.vtt").content.decode()
    )


def test_transcript_state_api_for_staff_and_learners(client, captioned, instructor, learner):
    client.force_login(learner)
    state = client.get(f"/api/recordings/{captioned.pk}/transcript/").json()
    assert state["status"] == "ready" and state["cues"] == 2 and "progress" not in state
    client.force_login(instructor)
    state = client.get(f"/api/recordings/{captioned.pk}/transcript/").json()
    assert (
        state["source"] == "upload" and state["progress"] == 1.0 and state["file_name"] == "lab.vtt"
    )
