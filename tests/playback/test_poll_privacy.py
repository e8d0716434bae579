"""An anonymous poll replayed in its recording keeps, when answered while
watching, what the live poll keeps: that the learner answered, not what and
not when (docs/polls.md, "Anonymous polls: exactly what is stored"). A
learner who answered it live is recognised by their ballot and told so,
without the answer. Through the playback socket; then every table of the
database and every Redis key of this test's index is read back, as
tests/classroom/test_poll_privacy.py does for the live socket."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from classroom.models import PollBallot, PollKind
from playback.access import access_recording
from playback.models import PlaybackAnswer
from playback.services import rooms
from playback.services.timeline import recording_timeline_build
from tests.classroom.test_poll_privacy import MARGIN, QUIET, links_to, redis_values_holding
from tests.conftest import require
from tests.playback.helpers import add_quiz_poll
from tests.playback.test_consumer import join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(90)]

BOB_SAYS = "Wombat burrow 6172"
ACCEPTED = "Echidna spines 3390"


@pytest.fixture
def room(recording, tables):
    opened, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    return opened


def _poll(recording, session, ann):
    poll = add_quiz_poll(
        recording,
        session,
        at_seconds=1,
        prompt="Name a spiny animal",
        kind=PollKind.SHORT_TEXT,
        definition={"accepted": [ACCEPTED]},
        is_anonymous=True,
        allow_change=False,
    )
    PollBallot.objects.create(poll=poll, user=ann)  # ann answered it live
    recording_timeline_build(recording_id=recording.pk)
    return poll


def _mine(snapshot: dict, poll_id: int) -> dict | None:
    return next(p for p in snapshot["data"]["polls"] if p["id"] == poll_id)["mine"]


async def test_an_anonymous_poll_answered_while_watching_is_linked_to_nobody(
    recording, ended_session, room, tables
):
    require(
        bool(settings.REDIS_URL) and connection.vendor == "postgresql",
        "reads PostgreSQL's tables and Redis's keys",
    )
    poll = await database_sync_to_async(_poll)(recording, ended_session, tables["ann"])
    ann, snapshot = await join(room, tables["ann"], "ann")
    # Ann answered live: her ballot says so, nothing says what.
    mine = _mine(snapshot, poll.pk)
    assert mine["source"] == "live" and mine["answer"] is None and mine["is_correct"] is None
    assert mine["correct"] == {"accepted": [ACCEPTED]}  # the same for everyone
    again = await ann.request("poll.answer", {"poll_id": poll.pk, "answer": {"text": "x"}})
    assert again["type"] == "error" and again["data"]["code"] == "already_answered_live"

    bob, snapshot = await join(room, tables["bob"], "bob")
    assert _mine(snapshot, poll.pk) is None
    await asyncio.sleep(QUIET)
    start = timezone.now()
    reply = await bob.request("poll.answer", {"poll_id": poll.pk, "answer": {"text": BOB_SAYS}})
    end = timezone.now()
    assert reply["type"] == "ack", reply
    # The reply is kept with the frame id: neither the answer nor its grade.
    assert reply["data"]["answer"] is None and reply["data"]["is_correct"] is None
    assert reply["data"]["score"] is None and reply["data"]["correct"] == {"accepted": [ACCEPTED]}
    answered, _seen = await bob.receive_until(lambda f: f["type"] == "poll.answered")
    assert answered["data"]["answer"] is None and answered["data"]["is_correct"] is None
    await asyncio.sleep(QUIET)
    bob_again, snapshot = await join(room, tables["bob"], "bob2")
    mine = _mine(snapshot, poll.pk)
    assert mine["source"] == "playback" and mine["answer"] is None
    for client in (ann, bob, bob_again):
        await client.close()

    links = await database_sync_to_async(links_to)(
        user_id=tables["bob"].pk,
        poll_id=poll.pk,
        text=BOB_SAYS,
        start=start - MARGIN,
        end=end + MARGIN,
    )
    assert links == []
    stored = await database_sync_to_async(
        lambda: PlaybackAnswer.objects.values("answer", "is_correct", "score", "answered_at").get(
            poll=poll, user=tables["bob"]
        )
    )()
    assert stored == {
        "answer": {},
        "is_correct": None,
        "score": None,
        "answered_at": poll.opened_at,
    }
    assert await database_sync_to_async(redis_values_holding)(BOB_SAYS) == []
