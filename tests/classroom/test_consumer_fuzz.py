"""Property test: arbitrary and malformed client frames against the real live
and playback consumers (routed ASGI app, the environment's Redis and
database). Whatever a client sends, the socket answers with an `ack` or an
`error` frame whose code docs/realtime.md documents (or `pong`, `snapshot`,
`resync.done` for `ping` and `resync`), never closes, never crashes, and works
normally afterwards."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classroom.models import LiveSession, Seat, SessionState, Table
from config.asgi import application
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "realtime.md").read_text()
EXAMPLES = 200  # per socket: about 15 s each
ANSWERS = {"ack", "error", "pong", "snapshot", "resync.done"}


def _documented_codes() -> set[str]:
    """The error codes the client-frame sections of docs/realtime.md name:
    the errors column of both tables and the prose after them."""
    live = DOCS[DOCS.index("## Client frames") : DOCS.index("## Learning events")]
    playback = DOCS[DOCS.index("Client frames:", DOCS.index("## Playback rooms")) :]
    codes = set()
    for section in (live, playback):
        for line in section.splitlines():
            text = line.rsplit("|", 2)[-2] if line.startswith("| `") else line
            codes |= set(re.findall(r"`([a-z]+(?:_[a-z]+)*)`", text))
    return codes


CODES = _documented_codes()

# What a JSON value can be, bent toward what breaks parsers and columns.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**30, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u200b", "€" * 50, "a" * 3000, "class", "table", "staff"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "seq", "channel", "body", "table_id", "mode", "user_id", "question_id", "poll_id",
    "answer", "seconds", "kind", "message_id", "anonymous", "away", "label",
    "delta_seconds", "timer_id", "warning_seconds", "settings", "definition", "prompt",
    "points", "podium_addresses_all", "anonymous_questions_allowed", "position_ms",
    "media_ms", "rate", "visibility", "note_id", "from_ms", "to_ms", "control",
    "user_ids", "t",
]  # fmt: skip


def frame_types(kind: str) -> list[str]:
    section = (
        DOCS[DOCS.index("## Client frames") : DOCS.index("## Learning events")]
        if kind == "live"
        else DOCS[DOCS.index("Client frames:", DOCS.index("## Playback rooms")) :]
    )
    found = re.findall(r"^\| `([a-z_.]+)`(?: / `([a-z_.]+)`)?", section, re.M)
    return sorted({name for pair in found for name in pair if name})


# Values a real client would send for each field, so that well-formed frames
# also reach the services (and get acks), not only the parser.
SENSIBLE = {
    "channel": st.sampled_from(["class", "table", "staff"]),
    "body": st.text(min_size=1, max_size=60),
    "kind": st.sampled_from(["thumbs_up", "clap", "slower", "single", "rating"]),
    "mode": st.sampled_from(["lecture", "table_talk", "visiting", "stage", "podium"]),
    "away": st.booleans(),
    "anonymous": st.booleans(),
    "seconds": st.integers(-10, 20_000),
    "seq": st.integers(-5, 50),
    "position_ms": st.integers(-5, 10_000),
    "media_ms": st.integers(-5, 10_000),
    "rate": st.sampled_from([0.5, 1, 2, 3]),
    "visibility": st.sampled_from(["private", "table", "course", "public"]),
    "label": st.text(max_size=20),
}


def field_values(name: str):
    sensible = SENSIBLE.get(name, st.integers(-3, 3))
    return st.one_of(sensible, sensible, values)


def envelopes(types: list[str]):
    data = st.one_of(
        st.sampled_from(FIELDS).flatmap(lambda n: st.fixed_dictionaries({n: field_values(n)})),
        st.lists(st.sampled_from(FIELDS), max_size=4, unique=True).flatmap(
            lambda names: st.fixed_dictionaries({n: field_values(n) for n in names})
        ),
        st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
        values,  # not an object, sometimes
    )
    good_ids = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=64)
    bad_ids = st.one_of(st.none(), st.text(min_size=65, max_size=70), st.integers(), st.just(""))
    well_formed = st.fixed_dictionaries(
        {"type": st.sampled_from(types), "id": good_ids}, optional={"data": data}
    )
    odd = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(types), st.text(max_size=12), st.integers(), st.none())},
        optional={"id": st.one_of(good_ids, bad_ids), "data": data},
    )
    frames = st.one_of(well_formed, well_formed, well_formed, odd)
    return st.one_of(
        frames.map(lambda f: json.dumps(f, ensure_ascii=False)),
        frames.map(json.dumps),  # ASCII only: NUL and lone surrogates as JSON escapes
    )


raw_texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "", "{", "null", "[]", '"ping"', "NaN", '{"type": NaN}', '{"type": "ping", "data": 1e999}',
            '{"type": "ping"} trailing', "[" * 5000 + "]" * 5000,
            '{"type": "chat.send", "data": {"body": "\\u0000"}}',
            '{"type": "chat.send", "data": {"body": "\\ud800"}}',
            '{"type": "' + "€" * 6000 + '"}',
        ]
    ),
)  # fmt: skip


def client_frames(types: list[str]):
    framed = envelopes(types)
    return st.one_of(
        framed.map(lambda text: ("text", text)),
        framed.map(lambda text: ("text", text)),
        framed.map(lambda text: ("text", text)),
        framed.map(lambda text: ("bytes", text.encode("utf-8", "surrogatepass"))),
        raw_texts.map(lambda text: ("text", text)),
        raw_texts.map(lambda text: ("bytes", text.encode("utf-8", "surrogatepass"))),
        st.binary(max_size=64).map(lambda raw: ("bytes", raw)),
    )


async def _answer(client: Client, timeout: float = 10) -> dict:
    """The answer to the frame just sent; broadcasts meanwhile are skipped.
    The socket closing, or the application failing, fails the test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, "no answer"
        output = await client.communicator.receive_output(timeout=remaining)
        assert output["type"] == "websocket.send", output  # a close is a failure
        frame = json.loads(output["text"])
        if frame["type"] in ANSWERS:
            return frame


