"""Pages of the playback app (rendering, access, forms)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from playback.models import PlaybackRoom, Recording
from playback.services.timeline import recording_timeline_build
from tests.playback.helpers import add_quiz_poll

pytestmark = pytest.mark.django_db


def test_the_course_page_links_to_recordings(client, course, learner):
    client.force_login(learner)
    assert (
        f"/courses/{course.pk}/recordings/" in client.get(f"/courses/{course.pk}/").content.decode()
    )


def test_learners_see_the_list_and_staff_the_upload_form(
    client, course, recording, learner, instructor
):
    client.force_login(learner)
    page = client.get(f"/courses/{course.pk}/recordings/").content.decode()
    assert recording.title in page and "Upload a recording" not in page
    client.force_login(instructor)
    assert "Upload a recording" in client.get(f"/courses/{course.pk}/recordings/").content.decode()


def test_outsiders_get_404_pages(client, course, recording, outsider):
    client.force_login(outsider)
    for url in (
        f"/courses/{course.pk}/recordings/",
        f"/recordings/{recording.pk}/",
        f"/recordings/{recording.pk}/settings/",
    ):
        assert client.get(url).status_code == 404


def test_the_upload_form_reports_a_bad_file(client, course, instructor, tmp_path):
    fake = tmp_path / "talk.mp3"
    fake.write_bytes(b"\x00" * 4000)
    client.force_login(instructor)
    with open(fake, "rb") as handle:
        response = client.post(
            f"/courses/{course.pk}/recordings/upload/", {"file": handle, "title": "Talk"}
        )
    assert response.status_code == 400
    assert "not a video or audio file" in response.content.decode()
    assert not Recording.objects.exists()


def test_the_upload_form_stores_a_good_file(client, course, instructor, media_files):
    client.force_login(instructor)
    with open(media_files["mp4"], "rb") as handle:
        response = client.post(
            f"/courses/{course.pk}/recordings/upload/", {"file": handle, "title": "Talk"}
        )
    recording = Recording.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/recordings/{recording.pk}/settings/"
    )


def test_opening_rooms_from_the_recording_page(client, recording, tables):
    client.force_login(tables["ann"])
    page = client.get(f"/recordings/{recording.pk}/").content.decode()
    assert "Watch alone" in page and "With A" in page
    response = client.post(f"/recordings/{recording.pk}/rooms/", {"kind": "table"})
    room = PlaybackRoom.objects.get()
    assert response["Location"] == f"/playback/rooms/{room.pk}/"
    player = client.get(response["Location"])
    assert player.status_code == 200 and b'id="pb-config"' in player.content
    client.force_login(tables["cat"])
    assert client.get(f"/playback/rooms/{room.pk}/").status_code == 404


def test_staff_save_settings_from_the_page(client, recording, instructor, ended_session, learner):
    poll = add_quiz_poll(recording, ended_session, at_seconds=2)
    recording_timeline_build(recording_id=recording.pk)
    client.force_login(instructor)
    url = f"/recordings/{recording.pk}/settings/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "title": "Week 1 (edited)",
            "trim_start": "0:01",
            "trim_end": "",
            "pause_at_polls": "on",
            "threshold_percent": "80",
            "poll_timeout_seconds": "30",
            f"chapter:poll_opened:{poll.pk}": "Quick check",
        },
    )
    assert response.status_code == 302
    recording.refresh_from_db()
    assert recording.title == "Week 1 (edited)" and recording.trim_start_ms == 1000
    assert recording.settings["forward_skip"] is False and recording.settings["replay_polls"] == []
    assert recording.settings["chapters"] == {f"poll_opened:{poll.pk}": "Quick check"}
    assert recording.settings["completion_threshold"] == 0.8
    bad = client.post(
        url,
        {
            "title": "x",
            "trim_start": "soon",
            "threshold_percent": "80",
            "poll_timeout_seconds": "30",
        },
    )
    assert bad.status_code == 400 and "Write a time" in bad.content.decode()
    client.force_login(learner)
    assert client.get(url).status_code == 403


def test_staff_analytics_page(client, recording, instructor, learner):
    client.force_login(instructor)
    page = client.get(f"/recordings/{recording.pk}/analytics/")
    assert page.status_code == 200 and learner.name in page.content.decode()
    client.force_login(learner)
    assert client.get(f"/recordings/{recording.pk}/analytics/").status_code == 403


def test_odd_numbers_in_forms_and_queries_are_ignored_or_refused_not_500(
    client, recording, instructor, tables
):
    """Found by fuzzing: '²' passes str.isdigit but not int(); inf and 1e400
    overflowed the clock parser."""
    client.force_login(tables["ann"])
    response = client.post(
        f"/recordings/{recording.pk}/rooms/",
        {"kind": "adhoc", "invite": ["²", "9" * 5000, str(2**70)], "t": "²"},
    )
    assert response.status_code == 302
    room = PlaybackRoom.objects.get()
    assert response["Location"] == f"/playback/rooms/{room.pk}/"
    assert client.get(f"/playback/rooms/{room.pk}/?t=²").status_code == 200
    assert client.get(f"/playback/rooms/{room.pk}/?t=" + "9" * 5000).status_code == 200
    client.force_login(instructor)
    url = f"/recordings/{recording.pk}/settings/"
    for trim in ("inf", "1e400", "nan"):
        bad = client.post(
            url,
            {
                "title": "x",
                "trim_end": trim,
                "threshold_percent": "80",
                "poll_timeout_seconds": "30",
            },
        )
        assert bad.status_code == 400 and "Write a time" in bad.content.decode()


def test_a_form_field_holding_nul_is_refused_and_nothing_stored(client, recording, instructor):
    client.force_login(instructor)
    title = recording.title
    fields = {"threshold_percent": "80", "poll_timeout_seconds": "30"}
    # As a browser sends a form: urlencoded (refused before the view)...
    response = client.post(
        f"/recordings/{recording.pk}/settings/",
        urlencode({**fields, "chapter:x": "a\x00"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and "NUL character" in response.content.decode()
    # ...or multipart (the view's own title check).
    response = client.post(f"/recordings/{recording.pk}/settings/", {**fields, "title": "T\x00X"})
    assert response.status_code == 400 and "control characters" in response.content.decode()
    recording.refresh_from_db()
    assert recording.title == title and not recording.settings.get("chapters")


@pytest.mark.parametrize("title", ["NUL\x00title", "\u200b"])
def test_the_upload_form_refuses_a_title_that_cannot_be_shown(
    client, course, instructor, media_files, title
):
    client.force_login(instructor)
    with open(media_files["mp4"], "rb") as handle:
        response = client.post(
            f"/courses/{course.pk}/recordings/upload/", {"file": handle, "title": title}
        )
    assert response.status_code == 400
    assert not Recording.objects.exists()
