"""The recap page and API: who sees what (learners only a published recap,
other courses a 404), staff edit and publish; the recap linked from the
course page, the recording page and the player; the transcript tab of the
player; reinforcement's follow-up carries the published recap."""

from __future__ import annotations

import pytest
from django.urls import reverse

from playback.models import PlaybackRoom
from recaps.models import Recap
from recaps.services import recap_build, recap_publish
from reinforcement import notify
from reinforcement.services import planning
from tests.factories import PollFactory, PollResponseFactory
from tests.recaps.helpers import LECTURE, ended_session, recording_row, transcript_of
from tests.reinforcement.conftest import learners_of, notifications_of, quiz_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def recap(course, learner):
    session = ended_session(course)
    recording = recording_row(course, session=session, title="Week 1 lecture")
    transcript_of(recording, LECTURE)
    poll = PollFactory(session=session, prompt="Which way does supply slope?",
                       opened_at=session.started_at,
                       definition={"options": [{"id": "up", "text": "Upward"},
                                               {"id": "down", "text": "Downward"}],
                                   "correct": ["up"]})  # fmt: skip
    PollResponseFactory(poll=poll, user=learner, answer={"option": "up"}, is_correct=True)
    return recap_build(session_id=session.pk)


def test_learner_sees_not_published_then_the_recap(client, recap, learner, instructor):
    url = reverse("recap-detail", args=[recap.session_id])
    client.force_login(learner)
    response = client.get(url)
    assert response.status_code == 403
    assert "Not published yet" in response.content.decode()
    assert client.get(reverse("api-recap", args=[recap.session_id])).json()["error"]["code"] == (
        "recap_not_published"
    )
    recap_publish(recap_id=recap.pk, actor=instructor)
    body = client.get(url).content.decode()
    assert "Which way does supply slope?" in body and "The right answer:" in body
    assert "100% right" in body
    first = recap.points[0]
    assert first["text"] in body
    assert f'href="/recordings/{recap.recording_id}/?t={first["start_ms"] // 1000}"' in body
    # Learners never see staff controls.
    assert "Publish to learners" not in body and "Back to draft" not in body
    data = client.get(reverse("api-recap", args=[recap.session_id])).json()
    assert data["status"] == "published" and data["polls"][0]["right_answer"] == "Upward"
    assert "points_edited" not in data
    # Learners cannot edit or publish.
    assert client.post(reverse("recap-publish", args=[recap.session_id])).status_code == 403
    refused = client.post(reverse("api-recap-edit", args=[recap.session_id]), {"note": "x"},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 403


def test_other_courses_get_404(client, recap, outsider):
    client.force_login(outsider)
    recap_publish(recap_id=recap.pk, actor=None)
    assert client.get(reverse("recap-detail", args=[recap.session_id])).status_code == 404
    response = client.get(reverse("api-recap", args=[recap.session_id]))
    assert response.status_code == 404 and response.json()["error"]["code"] == "session_not_found"
    assert client.post(reverse("recap-publish", args=[recap.session_id])).status_code == 404


def test_staff_edit_points_and_note_then_publish(client, recap, instructor):
    client.force_login(instructor)
    url = reverse("recap-detail", args=[recap.session_id])
    page = client.get(url).content.decode()
    assert "Draft: only staff see it" in page and "Publish to learners" in page
    edit = client.get(url + "?edit=1").content.decode()
    first, second = recap.points[0], recap.points[1]
    assert f'name="point:{first["id"]}"' in edit
    response = client.post(reverse("recap-edit", args=[recap.session_id]), {
        "version": str(recap.version),
        f"point:{first['id']}": "Supply slopes upward.",
        f"remove:{second['id']}": "on",
        "new_text": "Read chapter 3 before Friday.",
        "new_time": "1:05",
        "note": "Well done today.",
    })  # fmt: skip
    assert response.status_code == 302
    recap.refresh_from_db()
    texts = [p["text"] for p in recap.points]
    assert "Supply slopes upward." in texts and second["text"] not in texts
    added = next(p for p in recap.points if p["text"] == "Read chapter 3 before Friday.")
    assert added["start_ms"] == 65_000 and added["origin"] == "staff"
    assert recap.note == "Well done today." and recap.points_edited
    bad = client.post(reverse("recap-edit", args=[recap.session_id]),
                      {"new_text": "x", "new_time": "soon"}, follow=True)  # fmt: skip
    assert "Write the time as" in bad.content.decode()
    client.post(reverse("recap-publish", args=[recap.session_id]))
    recap.refresh_from_db()
    assert recap.is_published
    # API: edit with a stale version is a 409 that keeps the stored recap.
    stale = client.post(reverse("api-recap-edit", args=[recap.session_id]),
                        {"note": "stale", "version": recap.version - 1},
                        content_type="application/json")  # fmt: skip
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "recap_changed"
    ok = client.post(reverse("api-recap-edit", args=[recap.session_id]),
                     {"points": [{"text": "Only this.", "start_ms": 0}]},
                     content_type="application/json")  # fmt: skip
    assert ok.status_code == 200 and [p["text"] for p in ok.json()["points"]] == ["Only this."]
    back = client.post(reverse("api-recap-publish", args=[recap.session_id]), {"published": False},
                       content_type="application/json")  # fmt: skip
    assert back.json()["status"] == "draft"
    assert client.post(reverse("api-recap-publish", args=[recap.session_id]), {"published": "maybe"},
                       content_type="application/json").status_code == 400  # fmt: skip


def test_staff_see_a_session_without_recap_and_can_build_it(
    client, course, instructor, tasks_run_in_process, django_capture_on_commit_callbacks
):
    session = ended_session(course)
    client.force_login(instructor)
    url = reverse("recap-detail", args=[session.pk])
    assert "Build it now" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("recap-rebuild", args=[session.pk]))
    assert Recap.objects.filter(session=session).exists()