def _fuzz(path: str, user, types: list[str], examples: int) -> dict:
    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(Client.connect(application, path, user, name="fuzz"))
        assert client.connected
        assert loop.run_until_complete(_answer(client))["type"] == "snapshot"
        seen: dict[str, int] = {}

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # the same frames every run: a failure reproduces, and the ack count cannot come out 0 by chance
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(client_frames(types))
        def one(sent: tuple[str, object]) -> None:
            kind, payload = sent

            async def exchange() -> dict:
                # As the server hands it over (empty frames included, which
                # the communicator's send_to refuses).
                await client.communicator.send_input({"type": "websocket.receive", kind: payload})
                return await _answer(client)

            answer = loop.run_until_complete(exchange())
            if answer["type"] == "error":
                code = answer["data"]["code"]
                assert code in CODES, (code, sent)
                assert code != "server_error", sent  # a bug, not an answer
                seen[code] = seen.get(code, 0) + 1
            else:
                seen[answer["type"]] = seen.get(answer["type"], 0) + 1

        one()

        async def still_works() -> None:
            await client.communicator.send_json_to({"type": "ping", "data": {"seq": 0, "t": 1}})
            assert (await _answer(client))["type"] == "pong"
            await client.communicator.send_json_to({"type": "resync", "data": {}})
            assert (await _answer(client))["type"] == "snapshot"  # the state still reads

        loop.run_until_complete(still_works())
        loop.run_until_complete(client.close())
        return seen
    finally:
        # Nothing of this loop (the hub's reader, the consumer) outlives it.
        from core import fanout

        fanout.hub_close(loop)
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


@pytest.fixture
def live_room(course, learner, instructor, live_session):
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    table = Table.objects.create(course=course, name="A")
    Seat.objects.create(course=course, table=table, user=learner)
    return live_session


@pytest.mark.parametrize("who", ["learner", "instructor"])
def test_any_frame_to_the_live_socket_gets_a_documented_answer(live_room, request, who):
    user = request.getfixturevalue(who)
    seen = _fuzz(f"/ws/live/{live_room.pk}/", user, frame_types("live"), EXAMPLES)
    print(who, seen)
    assert seen.get("malformed_frame") and seen.get("ack")  # both kinds were exercised
