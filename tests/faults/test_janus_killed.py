"""Janus killed mid-session: the live session goes on (chat, a poll, a mode
change), staff are told media is down (`media.health` on the live socket),
and when Janus is back every participant's media comes back on the same
media socket, without a reload: the server rejoins Janus by itself and sends
`media.config` again; clients publish again and answer a fresh offer.

Real Janus and Daphne in the media lab's network namespace, aiortc
participants publishing tones (tests/livemedia/participant.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from classroom.models import ChatMessage, Poll
from tests.faults.live import LiveClient
from tests.livemedia.conftest import classroom, lab  # noqa: F401 (fixtures)
from tests.livemedia.participant import Participant, ToneTrack, session_cookie

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

TONES = {"teacher": 400, "ann": 600, "ben": 800}


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
        teacher = await LiveClient.connect(lab.base_url, session_id, cookies["teacher"])
        ann = await LiveClient.connect(lab.base_url, session_id, cookies["ann"])
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


def test_janus_killed_in_chromium_console_banner_and_video_come_back(lab, classroom, tmp_path):  # noqa: F811
    """The same in real Chromium (fake camera): Ann and Ben see each other,
    Janus dies, the instructor console shows the banner, Janus returns, and
    both see each other again on the same pages (no reload: a marker set on
    each page before the kill is still there)."""
    import os
    import stat

    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import require_chromium
    from tests.livemedia.test_browser import CHROMIUM_ARGS

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = require_chromium()
    people = classroom
    session = people["session"]
    names = ("teacher", "ann", "ben")
    cookies = {name: session_cookie(people[name]).split("=", 1)[1] for name in names}
    ids = {name: people[name].pk for name in names}
    wrapper = tmp_path / "chromium-in-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {lab.name} "{executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    video_advancing = """(id) => {
      const v = document.querySelector(`.media-tile[data-user-id="${id}"] video`);
      if (!v || !v.videoWidth) return false;
      window.__t = window.__t || {};
      const last = window.__t[id]; window.__t[id] = v.currentTime;
      return last !== undefined && v.currentTime > last;
    }"""

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        try:
            pages = {}
            for name in names:
                context = browser.new_context(viewport={"width": 1100, "height": 800})
                context.add_cookies(
                    [{"name": "sessionid", "value": cookies[name], "url": lab.base_url}]
                )
                page = context.new_page()
                page.set_default_timeout(20_000)
                path = "live" if name == "teacher" else "media"
                page.goto(f"{lab.base_url}/sessions/{session.pk}/{path}/")
                pages[name] = page
            for name in ("ann", "ben"):
                page = pages[name]
                expect(page.locator("[data-media-root]")).to_have_attribute("data-media", "ready")
                page.get_by_role("button", name="Join with camera and microphone").click()
                expect(page.locator("[data-ref=media-controls]")).to_be_visible()
            for name, mate in (("ann", "ben"), ("ben", "ann")):
                pages[name].wait_for_function(
                    video_advancing, arg=ids[mate], polling=500, timeout=30_000
                )
            banner = pages["teacher"].locator("[data-ref=media-down]")
            expect(banner).to_be_hidden()
            for page in pages.values():
                page.evaluate("window.__notReloaded = true")

            lab.kill_janus()
            expect(banner).to_be_visible(timeout=10_000)
            expect(banner).to_contain_text("Audio and video are down")
            for name in ("ann", "ben"):
                root = pages[name].locator("[data-media-root]")
                # Joined: the page waits on its socket for media to come back.
                expect(root).to_have_attribute("data-media", "reconnecting", timeout=10_000)
                expect(root).to_have_attribute("data-publisher", "closed")
                # A learner reads the plain line; the reason is for staff.
                expect(root).to_contain_text(
                    "Audio and video are not available right now; everything else works."
                )
            pages["teacher"].screenshot(path=str(tmp_path / "console-media-down.png"))

            lab.restart_janus()
            expect(banner).to_be_hidden(timeout=30_000)
            for name, mate in (("ann", "ben"), ("ben", "ann")):
                page = pages[name]
                expect(page.locator("[data-media-root]")).to_have_attribute(
                    "data-media", "ready", timeout=30_000
                )
                page.evaluate("window.__t = {}")
                page.wait_for_function(video_advancing, arg=ids[mate], polling=500, timeout=30_000)
            not_reloaded = [
                page.evaluate("window.__notReloaded === true") for page in pages.values()
            ]
        finally:
            browser.close()
    assert not_reloaded == [True, True, True]
