"""The per-process fan-out hub (core/fanout.py): delivery, holding around a
snapshot, several processes (event loops) and a broken Redis connection."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core import fanout, kv
from tests.conftest import require_redis

pytestmark = pytest.mark.django_db(transaction=True)


class Member(fanout.FrameMember):
    def __init__(self) -> None:
        self.got: list[tuple[int | None, str]] = []
        self.resyncs = 0
        self.arrived = asyncio.Event()

    async def frame_forward(self, event: dict) -> None:
        self.got.append((event.get("seq"), event["text"]))
        self.arrived.set()

    async def frames_resync(self) -> None:
        self.resyncs += 1
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 3.0) -> None:
        async def enough() -> None:
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)


@pytest.fixture(params=["memory", "redis"])
def mode(request, settings):
    if request.param == "redis":
        settings.REDIS_URL = require_redis()
    else:
        settings.REDIS_URL = ""
    kv.reset_for_tests()
    fanout.reset_for_tests()
    yield request.param
    fanout.reset_for_tests()
    kv.reset_for_tests()


async def test_a_frame_reaches_each_member_of_its_groups_once_in_order(mode):
    ann, bob, cat = Member(), Member(), Member()
    await ann.frames_follow(["s.all", "s.table.1"])
    await bob.frames_follow(["s.all", "s.table.1"])
    await cat.frames_follow(["s.all", "s.table.2"])
    # From a worker thread, as a service's on_commit hook would.
    await asyncio.to_thread(fanout.publish, ["s.table.1"], "t1", 1)
    await asyncio.to_thread(fanout.publish, ["s.all"], "all", 2)
    await ann.wait_for(2)
    await bob.wait_for(2)
    await cat.wait_for(1)
    assert ann.got == bob.got == [(1, "t1"), (2, "all")]
    assert cat.got == [(2, "all")]


async def test_unfollowed_groups_deliver_nothing(mode):
    ann, bob = Member(), Member()
    await ann.frames_follow(["u.all", "u.table.1"])
    await bob.frames_follow(["u.all"])
    await ann.frames_follow(["u.all", "u.table.2"])  # moved tables
    await fanout.publish_async(["u.table.1"], "old table")
    await fanout.publish_async(["u.all"], "everyone")
    await ann.wait_for(1)
    await bob.wait_for(1)
    assert ann.got == [(None, "everyone")]
    ann.frames_unfollow()
    await fanout.publish_async(["u.all"], "after leaving")
    await bob.wait_for(2)
    assert ann.got == [(None, "everyone")]


async def test_text_with_separators_arrives_intact(mode):
    ann = Member()
    await ann.frames_follow(["x.all"])
    text = '{"type":"chat.posted","data":{"body":"a|b|c\\nd"}}'
    await fanout.publish_async(["x.all"], text, 7, "refresh")
    await ann.wait_for(1)
    assert ann.got == [(7, text)]


async def test_frames_are_held_during_a_snapshot_and_covered_ones_dropped(mode):
    ann = Member()
    ann.frames_hold()
    await ann.frames_follow(["h.all"])
    for seq in (4, 5, 6):
        await fanout.publish_async(["h.all"], f"f{seq}", seq)
    await fanout.publish_async(["h.all"], "ephemeral")
    await asyncio.sleep(0.3)
    assert ann.got == []
    await ann.frames_release(5)  # the snapshot was at seq 5
    assert ann.got == [(6, "f6"), (None, "ephemeral")]
    await fanout.publish_async(["h.all"], "f7", 7)
    await ann.wait_for(3)
    assert ann.got[-1] == (7, "f7")


async def test_a_covered_frame_published_after_the_release_is_dropped_too(mode):
    """A write commits at seq 3, a snapshot read after the commit goes out at
    seq 3, and only then does the writer publish: frame 3 must not follow the
    snapshot (the client would apply it twice). Later frames still pass, in
    the order they are published (9 before 8: the client orders by prev)."""
    ann = Member()
    ann.frames_hold()
    await ann.frames_follow(["late.all"])
    await ann.frames_release(3)  # the snapshot was at seq 3
    for seq in (2, 3, 9, 8):
        await fanout.publish_async(["late.all"], f"f{seq}", seq)
    await fanout.publish_async(["late.all"], "ephemeral")
    await ann.wait_for(3)
    await asyncio.sleep(0.1)
    assert ann.got == [(9, "f9"), (8, "f8"), (None, "ephemeral")]


async def test_a_hold_inside_a_release_keeps_later_frames_for_its_own_release(mode):
    class Refreshing(Member):
        async def frame_forward(self, event: dict) -> None:
            await super().frame_forward(event)
            if event.get("control") == "refresh":
                self.frames_hold()  # a seat change: a new snapshot is coming

    ann = Refreshing()
    ann.frames_hold()
    await ann.frames_follow(["n.all"])
    await fanout.publish_async(["n.all"], "seat", 1, "refresh")
    await fanout.publish_async(["n.all"], "later", 2)
    await asyncio.sleep(0.3)
    await ann.frames_release(0)
    assert ann.got == [(1, "seat")]
    await ann.frames_release(1)
    assert ann.got == [(1, "seat"), (2, "later")]


def test_every_process_delivers_to_its_own_members(settings):
    """Two event loops in two threads stand for two Daphne processes."""
    settings.REDIS_URL = require_redis()
    kv.reset_for_tests()
    ready = threading.Barrier(3)
    results: dict[str, list] = {}

    def process(name: str) -> None:
        async def run() -> None:
            member = Member()
            await member.frames_follow(["p.all"])
            ready.wait()
            await member.wait_for(2, timeout=5)
            results[name] = member.got

        asyncio.run(run())

    threads = [threading.Thread(target=process, args=(n,)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    ready.wait()
    fanout.publish(["p.all"], "a", 1)
    fanout.publish(["p.all"], "b", 2)
    for thread in threads:
        thread.join(10)
    assert results == {"one": [(1, "a"), (2, "b")], "two": [(1, "a"), (2, "b")]}
    fanout.reset_for_tests()


async def test_a_broken_redis_connection_resubscribes_and_resyncs_members(settings):
    settings.REDIS_URL = require_redis()
    kv.reset_for_tests()
    fanout.reset_for_tests()
    ann = Member()
    await ann.frames_follow(["r.all"])
    await fanout.publish_async(["r.all"], "before", 1)
    await ann.wait_for(1)
    # Drop the hub's pub/sub connection, as a Redis restart or a network cut
    # would (only this one: the Redis is shared with other test runs).
    client = kv.async_client()
    for entry in await client.client_list(_type="pubsub"):
        if entry.get("name") == fanout.hub().client_name:
            await client.client_kill_filter(_id=entry["id"])

    async def resynced() -> None:
        while ann.resyncs == 0:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(resynced(), 5)
    assert fanout.hub().confirmed(["r.all"])  # on the new connection
    await fanout.publish_async(["r.all"], "after", 2)
    await ann.wait_for(2)
    assert ann.got == [(1, "before"), (2, "after")]
    fanout.reset_for_tests()


async def test_idle_groups_are_unsubscribed(settings, monkeypatch):
    settings.REDIS_URL = require_redis()
    kv.reset_for_tests()
    fanout.reset_for_tests()
    monkeypatch.setattr(fanout, "IDLE_UNSUBSCRIBE_SECONDS", 0.2)
    ann = Member()
    await ann.frames_follow(["i.all", "i.table.1"])
    await ann.frames_follow(["i.all"])
    channel = fanout.hub().prefix + "i.table.1"
    assert channel in fanout.hub()._subscribed
    await asyncio.sleep(0.6)
    assert channel not in fanout.hub()._subscribed
    counts = dict(await kv.async_client().pubsub_numsub(channel))
    assert counts[channel.encode()] == 0
    fanout.reset_for_tests()


# --- Pre-framed writes to Daphne's sockets -------------------------------------------------------


def _daphne_socket():
    """Daphne's own WebSocket protocol on a Twisted string transport, shaped
    as Daphne hands it to an application: `send=partial(server.handle_reply,
    protocol)`."""
    import functools

    from daphne.server import Server
    from daphne.ws_protocol import WebSocketFactory
    from twisted.internet.testing import StringTransport

    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.connections = {}  # set by Server.run(), which these tests do not start
    protocol = WebSocketFactory(server).buildProtocol(("127.0.0.1", 1))
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state = protocol.STATE_OPEN  # as after the handshake
    server.connections[protocol] = {}
    return server, protocol, transport, functools.partial(server.handle_reply, protocol)


def _unframe(data: bytes) -> list[str]:
    """Decode unmasked server-to-client text frames (RFC 6455, section 5.2)."""
    texts = []
    while data:
        assert data[0] == 0x81  # FIN + text
        length, start = data[1], 2
        if length == 126:
            length, start = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(data[2:10], "big"), 10
        texts.append(data[start : start + length].decode())
        data = data[start + length :]
    return texts


def test_the_wire_is_found_only_under_daphnes_send():
    server, protocol, _, send = _daphne_socket()
    wire = fanout.Wire.under(send)
    assert wire is not None and wire.protocol is protocol

    async def other_send(message):
        return None

    assert fanout.Wire.under(other_send) is None
    assert fanout.Wire.under(None) is None
    assert fanout.Wire.under(__import__("functools").partial(print, protocol)) is None


def test_one_framing_serves_every_socket_and_lengths_of_each_size_arrive_intact():
    sockets = [_daphne_socket() for _ in range(3)]
    wires = [fanout.Wire.under(send) for *_, send in sockets]
    texts = ["short", "é" * 100, "€" * 30_000]  # 7-bit, 16-bit and 64-bit lengths
    for text in texts:
        event = {"text": text, "seq": 1, "control": None}
        for wire in wires:
            wire.write(event)
        assert fanout.wire_frame(event) is event["wire"]  # framed once, then reused
    for _, _, transport, _ in sockets:
        assert _unframe(transport.value()) == texts


def test_nothing_is_written_to_a_closing_or_disconnected_socket():
    server, protocol, transport, send = _daphne_socket()
    wire = fanout.Wire.under(send)
    server.connections[protocol]["disconnected"] = True
    wire.write({"text": "gone"})
    server.connections[protocol] = {}
    protocol.state = protocol.STATE_CLOSING
    wire.write({"text": "closing"})
    del server.connections[protocol]
    protocol.state = protocol.STATE_OPEN
    wire.write({"text": "forgotten"})
    assert transport.value() == b""


async def test_members_following_at_once_share_subscribe_commands_and_each_is_confirmed(
    settings, monkeypatch
):
    """A class connecting at once: every new group is subscribed (Redis
    counts one subscriber per channel) and a frame published right after a
    follow returns reaches that member, but the hub sends a few SUBSCRIBE
    commands, not one per member one after the other."""
    settings.REDIS_URL = require_redis()
    kv.reset_for_tests()
    fanout.reset_for_tests()
    commands = []
    found = fanout.hub()
    await found.follow(Member(), ["b.all"])  # the pub/sub connection exists
    original = type(found._pubsub).subscribe

    async def counted(self, *channels, **kwargs):
        commands.append(len(channels))
        return await original(self, *channels, **kwargs)

    monkeypatch.setattr(type(found._pubsub), "subscribe", counted)
    members = [Member() for _ in range(60)]
    await asyncio.gather(
        *(m.frames_follow(["b.all", f"b.user.{i}"]) for i, m in enumerate(members))
    )
    assert sum(commands) == 60  # every new channel once
    assert len(commands) < 60, commands
    channels = [found.prefix + f"b.user.{i}" for i in range(60)]
    counts = dict(await kv.async_client().pubsub_numsub(*channels))
    assert set(counts.values()) == {1}
    await asyncio.to_thread(fanout.publish, ["b.user.59"], "to the last", 1)
    await members[59].wait_for(1)
    assert members[59].got == [(1, "to the last")]
    fanout.reset_for_tests()


# --- Straight to the kernel: Twisted's TCP transport on a real socket ----------------------------


class _Reactor:
    """What a Twisted TCP transport asks of its reactor, recorded."""

    def __init__(self) -> None:
        self.writers: list = []

    def addReader(self, _reader) -> None:  # noqa: N802 (Twisted's names)
        pass

    def addWriter(self, writer) -> None:  # noqa: N802
        self.writers.append(writer)

    def removeWriter(self, writer) -> None:  # noqa: N802
        pass


def _tcp_transport():
    import socket
    from types import SimpleNamespace

    from twisted.internet import tcp
    from twisted.internet.protocol import Protocol

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    reactor = _Reactor()
    transport = tcp.Server(
        ours, Protocol(), ("127.0.0.1", 1), SimpleNamespace(_realPortNumber=1), 1, reactor
    )
    return transport, theirs, reactor


def _received(theirs, size: int) -> bytes:
    theirs.settimeout(2)
    data = b""
    while len(data) < size:
        data += theirs.recv(size - len(data))
    return data


def test_a_frame_goes_to_the_kernel_at_once_when_nothing_waits_before_it():
    transport, theirs, reactor = _tcp_transport()
    assert fanout._write_now(transport, b"first")
    assert fanout._write_now(transport, b"second")
    assert _received(theirs, 11) == b"firstsecond"
    assert reactor.writers == []  # never registered for writing: no epoll_ctl per frame
    assert fanout.transport_buffered(transport) == 0


def test_a_frame_waits_behind_what_twisted_holds_and_keeps_its_order():
    transport, theirs, reactor = _tcp_transport()
    transport.write(b"held ")  # Twisted's buffer, written on the loop's next turn
    assert not fanout._write_now(transport, b"later")  # the caller writes it through Twisted
    transport.write(b"later")
    transport.doWrite()
    assert _received(theirs, 10) == b"held later"


def test_what_the_kernel_does_not_take_stays_with_twisted_in_order():
    transport, theirs, reactor = _tcp_transport()
    chunk = b"x" * 65536
    while fanout._write_now(transport, chunk) and fanout.transport_buffered(transport) == 0:
        pass  # until the socket's kernel buffer is full
    assert fanout.transport_buffered(transport) > 0 or reactor.writers
    assert not fanout._write_now(transport, b"tail")  # behind the rest, never before it


def test_a_closing_or_tls_transport_is_left_to_twisted():
    transport, _theirs, _reactor = _tcp_transport()
    transport.disconnecting = True
    assert not fanout._write_now(transport, b"x")
    transport.disconnecting = False
    transport.TLS = True
    assert not fanout._write_now(transport, b"x")
    assert not fanout._write_now(object(), b"x")


class _Wired(fanout.FrameMember):
    """A member with a Daphne wire (as a live consumer under Daphne)."""

    def __init__(self, send) -> None:
        self.base_send = send
        self.forwarded: list = []
        self.last = 0

    def frame_forward_now(self, event) -> bool:
        self.last = max(self.last, event.get("seq") or 0)
        return True

    async def frame_forward(self, event) -> None:
        self.forwarded.append(event["text"])
        await self.frames_write(event)


def test_the_hub_writes_to_a_wired_member_without_a_coroutine_unless_it_must_wait():
    _server, _protocol, transport, send = _daphne_socket()
    member = _Wired(send)
    assert member.frame_deliver_now({"text": "now", "seq": 3, "control": None})
    assert member.last == 3 and member.forwarded == []
    member.frames_hold()  # a snapshot being prepared: the frame must wait
    assert not member.frame_deliver_now({"text": "held", "seq": 4, "control": None})
    member._held = None
    # A control word needs the consumer's own handling
    assert not member.frame_deliver_now({"text": "c", "seq": 5, "control": "refresh"})
    assert _unframe(transport.value()) == ["now"]
