"""The media socket without a media server: it says plainly that audio and
video are off, refuses outsiders, and answers bad frames (no Janus needed)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from classroom.models import LiveSession, SessionState
from config.asgi import application
from livemedia.conf import LEARNER_MEDIA_OFF
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest.fixture
def live(live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return live_session


@override_settings(JANUS_URL="ws://127.0.0.1:9/")  # nothing listens there
async def test_without_janus_the_socket_says_media_is_off_and_how_to_fix_it(live, learner):
    client = await Client.connect(application, f"/ws/media/{live.pk}/", learner, name="l")
    assert client.connected
    frame = await client.receive(timeout=10)
    assert frame["type"] == "media.unavailable"
    # How to fix it is for staff; the socket keeps trying to reach Janus.
    assert frame["data"] == {"reason": LEARNER_MEDIA_OFF, "fix": "", "retrying": True}
    reply = await client.request("publish", {"jsep": {"type": "offer", "sdp": "v=0"}})
    assert reply["type"] == "error" and reply["data"]["code"] == "media_unavailable"
    reply = await client.request("no.such")
    assert reply["data"]["code"] == "unknown_type"
    await client.close()


async def test_outsiders_are_refused(live, outsider):
    client = await Client.connect(application, f"/ws/media/{live.pk}/", outsider, name="o")
    frame = await client.receive()
    assert frame["type"] == "error" and frame["data"]["code"] == "session_not_found"
    await client.close()


@override_settings(JANUS_ENABLED=False)
async def test_media_can_be_turned_off(live, learner, instructor):
    staff = await Client.connect(application, f"/ws/media/{live.pk}/", instructor, name="i")
    frame = await staff.receive()
    assert frame["type"] == "media.unavailable" and "JANUS_ENABLED" in frame["data"]["reason"]
    await staff.close()
    client = await Client.connect(application, f"/ws/media/{live.pk}/", learner, name="l")
    frame = await client.receive()
    assert frame["type"] == "media.unavailable"
    assert frame["data"] == {"reason": LEARNER_MEDIA_OFF, "fix": ""}
    await client.close()
