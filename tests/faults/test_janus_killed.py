"""Janus killed mid-session: the live session goes on (chat, a poll, a mode
change), staff are told media is down (`media.health` on the live socket),
and when Janus is back every participant's media comes back on the same
media socket, without a reload: the server rejoins Janus by itself and sends
`media.config` again; clients publish again and answer a fresh offer.

Real Janus and Daphne in the media lab's network namespace, aiortc
participants publishing tones (tests/media/participant.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from classroom.models import ChatMessage, Poll
from tests.faults.live import LiveClient
from tests.media.conftest import classroom, lab  # noqa: F401 (fixtures)
from tests.media.participant import Participant, ToneTrack, session_cookie

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

TONES = {"teacher": 400, "ann": 600, "ben": 800}
ORIGIN = "http://127.0.0.1"


async def _hears(participants: dict, expected: dict, seconds: float) -> dict:
    start = time.monotonic()
    heard: dict = {}
    while time.monotonic() < start + seconds:
        await asyncio.sleep(0.5)
        since = max(start + 1.0, time.monotonic() - 1.5)
        heard = {name: p.audible_users(since) for name, p in participants.items()}
        if heard == expected and time.monotonic() - start > 2.0:
            return heard
    return heard


async def _until(predicate, seconds: float, what: str) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


def _count(participant: Participant, kind: str) -> int:
    return sum(1 for frame in participant.frames_seen if frame.get("type") == kind)


def test_janus_killed_mid_session_media_comes_back_without_a_reload(lab, classroom):  # noqa: F811
    people = classroom
    ids = {name: people[name].pk for name in TONES}
    cookies = {name: session_cookie(people[name]) for name in TONES}
    session_id = people["session"].pk

    async def scenario() -> dict:
        media = {
            name: Participant(lab.ws_url, session_id, cookies[name], tone=TONES[name], video=False)
            for name in TONES
        }
        teacher = await LiveClient.connect(lab.base_url, session_id, cookies["teacher"], ORIGIN)
        ann = await LiveClient.connect(lab.base_url, session_id, cookies["ann"], ORIGIN)
        try:
            for participant in media.values():
                await participant.connect()
                assert (await participant.publish())["type"] == "ack"
            expected = {"teacher": set(), "ann": {ids["ben"]}, "ben": {ids["ann"]}}
            before = await _hears(media, expected, 15)
            sockets = {name: p.socket for name, p in media.items()}

            killed = time.monotonic()
            lab.kill_janus()
            await _until(
                lambda: all(_count(p, "media.unavailable") for p in media.values()),
                10,
                "participants told media is down",
            )
            down_at = await teacher.wait_for(
                lambda f: f["type"] == "media.health" and f["data"]["up"] is False, 10
            )
            unavailable = [
                next(f for f in p.frames_seen if f["type"] == "media.unavailable")["data"]
                for p in media.values()
            ]
            # The class goes on without media: chat, a poll, a mode change.
            chat = await ann.request(
                "chat.send", {"channel": "class", "body": "can you hear me?"}, "chat-1"
            )
            opened = await teacher.request(
                "poll.open",
                {
                    "kind": "single",
                    "prompt": "Still with us?",
                    "definition": {"options": [{"text": "Yes"}, {"text": "No"}]},
                },
                "poll-1",
            )
            vote = await ann.request(
                "poll.vote",
                {"poll_id": opened["data"]["poll_id"], "answer": {"option": "a"}},
                "vote-1",
            )
            lecture = await teacher.request("mode.set", {"mode": "lecture"}, "mode-1")
            back_to_tables = await teacher.request("mode.set", {"mode": "table_talk"}, "mode-2")

            lab.restart_janus()
            restarted = time.monotonic()
            # The server rejoined: a second media.config on the same socket; publish again.
            await _until(
                lambda: all(_count(p, "media.config") == 2 for p in media.values()),
                30,
                "media.config again after Janus came back",
            )
            configs_at = time.monotonic()
            for name, participant in media.items():
                # Closing an aiortc PeerConnection ends its tracks (a browser's
                # camera track outlives it): a fresh tone for the new one.
                await participant.publisher_pc.close()
                participant.tone = ToneTrack(TONES[name])
                assert (await participant.publish())["type"] == "ack"
            after = await _hears(media, expected, 20)
            heard_at = time.monotonic()
            up_at = await teacher.wait_for(
                lambda f: f["type"] == "media.health" and f["data"]["up"] is True, 5
            )
            return {
                "before": before,
                "after": after,
                "expected": expected,
                "unavailable": unavailable,
                "acks": [chat, opened, vote, lecture, back_to_tables],
                "same_sockets": all(media[n].socket is sockets[n] for n in media),
                "open": all(p.socket.state.name == "OPEN" for p in media.values()),
                "closed_frames": [
                    f for p in media.values() for f in p.frames_seen if f["type"] == "error"
                ],
                "down_s": down_at - killed,
                "config_s": configs_at - restarted,
                "audio_s": heard_at - restarted,
                "up_s": up_at - restarted,
            }
        finally:
            for participant in media.values():
                await participant.close()
            await teacher.close()
            await ann.close()

    result = lab.run(scenario)
    print(
        "staff told {down_s:.1f} s after the kill; after the restart: media.config "
        "{config_s:.1f} s, audio flowing {audio_s:.1f} s, staff told {up_s:.1f} s".format(**result)
    )
    assert result["before"] == result["expected"]
    assert all(u["retrying"] is True for u in result["unavailable"])
    assert [a["type"] for a in result["acks"]] == ["ack"] * 5, result["acks"]
    assert result["after"] == result["expected"]
    assert result["same_sockets"] and result["open"]  # no reconnect, no reload
    assert result["closed_frames"] == []
    assert ChatMessage.objects.filter(body="can you hear me?").count() == 1
    assert Poll.objects.filter(session=people["session"]).count() == 1
