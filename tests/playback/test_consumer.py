"""The playback-room WebSocket end to end through the routed ASGI app (Origin
check and session auth included), on the environment's channel layer."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from config.asgi import application
from playback.access import access_recording
from playback.models import PlaybackRoom, RoomControl
from playback.services import rooms
from playback.services.timeline import recording_timeline_build
from tests.playback.helpers import add_quiz_poll
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A channel layer per test: channels-redis keeps per-channel locks that
    belong to the event loop that took them, and each test has its own loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def room(recording, tables):
    opened, _ = rooms.room_open(
        access=access_recording(user=tables["ann"], recording_id=recording.pk), kind="table"
    )
    return opened


class Member(Client):
    """A client that keeps the frames it saw while waiting for an ack: actions
    run in a task of their own, so a frame they caused may come before the
    ack or after it."""

    def __init__(self, communicator, name: str = "") -> None:
        super().__init__(communicator, name)
        self.backlog: list[dict] = []

    async def receive(self, timeout: float = 3.0) -> dict:
        if self.backlog:
            return self.backlog.pop(0)
        return await super().receive(timeout)

    async def request(self, frame_type, data=None, frame_id=None) -> dict:
        sent = await self.send(frame_type, data, frame_id)
        reply, seen = await self.receive_until(
            lambda f: f.get("type") in ("ack", "error") and f.get("id") == sent
        )
        self.backlog = seen + self.backlog
        return reply

    async def drain(self, timeout: float = 0.3) -> list[dict]:
        frames, self.backlog = self.backlog, []
        return frames + await super().drain(timeout)


async def join(room, user, name: str, query: str = "") -> tuple[Member, dict]:
    client = await Member.connect(application, f"/ws/playback/{room.pk}/{query}", user, name=name)
    assert client.connected
    first = await client.receive()
    return client, first


def is_state(cause: str | None = None):
    return lambda f: (
        f["type"] == "room.state_changed" and (cause is None or f["data"]["cause"] == cause)
    )


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_the_first_frame_is_a_snapshot_of_the_room(room, tables, recording):
    ann, snapshot = await join(room, tables["ann"], "ann")
    assert snapshot["type"] == "snapshot"
    data = snapshot["data"]
    assert data["room"]["kind"] == "table" and data["room"]["table"]["id"] == tables["a"].pk
    assert data["state"]["state"] == "paused" and data["state"]["position_ms"] == 0
    assert data["recording"]["media_url"] == f"/recordings/{recording.pk}/media"
    assert data["me"]["may_control"] is True
    await ann.close()


async def test_play_and_pause_are_scheduled_for_everyone_at_the_same_moment(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")
    sent = now_ms()
    reply = await ann.request("play")
    assert reply["type"] == "ack" and reply["data"]["changed"] is True
    plays = [(await c.receive_until(is_state("play")))[0] for c in (ann, bob)]
    assert plays[0] == plays[1]
    state = plays[0]["data"]
    assert state["state"] == "playing" and state["by"]["id"] == tables["ann"].pk
    assert state["at_ms"] >= sent + rooms.LEAD_MS - 50
    await asyncio.sleep(0.6)
    await bob.request("pause")
    pauses = [(await c.receive_until(is_state("pause")))[0]["data"] for c in (ann, bob)]
    assert pauses[0] == pauses[1]
    expected = (pauses[0]["at_ms"] - state["at_ms"]) * state["rate"]
    assert abs(pauses[0]["position_ms"] - expected) <= 5
    await ann.close()
    await bob.close()


async def test_a_late_joiner_starts_where_the_room_is_without_pausing_others(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    await ann.request("play")
    await ann.receive_until(is_state("play"))
    await asyncio.sleep(0.8)
    bob, snapshot = await join(room, tables["bob"], "bob")
    state = snapshot["data"]["state"]
    assert state["state"] == "playing"
    position_now = state["position_ms"] + (now_ms() - state["at_ms"]) * state["rate"]
    assert 300 <= position_now <= 2000
    frames = await ann.drain(0.4)
    assert not [f for f in frames if f["type"] == "room.state_changed"]
    assert [f for f in frames if f["type"] == "room.members_changed"]
    await ann.close()
    await bob.close()


async def test_a_group_seek_plays_after_the_timeout_when_one_member_never_reports_ready(
    room, tables, monkeypatch
):
    monkeypatch.setattr(rooms, "SEEK_READY_TIMEOUT_MS", 1500)
    ann, _ = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")  # bob never says ready
    await ann.request("play")
    await ann.receive_until(is_state("play"))
    started = now_ms()
    await ann.request("seek", {"position_ms": 3000})
    waiting, _ = await ann.receive_until(is_state("seek"))
    assert waiting["data"]["state"] == "waiting" and waiting["data"]["waiting"]["reason"] == "seek"
    await ann.request("ready", {"seq": waiting["seq"]})
    resumed, _ = await ann.receive_until(is_state("timeout"), timeout=6)
    assert resumed["data"]["state"] == "playing" and resumed["data"]["position_ms"] == 3000
    assert 1400 <= now_ms() - started <= 4000
    await bob.receive_until(is_state("timeout"))
    await ann.close()
    await bob.close()


async def test_a_group_seek_plays_as_soon_as_everyone_is_ready(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")
    await ann.request("play")
    await ann.request("seek", {"position_ms": 2000})
    waiting, _ = await bob.receive_until(is_state("seek"))
    await ann.request("ready", {"seq": waiting["seq"]})
    await bob.request("ready", {"seq": waiting["seq"]})
    resumed, _ = await ann.receive_until(is_state("ready"))
    assert resumed["data"]["state"] == "playing"
    await ann.close()
    await bob.close()


async def test_host_only_control_refuses_others(room, tables):
    await database_sync_to_async(rooms.room_control_set)(
        room_id=room.pk, actor=tables["ann"], control=RoomControl.HOST
    )
    ann, _ = await join(room, tables["ann"], "ann")
    bob, snapshot = await join(room, tables["bob"], "bob")
    assert snapshot["data"]["me"]["may_control"] is False
    for frame_type, data in (
        ("play", {}),
        ("seek", {"position_ms": 1000}),
        ("rate", {"rate": 1.5}),
    ):
        reply = await bob.request(frame_type, data)
        assert reply["type"] == "error" and reply["data"]["code"] == "host_only"
    stored = await database_sync_to_async(PlaybackRoom.objects.get)(pk=room.pk)
    assert (stored.state, stored.position_ms, stored.rate) == ("paused", 0, 1.0)
    assert (await ann.request("play"))["type"] == "ack"
    await ann.close()
    await bob.close()


async def test_pings_are_answered_with_the_server_clock(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    before = time.time() * 1000
    await ann.send("ping", {"t": 12345.5})
    pong, _ = await ann.receive_until(lambda f: f["type"] == "pong")
    assert (
        pong["data"]["t"] == 12345.5
        and before - 5 <= pong["data"]["server_ms"] <= time.time() * 1000 + 5
    )
    await ann.close()


async def test_another_tables_learner_and_outsiders_learn_nothing(room, tables, outsider):
    for user in (tables["cat"], outsider):
        client = await Client.connect(application, f"/ws/playback/{room.pk}/", user)
        error = await client.receive()
        assert error["type"] == "error" and error["data"]["code"] == "room_not_found"
        assert (await client.communicator.receive_output())["code"] == 4404


async def test_a_poll_stops_the_room_until_both_answer_then_it_plays_on(
    recording, ended_session, room, tables, monkeypatch
):
    monkeypatch.setattr(rooms, "POLL_REVIEW_MS", 400)
    poll = await database_sync_to_async(add_quiz_poll)(recording, ended_session, at_seconds=1)
    await database_sync_to_async(recording_timeline_build)(recording_id=recording.pk)
    ann, snapshot = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")
    [public] = snapshot["data"]["polls"]
    assert public["offset_ms"] == 1000 and public["mine"] is None
    assert "correct" not in public["definition"]
    await ann.request("play")
    playing, _ = await bob.receive_until(is_state("play"))
    assert playing["data"]["until_ms"] == 1000
    stopped, _ = await bob.receive_until(is_state("poll"), timeout=5)
    assert (
        stopped["data"]["state"] == "waiting" and stopped["data"]["waiting"]["poll_id"] == poll.pk
    )
    wrong = await ann.request("poll.answer", {"poll_id": poll.pk, "answer": {"option": "a"}})
    assert wrong["data"]["is_correct"] is False and wrong["data"]["correct"] == {"options": ["b"]}
    mine, _ = await ann.receive_until(lambda f: f["type"] == "poll.answered")
    assert mine["data"]["rewatch_from_ms"] == 0
    progress, seen = await bob.receive_until(lambda f: f["type"] == "poll.progress_changed")
    assert not [f for f in seen if f["type"] == "poll.answered"]  # ann's grade is hers alone
    assert progress["data"]["pending"] == [tables["bob"].pk]
    await bob.request("poll.answer", {"poll_id": poll.pk, "answer": {"option": "b"}})
    review, _ = await ann.receive_until(is_state("review"))
    assert review["data"]["state"] == "waiting" and review["data"]["waiting"]["review"] is True
    resumed, _ = await ann.receive_until(is_state("answered"))
    assert resumed["data"]["state"] == "playing" and resumed["data"]["position_ms"] == 1000
    await ann.close()
    await bob.close()


async def test_a_table_note_reaches_the_table_mate(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")
    reply = await ann.request(
        "note.add", {"body": "Key idea here", "visibility": "table", "media_ms": 1200}
    )
    assert reply["type"] == "ack"
    added, _ = await bob.receive_until(lambda f: f["type"] == "note.added")
    assert added["data"]["body"] == "Key idea here" and added["data"]["media_ms"] == 1200
    private = await bob.request("note.add", {"body": "mine only", "media_ms": 10})
    assert private["type"] == "ack"
    bodies = [f["data"]["body"] for f in await ann.drain(0.4) if f["type"] == "note.added"]
    assert bodies == ["Key idea here"]  # her own, not bob's private one
    await ann.close()
    await bob.close()


async def test_chat_attaches_to_the_current_time_and_duplicates_apply_once(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    frames = []
    for _attempt in range(2):
        await ann.send("chat.send", {"body": "look at 0:02", "media_ms": 2000}, frame_id="c-1")
        ack, seen = await ann.receive_until(lambda f: f["type"] == "ack" and f["id"] == "c-1")
        frames += [*seen, ack]
    frames += await ann.drain(0.3)
    acks = [f for f in frames if f["type"] == "ack"]
    assert [a.get("duplicate", False) for a in acks] == [False, True]
    # One idempotency rule in every room (core/rooms/actions.py): the
    # duplicate replays the first ack's data.
    assert acks[1]["data"] == acks[0]["data"] == {"message_id": acks[0]["data"]["message_id"]}
    [posted] = [f for f in frames if f["type"] == "chat.posted"]
    assert posted["data"]["media_ms"] == 2000 and posted["data"]["body"] == "look at 0:02"
    await ann.close()


async def test_heartbeats_record_progress_and_bad_frames_get_errors(room, tables):
    ann, _ = await join(room, tables["ann"], "ann")
    armed = await ann.request("heartbeat", {"from_ms": 0, "to_ms": 0})
    assert armed["data"]["watched_ms"] == 0
    await asyncio.sleep(0.5)
    beat = await ann.request("heartbeat", {"from_ms": 0, "to_ms": 500})
    assert beat["data"]["watched_ms"] == 500 and beat["data"]["clipped"] is False
    await ann.communicator.send_to(text_data="not json")
    error, _ = await ann.receive_until(lambda f: f["type"] == "error")
    assert error["data"]["code"] == "malformed_frame"
    unknown = await ann.request("explode")
    assert unknown["data"]["code"] == "unknown_type"
    await ann.close()


async def test_reconnecting_with_seq_gets_the_missed_frames(room, tables):
    ann, snapshot = await join(room, tables["ann"], "ann")
    bob, _ = await join(room, tables["bob"], "bob")
    last = snapshot["seq"]
    await ann.close()
    await bob.request("play")
    await bob.request("pause")
    again, first = await join(room, tables["ann"], "ann", query=f"?seq={last}")
    frames = [first] + await again.drain(0.5)
    types = [f["type"] for f in frames]
    assert "room.state_changed" in types and "resync.done" in types
    await again.close()
    await bob.close()
