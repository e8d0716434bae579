"""Pages of issue 11: what learners read when media is off, Join on the home
page, where past sessions lead, and the read-only chat of a session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from classroom.models import ChatChannel, SessionState
from courses.models import Role
from livemedia.conf import FIX_COMMAND, LEARNER_MEDIA_OFF
from playback.models import Recording, RecordingStatus
from tests.factories import (
    ChatMessageFactory,
    EnrollmentFactory,
    LiveSessionFactory,
    SeatFactory,
    TableFactory,
)

pytestmark = pytest.mark.django_db

JANUS_OFF = override_settings(JANUS_URL="ws://127.0.0.1:9/janus")


def _live(course):
    now = timezone.now()
    return LiveSessionFactory(
        course=course,
        title="Cells, live",
        scheduled_start=now - timedelta(minutes=10),
        scheduled_end=now + timedelta(minutes=50),
        state=SessionState.LIVE,
    )


def _past(course, title="Week 1"):
    start = timezone.now() - timedelta(days=7)
    return LiveSessionFactory(
        course=course,
        title=title,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        state=SessionState.ENDED,
    )


@JANUS_OFF
def test_learners_get_a_plain_line_when_media_is_off_staff_get_the_fix(
    client, course, learner, instructor, monkeypatch
):
    from livemedia import views as media_views

    monkeypatch.setattr(media_views, "janus_installed", lambda: False)
    session = _live(course)
    client.force_login(learner)
    html = client.get(f"/sessions/{session.pk}/live/").content.decode()
    assert LEARNER_MEDIA_OFF in html
    assert "apt-get" not in html and "janus-tools" not in html and "Janus" not in html
    client.force_login(instructor)
    html = client.get(f"/sessions/{session.pk}/live/").content.decode()
    assert FIX_COMMAND.split(" &&")[0] in html and LEARNER_MEDIA_OFF not in html


def test_the_home_page_offers_join_to_learners_and_the_console_to_staff(
    client, course, learner, instructor
):
    session = _live(course)
    client.force_login(learner)
    html = client.get("/").content.decode()
    assert f'href="/sessions/{session.pk}/live/"' in html
    assert "Join: Cells, live" in html and "Open console" not in html
    client.force_login(instructor)
    html = client.get("/").content.decode()
    assert f'href="/sessions/{session.pk}/live/"' in html
    assert "Open console: Cells, live" in html and "Join: " not in html


def test_past_sessions_link_their_recording_and_their_chat(client, course, learner, instructor):
    watched, unready = _past(course, "Week 1"), _past(course, "Week 2")
    ready = Recording.objects.create(
        course=course,
        live_session=watched,
        title="Week 1",
        status=RecordingStatus.READY,
        file="recordings/week-1.webm",
        duration_ms=60_000,
    )
    processing = Recording.objects.create(
        course=course, live_session=unready, title="Week 2", status=RecordingStatus.PROCESSING
    )
    for page in (f"/courses/{course.pk}/", "/"):  # the course page and the home page
        client.force_login(learner)
        html = client.get(page).content.decode()
        assert f'href="/recordings/{ready.pk}/"' in html, page
        assert f'href="/recordings/{processing.pk}/"' not in html  # learners: ready ones only
        assert f'href="/sessions/{watched.pk}/chat/"' in html
        assert f'href="/sessions/{unready.pk}/chat/"' in html
        client.force_login(instructor)
        html = client.get(page).content.decode()
        assert f'href="/recordings/{processing.pk}/"' in html, page


@pytest.fixture
def chatted(course, learner, instructor):
    """A past session with messages in every channel of two tables."""
    session = _past(course)
    mine, theirs = (TableFactory(course=course, name=n) for n in ("Table 1", "Table 2"))
    SeatFactory(table=mine, user=learner)
    other = EnrollmentFactory(course=course, role=Role.LEARNER).user
    SeatFactory(table=theirs, user=other)

    def say(channel, author, body, table=None, **extra):
        return ChatMessageFactory(
            session=session, channel=channel, author=author, body=body, table=table, **extra
        )

    say(ChatChannel.CLASS, instructor, "Welcome, everyone")
    say(ChatChannel.CLASS, other, "Hello from the back")
    say(ChatChannel.TABLE, learner, "Our table's idea", table=mine)
    say(ChatChannel.TABLE, other, "Table two secret", table=theirs)
    say(ChatChannel.STAFF, instructor, "Staff only remark")
    say(
        ChatChannel.CLASS,
        other,
        "Rude words",
        deleted_at=timezone.now(),
        deleted_by=instructor,
    )
    return session


def test_a_learner_reads_the_chat_they_could_see_live(client, chatted, learner):
    client.force_login(learner)
    response = client.get(f"/sessions/{chatted.pk}/chat/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Welcome, everyone" in html and "Hello from the back" in html
    assert "Our table&#x27;s idea" in html and "Table: Table 1" in html
    assert "Table two secret" not in html and "Staff only remark" not in html
    assert "Rude words" not in html and "Message removed by staff." in html
    assert "<form" not in html.split("<main", 1)[-1]  # read-only


def test_staff_read_every_channel(client, chatted, instructor):
    client.force_login(instructor)
    html = client.get(f"/sessions/{chatted.pk}/chat/").content.decode()
    for text in ("Welcome, everyone", "Table two secret", "Staff only remark", "Table: Table 2"):
        assert text in html
    assert "Rude words" not in html


def test_outsiders_and_anonymous_visitors_cannot_read_the_chat(client, chatted, outsider):
    response = client.get(f"/sessions/{chatted.pk}/chat/")
    assert response.status_code == 302 and "/accounts/login/" in response.url
    client.force_login(outsider)
    assert client.get(f"/sessions/{chatted.pk}/chat/").status_code == 404
    assert client.get("/sessions/999999/chat/").status_code == 404


def test_a_platform_admin_sees_every_course_on_the_home_page(client, course, other_course):
    from tests.factories import UserFactory

    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    html = client.get("/").content.decode()
    assert "Administration" in html and "No courses yet" not in html
    for each in (course, other_course):
        assert f'href="/courses/{each.pk}/"' in html
    assert client.get(f"/courses/{other_course.pk}/").status_code == 200
