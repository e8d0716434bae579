"""Two learners at one table in real Chromium (fake camera and microphone)
see each other's video through Janus; everything inside the media lab's
network namespace. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import require_chromium
from tests.livemedia.participant import session_cookie

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timing,  # WebRTC through Janus in real time: alone on the machine
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(150),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "media"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]

VIDEO_PLAYING = """
(video) => new Promise((resolve) => {
  if (!video || !video.videoWidth) return resolve(null);
  const first = video.currentTime;
  setTimeout(() => resolve({width: video.videoWidth, height: video.videoHeight,
                            advanced: video.currentTime - first}), 1000);
})
"""


def test_two_learners_at_one_table_see_each_other(lab, classroom, tmp_path):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    people = classroom
    session = people["session"]
    cookies = {
        name: session_cookie(people[name]).split("=", 1)[1] for name in ("ann", "ben", "cleo")
    }
    ids = {name: people[name].pk for name in ("ann", "ben", "cleo")}
    # Chromium runs inside the namespace, where Janus offers 127.0.0.2.
    wrapper = tmp_path / "chromium-in-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {lab.name} "{executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = f"{lab.base_url}/sessions/{session.pk}/media/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        pages = {}
        try:
            for name in ("ann", "ben", "cleo"):
                context = browser.new_context(viewport={"width": 1100, "height": 800})
                context.add_cookies(
                    [{"name": "sessionid", "value": cookies[name], "url": lab.base_url}]
                )
                page = context.new_page()
                page.set_default_timeout(20_000)
                page.goto(url)
                expect(page.locator("[data-media-root]")).to_have_attribute("data-media", "ready")
                pages[name] = page
            for page in pages.values():
                page.get_by_role("button", name="Join with camera and microphone").click()
                expect(page.locator("[data-ref=media-controls]")).to_be_visible()
            results = {}
            for name, mate in (("ann", "ben"), ("ben", "ann")):
                page = pages[name]
                remote = page.locator(f'.media-tile[data-user-id="{ids[mate]}"] video')
                expect(remote).to_have_count(1)
                page.wait_for_function(
                    "(v) => v && v.videoWidth > 0 && v.currentTime > 0.5",
                    arg=remote.element_handle(),
                    timeout=25_000,
                )
                results[name] = remote.evaluate(VIDEO_PLAYING)
                # Only the mate: Cleo sits at another table.
                assert page.locator(f'.media-tile[data-user-id="{ids["cleo"]}"]').count() == 0
                page.screenshot(path=str(ARTIFACTS / f"{name}-sees-{mate}.png"), full_page=True)
            assert pages["cleo"].locator(".media-tile:not(.media-tile--self)").count() == 0
            pages["cleo"].screenshot(path=str(ARTIFACTS / "cleo-alone.png"), full_page=True)
            # Ann's signalling drops (a Daphne restart, a network change): her page
            # reconnects and publishes again, and Ben sees her again.
            pages["ann"].evaluate("window.roundtableMedia.socket.close()")
            expect(pages["ann"].locator("[data-media-root]")).to_have_attribute(
                "data-media", "ready", timeout=15_000
            )
            pages["ben"].wait_for_function(
                """(id) => {
                  const v = document.querySelector(`.media-tile[data-user-id="${id}"] video`);
                  if (!v || !v.videoWidth) return false;
                  window.__t = window.__t || {};
                  const last = window.__t[id]; window.__t[id] = v.currentTime;
                  return last !== undefined && v.currentTime > last;
                }""",
                arg=ids["ann"],
                polling=500,
                timeout=30_000,
            )
            pages["ben"].screenshot(path=str(ARTIFACTS / "ben-sees-ann-after-reconnect.png"))
        finally:
            browser.close()
    for name, seen in results.items():
        assert seen and seen["width"] > 0 and seen["height"] > 0, (name, seen)
        assert seen["advanced"] > 0.5, (name, seen)
