"""Slow-client protection of the live socket under a real Daphne: a client
that stops reading is closed (4008) once more than SLOW_CLIENT_MAX_BYTES wait
in the server for it; a client that reads is never closed (docs/realtime.md)."""

from __future__ import annotations

import pytest

from classroom.models import ChatChannel, ChatMessage, LiveSession, SessionState
from courses.models import Role
from tests import slowclient
from tests.factories import EnrollmentFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180), pytest.mark.timing]


def test_a_live_client_that_stops_reading_is_closed_and_one_that_reads_is_not(course, live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    ann, bob = (EnrollmentFactory(course=course, role=Role.LEARNER).user for _ in range(2))
    # A snapshot carries the last 200 messages: about 400 kB each.
    ChatMessage.objects.bulk_create(
        ChatMessage(session=live_session, channel=ChatChannel.CLASS, author=bob, body="x" * 2000)
        for _ in range(200)
    )
    observed = slowclient.run(f"/ws/live/{live_session.pk}/", ann, bob)
    print(observed | {"pong": None})
    assert observed["snapshot_bytes"] > 400_000
    slowclient.check(observed)
