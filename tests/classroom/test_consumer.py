"""The live WebSocket end to end through the routed ASGI app (Origin check and
session auth included), against the real channel layer of the environment."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from classroom.models import ChatMessage, LiveSession, Seat, SessionState, Table
from config.asgi import application
from courses.models import Role
from tests.factories import EnrollmentFactory
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest.fixture
def room(course, instructor, live_session):
    """A live session with two tables: ann and bob at table A, cat at table B."""
    table_a = Table.objects.create(course=course, name="A")
    table_b = Table.objects.create(course=course, name="B")
    people = {}
    for name, table in (("ann", table_a), ("bob", table_a), ("cat", table_b)):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__username=name).user
        Seat.objects.create(course=course, table=table, user=user)
        people[name] = user
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return {"session": live_session, "a": table_a, "b": table_b, "instructor": instructor, **people}


def path(session) -> str:
    return f"/ws/live/{session.pk}/"


async def join(room, who: str, **kwargs) -> tuple[Client, dict]:
    client = await Client.connect(
        application, path(room["session"]) + kwargs.pop("query", ""), room[who], name=who
    )
    assert client.connected
    first = await client.receive()
    return client, first


async def test_first_frame_is_a_snapshot_of_what_the_user_may_see(room):
    ann, snapshot = await join(room, "ann")
    assert snapshot["type"] == "snapshot"
    data = snapshot["data"]
    assert data["me"]["table_id"] == room["a"].pk
    assert [m["name"] for m in data["table"]["members"]] == [room["ann"].name, room["bob"].name]
    assert "staff" not in data
    teacher, staff_snapshot = await join(room, "instructor")
    assert [t["name"] for t in staff_snapshot["data"]["staff"]["seat_map"]] == ["A", "B"]
    await ann.close()
    await teacher.close()


async def test_table_chat_reaches_only_that_table_and_staff(room):
    ann, _ = await join(room, "ann")
    bob, _ = await join(room, "bob")
    cat, _ = await join(room, "cat")
    teacher, _ = await join(room, "instructor")
    reply = await ann.request("chat.send", {"channel": "table", "body": "hello table A"})
    assert reply["type"] == "ack"
    for client in (ann, bob, teacher):
        frame, _ = await client.receive_until(lambda f: f["type"] == "chat.posted")
        assert frame["data"]["body"] == "hello table A"
        assert frame["stream"] == f"table.{room['a'].pk}"
    assert not [f for f in await cat.drain(0.5) if f["type"] == "chat.posted"]
    for client in (ann, bob, cat, teacher):
        await client.close()


async def test_learner_cannot_switch_mode_and_nothing_changes(room):
    ann, _ = await join(room, "ann")
    await ann.drain()
    before = await database_sync_to_async(LiveSession.objects.get)(pk=room["session"].pk)
    reply = await ann.request("mode.set", {"mode": "table_talk"})
    assert reply["type"] == "error" and reply["data"]["code"] == "forbidden"
    session = await database_sync_to_async(LiveSession.objects.get)(pk=room["session"].pk)
    assert (session.mode, session.seq) == ("lecture", before.seq)
    await ann.close()


async def test_mode_switch_reaches_everyone_with_one_seq(room):
    ann, _ = await join(room, "ann")
    cat, _ = await join(room, "cat")
    teacher, _ = await join(room, "instructor")
    reply = await teacher.request("mode.set", {"mode": "visiting", "table_id": room["b"].pk})
    assert reply["type"] == "ack"
    seqs = set()
    for client in (ann, cat, teacher):
        frame, _ = await client.receive_until(lambda f: f["type"] == "mode.changed")
        assert frame["data"]["mode"] == "visiting" and frame["data"]["table_id"] == room["b"].pk
        seqs.add(frame["seq"])
    assert len(seqs) == 1
    for client in (ann, cat, teacher):
        await client.close()


async def test_repeated_client_id_is_applied_once(room):
    ann, _ = await join(room, "ann")
    first = await ann.request("chat.send", {"channel": "class", "body": "once"}, frame_id="same-id")
    second = await ann.request(
        "chat.send", {"channel": "class", "body": "once"}, frame_id="same-id"
    )
    assert first["type"] == "ack" and "duplicate" not in first
    assert second == {"type": "ack", "id": "same-id", "duplicate": True, "data": first["data"]}
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await ann.close()


async def test_malformed_and_unknown_frames_get_errors_and_keep_the_socket(room):
    ann, _ = await join(room, "ann")
    await ann.communicator.send_to(text_data="{not json")
    assert (await ann.receive())["data"]["code"] == "malformed_frame"
    await ann.communicator.send_json_to({"type": "teleport", "id": "x1"})
    error = await ann.receive()
    assert error == {
        "type": "error",
        "id": "x1",
        "data": {"code": "unknown_type", "message": "Unknown frame type 'teleport'."},
    }
    assert (await ann.request("chat.send", {"channel": "class", "body": "still here"}))[
        "type"
    ] == "ack"
    await ann.close()


async def test_chat_rate_limit_and_length(room):
    ann, _ = await join(room, "ann")
    for index in range(5):
        assert (await ann.request("chat.send", {"channel": "class", "body": f"m{index}"}))[
            "type"
        ] == "ack"
    limited = await ann.request("chat.send", {"channel": "class", "body": "one too many"})
    assert limited["data"]["code"] == "rate_limited"
    too_long = await ann.request("chat.send", {"channel": "class", "body": "x" * 2001})
    assert too_long["data"]["code"] == "message_too_long"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 5
    await ann.close()


async def test_reconnect_with_stale_seq_gets_exactly_the_missed_visible_frames(room):
    ann, snapshot = await join(room, "ann")
    last_seq = snapshot["seq"]
    await ann.close()
    teacher, _ = await join(room, "instructor")
    cat, _ = await join(room, "cat")
    await teacher.request("mode.set", {"mode": "table_talk"})
    await cat.request("chat.send", {"channel": "table", "body": "B only"})
    await teacher.request("announcement.send", {"body": "5 minutes left"})
    ann, first = await join(room, "ann", query=f"?seq={last_seq}")
    frames = [first, *await ann.drain(0.5)]
    types = [f["type"] for f in frames if f["type"] not in ("reactions.sent",)]
    visible = [t for t in types if t not in ("presence.summary_changed", "table.presence_changed")]
    assert visible == ["mode.changed", "announcement.posted", "resync.done"]
    for client in (ann, teacher, cat):
        await client.close()


async def test_reconnect_after_buffer_expired_gets_a_snapshot(room, monkeypatch):
    ann, snapshot = await join(room, "ann")
    await ann.close()
    teacher, _ = await join(room, "instructor")
    await teacher.request("mode.set", {"mode": "table_talk"})
    await teacher.request("mode.set", {"mode": "lecture"})
    from core import realtime

    buffer = realtime.frame_buffer()
    original = buffer.since
    monkeypatch.setattr(
        buffer,
        "since",
        lambda scope, after: [f for f in original(scope, after) if f[0] > after + 1],
    )
    ann, first = await join(room, "ann", query=f"?seq={snapshot['seq']}")
    assert first["type"] == "snapshot" and first["data"]["mode"]["mode"] == "lecture"
    await ann.close()
    await teacher.close()


async def test_outsider_and_foreign_origin_are_refused(room, outsider):
    client = await Client.connect(application, path(room["session"]), outsider, name="outsider")
    assert client.connected
    error = await client.receive()
    assert error["type"] == "error" and error["data"]["code"] == "session_not_found"
    closed = await client.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4404}
    foreign = await Client.connect(
        application, path(room["session"]), room["ann"], origin=b"https://evil.example"
    )
    assert not foreign.connected


async def test_observer_reads_but_cannot_chat(room, course):
    observer = await database_sync_to_async(
        lambda: EnrollmentFactory(course=course, role=Role.OBSERVER).user
    )()
    room["observer"] = observer
    client, snapshot = await join(room, "observer")
    assert snapshot["data"]["me"]["may_participate"] is False
    reply = await client.request("chat.send", {"channel": "class", "body": "hi"})
    assert reply["data"]["code"] == "forbidden"
    await client.close()


async def test_hands_podium_flow(room):
    ann, _ = await join(room, "ann")
    bob, _ = await join(room, "bob")
    teacher, _ = await join(room, "instructor")
    assert (await ann.request("hand.raise"))["type"] == "ack"
    assert (await bob.request("hand.raise"))["type"] == "ack"
    frame, _ = await teacher.receive_until(
        lambda f: f["type"] == "hands.changed" and len(f["data"]["queue"]) == 2
    )
    assert [h["user"]["id"] for h in frame["data"]["queue"]] == [room["ann"].pk, room["bob"].pk]
    denied = await ann.request("hand.lower", {"user_id": room["bob"].pk})
    assert denied["data"]["code"] == "forbidden"
    assert (await teacher.request("podium.invite", {"user_id": room["ann"].pk}))["type"] == "ack"
    podium, _ = await bob.receive_until(lambda f: f["type"] == "podium.changed")
    assert [s["user"]["id"] for s in podium["data"]["speakers"]] == [room["ann"].pk]
    hands, _ = await bob.receive_until(
        lambda f: f["type"] == "hands.changed" and len(f["data"]["queue"]) == 1
    )
    assert hands["data"]["queue"][0]["user"]["id"] == room["bob"].pk
    for client in (ann, bob, teacher):
        await client.close()


async def test_staff_moves_a_learner_who_follows_the_new_table(room):
    from classroom.services.seating import seat_move

    cat, _ = await join(room, "cat")
    await database_sync_to_async(seat_move)(
        course=room["session"].course, user=room["cat"], table=room["a"], actor=room["instructor"]
    )
    snapshot, _ = await cat.receive_until(lambda f: f["type"] == "snapshot")
    assert snapshot["data"]["me"]["table_id"] == room["a"].pk
    ann, _ = await join(room, "ann")
    await ann.request("chat.send", {"channel": "table", "body": "welcome cat"})
    frame, _ = await cat.receive_until(lambda f: f["type"] == "chat.posted")
    assert frame["data"]["body"] == "welcome cat"
    await cat.close()
    await ann.close()


async def test_a_reaction_is_acked_once_shown_to_all_and_written_by_the_flush(room):
    from analytics.models import LearningEvent
    from classroom.models import Participant
    from classroom.services import reactions

    ann, _ = await join(room, "ann")
    cat, _ = await join(room, "cat")
    first = await ann.request("reaction.send", {"kind": "clap"}, frame_id="r-1")
    again = await ann.request("reaction.send", {"kind": "clap"}, frame_id="r-1")
    assert first == {"type": "ack", "id": "r-1"}
    assert again == {"type": "ack", "id": "r-1", "duplicate": True}
    bad = await ann.request("reaction.send", {"kind": "rocket"})
    assert bad["type"] == "error" and bad["data"]["code"] == "invalid_reaction"
    burst, _ = await cat.receive_until(lambda f: f["type"] == "reactions.sent")
    assert burst["data"]["counts"] == {"clap": 1}
    # Written by the engagement flush (every 2 s); nothing is lost if it is late.
    await database_sync_to_async(reactions.reactions_persist)(room["session"].pk)
    events = await database_sync_to_async(list)(
        LearningEvent.objects.filter(verb="reacted", actor=room["ann"])
    )
    assert [e.extensions for e in events] == [{"reaction": "clap"}]
    participant = await database_sync_to_async(Participant.objects.get)(
        session=room["session"], user=room["ann"]
    )
    assert participant.reaction_counts == {"clap": 1}
    await ann.close()
    await cat.close()


async def test_no_reaction_after_the_session_ended(room):
    ann, _ = await join(room, "ann")
    teacher, _ = await join(room, "instructor")
    assert (await ann.request("reaction.send", {"kind": "clap"}))["type"] == "ack"
    assert (await teacher.request("session.end"))["type"] == "ack"
    late = await ann.request("reaction.send", {"kind": "clap"})
    assert late["type"] == "error" and late["data"]["code"] == "session_not_live"
    await ann.close()
    await teacher.close()


async def test_frames_no_column_can_store_get_errors_and_store_nothing(room):
    """Found by fuzzing: each of these closed the socket with 1011 (and left
    the learner 'present' for good) instead of answering with an error."""
    ann, _ = await join(room, "ann")
    teacher, _ = await join(room, "instructor")
    nested = '{"type":"ping","data":{"a":' + "[" * 1000 + "]" * 1000 + "}}"

    async def error_code() -> str:
        # Room frames (the teacher's presence) may arrive first.
        error, _ = await ann.receive_until(lambda frame: frame["type"] == "error")
        return error["data"]["code"]

    await ann.communicator.send_to(text_data=nested)
    assert await error_code() == "malformed_frame"
    for body in ("half a pair \\ud800", "nul \\u0000 inside"):
        frame = '{"type":"chat.send","id":"s1","data":{"channel":"class","body":"BODY"}}'
        await ann.communicator.send_to(text_data=frame.replace("BODY", body))
        assert await error_code() == "malformed_frame"
    await ann.communicator.send_to(text_data='{"type":"chat.send","data":{"x":Infinity}}')
    assert await error_code() == "malformed_frame"
    # A whole surrogate pair is an ordinary character.
    reply = await ann.request("chat.send", {"channel": "class", "body": "ok \U0001f600"})
    assert reply["type"] == "ack"
    for user_id in (2**63, -(2**70)):
        error = await teacher.request("podium.invite", {"user_id": user_id})
        assert error["type"] == "error" and error["data"]["code"] == "invalid", error
    bodies = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values_list("body", flat=True))
    )()
    assert bodies == ["ok \U0001f600"]
    assert (await ann.request("hand.raise", {}))["type"] == "ack"  # still connected
    await ann.close()
    await teacher.close()


async def test_a_failing_action_is_answered_server_error_and_the_socket_stays(room, monkeypatch):
    from classroom.services import chat

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(chat, "chat_send", broken)
    ann, _ = await join(room, "ann")
    error = await ann.request("chat.send", {"channel": "class", "body": "hello"})
    assert error["type"] == "error" and error["data"]["code"] == "server_error"
    assert (await ann.request("hand.raise", {}))["type"] == "ack"
    await ann.close()


async def test_an_action_the_database_cannot_serve_is_answered_server_busy(room, monkeypatch):
    """Not a bug: a `server_busy` frame the client may retry with the same id
    (tests/faults drives a real PostgreSQL restart)."""
    from django.db import OperationalError

    from classroom.services import chat

    real = chat.chat_send

    def unreachable(**kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(chat, "chat_send", unreachable)
    ann, _ = await join(room, "ann")
    error = await ann.request("chat.send", {"channel": "class", "body": "hello"}, frame_id="c1")
    assert error["type"] == "error" and error["data"]["code"] == "server_busy", error
    monkeypatch.setattr(chat, "chat_send", real)
    retried = await ann.request("chat.send", {"channel": "class", "body": "hello"}, frame_id="c1")
    assert retried["type"] == "ack" and not retried.get("duplicate"), retried
    bodies = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values_list("body", flat=True))
    )()
    assert bodies == ["hello"]
    await ann.close()


async def test_a_snapshot_the_database_cannot_serve_closes_4503(room, monkeypatch):
    from django.db import OperationalError

    from classroom import consumers
    from classroom.models import Attendance

    def unreachable(**kwargs):
        raise OperationalError("the database system is starting up")

    # One by one (a reconnect's resync) and in a batch (a fresh connection)
    monkeypatch.setattr(consumers, "session_snapshot_get", unreachable)
    monkeypatch.setattr(consumers, "session_snapshots_get", unreachable)
    client = await Client.connect(application, path(room["session"]), room["ann"], name="ann")
    frame = await client.communicator.receive_json_from(3)
    assert frame["type"] == "error" and frame["data"]["code"] == "server_busy", frame
    closed = await client.communicator.receive_output(3)
    assert closed == {"type": "websocket.close", "code": 4503}
    open_rows = await database_sync_to_async(
        lambda: Attendance.objects.filter(user=room["ann"], left_at__isnull=True).count()
    )()
    assert open_rows == 0


async def test_a_snapshot_that_fails_closes_the_attendance_it_opened(room, monkeypatch):
    from classroom import consumers
    from classroom.models import Attendance

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(consumers, "session_snapshot_get", broken)
    monkeypatch.setattr(consumers, "session_snapshots_get", broken)
    client = await Client.connect(application, path(room["session"]), room["ann"], name="ann")
    assert (await client.communicator.receive_output(3))["type"] == "websocket.close"
    open_rows = await database_sync_to_async(
        lambda: Attendance.objects.filter(user=room["ann"], left_at__isnull=True).count()
    )()
    assert open_rows == 0


@pytest.mark.timing
async def test_without_a_celery_worker_the_server_closes_stale_attendance(
    room, settings, monkeypatch
):
    """The embedded default has no beat: the server loop runs the sweep."""
    import asyncio
    from datetime import timedelta

    from django.utils import timezone

    from classroom.models import Attendance
    from classroom.services import sessions

    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(sessions, "STALE_SWEEP_SECONDS", 0.05)
    long_ago = timezone.now() - timedelta(minutes=10)
    await database_sync_to_async(Attendance.objects.create)(
        session=room["session"],
        user=room["bob"],
        connection="live.died-with-its-process",
        joined_at=long_ago,
        last_seen_at=long_ago,
    )
    ann, _ = await join(room, "ann")
    try:
        for _ in range(100):
            row = await database_sync_to_async(Attendance.objects.get)(
                connection="live.died-with-its-process"
            )
            if row.left_at is not None:
                break
            await asyncio.sleep(0.05)
        assert row.left_at == long_ago  # it ends at its last sign of life
        assert (
            await database_sync_to_async(
                Attendance.objects.filter(user=room["ann"], left_at__isnull=True).count
            )()
            == 1
        )
    finally:
        sessions._stale_sweepers[asyncio.get_running_loop()].cancel()
        await ann.close()