def test_recap_linked_from_course_recording_and_player(client, recap, learner, instructor):
    recording = recap.recording
    client.force_login(instructor)
    assert (
        "Recap (draft)"
        in client.get(reverse("course-detail", args=[recap.course_id])).content.decode()
    )
    client.force_login(learner)
    course_page = client.get(reverse("course-detail", args=[recap.course_id])).content.decode()
    recap_url = reverse("recap-detail", args=[recap.session_id])
    assert recap_url not in course_page  # a draft: not for learners
    assert reverse("course-transcript-search", args=[recap.course_id]) in course_page
    recap_publish(recap_id=recap.pk, actor=instructor)
    assert (
        recap_url in client.get(reverse("course-detail", args=[recap.course_id])).content.decode()
    )
    assert (
        recap_url in client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    )
    room = PlaybackRoom.objects.create(recording=recording, kind="solo", host=learner)
    player = client.get(reverse("playback-room", args=[room.pk])).content.decode()
    assert recap_url in player


def test_player_transcript_tab_lines_and_off_states(client, course, learner, instructor):
    session = ended_session(course)
    recording = recording_row(course, session=session)
    room = PlaybackRoom.objects.create(recording=recording, kind="solo", host=learner)
    client.force_login(learner)
    page = client.get(reverse("playback-room", args=[room.pk])).content.decode()
    assert 'id="tab-transcript"' in page
    assert "Captions and the transcript are off for this recording." in page
    assert "Ask your instructor to add captions." in page and "pip install" not in page
    staff_room = PlaybackRoom.objects.create(recording=recording, kind="solo", host=instructor)
    client.force_login(instructor)
    staff_page = client.get(reverse("playback-room", args=[staff_room.pk])).content.decode()
    assert "upload a WebVTT or SRT caption file" in staff_page
    assert reverse("recording-settings", args=[recording.pk]) in staff_page
    transcript_of(recording, LECTURE)
    client.force_login(learner)
    page = client.get(reverse("playback-room", args=[room.pk])).content.decode()
    assert page.count('class="tx-line"') == len(LECTURE)
    assert 'data-start="58000"' in page and "insulin" in page
    assert page.count('class="tx-speaker"') == 3  # shown when the speaker changes
    assert reverse("course-transcript-search", args=[course.pk]) in page


def test_follow_up_carries_the_published_recap(client, course, instructor, tasks_run_in_process,
                                               django_capture_on_commit_callbacks):  # fmt: skip
    from tests.reinforcement.conftest import course_settings

    course_settings(course, hold_minutes=0)
    ana, ben = learners_of(course, 2)
    session, _ = quiz_session(course, [ana, ben], answers={(ana, 0): False, (ben, 1): True})
    recording = recording_row(course, session=session)
    transcript_of(recording, LECTURE)
    recap = recap_build(session_id=session.pk)
    # Published before the follow-up goes out: the follow-up's body holds it.
    recap_publish(recap_id=recap.pk, actor=instructor)
    planning.followups_plan(session_id=session.pk, source="session_ended")
    followup = notifications_of(ana, notify.FOLLOWUP).get()
    assert f"Session recap: /sessions/{session.pk}/recap/" in followup.body
    assert recap.points[0]["text"] in followup.body
    client.force_login(ana)
    page = client.get(reverse("reinforcement-followups", args=[course.pk])).content.decode()
    assert f'href="/sessions/{session.pk}/recap/"' in page and recap.points[0]["text"] in page


def test_recap_published_after_the_follow_up_is_announced_once(
    course, instructor, tasks_run_in_process, django_capture_on_commit_callbacks
):
    from tests.reinforcement.conftest import course_settings

    course_settings(course, hold_minutes=0)
    (ana,) = learners_of(course, 1)
    session, _ = quiz_session(course, [ana], answers={(ana, 0): False})
    recap = recap_build(session_id=session.pk)
    planning.followups_plan(session_id=session.pk, source="session_ended")
    assert "Session recap" not in notifications_of(ana, notify.FOLLOWUP).get().body
    with django_capture_on_commit_callbacks(execute=True):
        recap_publish(recap_id=recap.pk, actor=instructor)
    with django_capture_on_commit_callbacks(execute=True):
        recap_publish(recap_id=recap.pk, actor=instructor, publish=False)
        recap_publish(recap_id=recap.pk, actor=instructor)
    recap_notes = notifications_of(ana, notify.FOLLOWUP).filter(key=f"recap:{session.pk}")
    assert recap_notes.count() == 1
    assert recap_notes.get().url == f"/sessions/{session.pk}/recap/"
