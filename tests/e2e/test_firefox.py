"""The learner view in Firefox, driven over Marionette (Firefox's own remote
protocol: Playwright cannot drive Debian's Firefox ESR, and geckodriver is not
packaged). The instructor works in Chromium; the learner in Firefox sees the
session start, follows a mode switch, chats, and recovers by itself from a
dropped socket."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from classroom.models import ChatMessage, LiveSession, SessionState
from tests.conftest import require
from tests.e2e.test_live_classroom import DESKTOP, chat_log, classroom, open_live, send_chat
from tests.factories import PASSWORD

__all__ = ["classroom"]  # the fixture, shared with the Chromium tests

pytestmark = pytest.mark.django_db(transaction=True)

PREFS = {
    "marionette.port": None,  # set per run
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.auto": False,
    "app.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def firefox():
    binary = shutil.which("firefox-esr") or shutil.which("firefox")
    require(binary is not None, "Firefox is not installed (apt-get install -y firefox-esr)")
    from marionette_driver.marionette import Marionette

    port = _free_port()
    profile = Path(tempfile.mkdtemp(prefix="rt-firefox-"))
    prefs = {**PREFS, "marionette.port": port}
    (profile / "user.js").write_text(
        "".join(f"user_pref({_js(k)}, {_js(v)});\n" for k, v in prefs.items())
    )
    process = subprocess.Popen(
        [binary, "--headless", "--marionette", "--no-remote", "--profile", str(profile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Marionette(host="127.0.0.1", port=port, startup_timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.start_session()
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.5)
        client.set_window_rect(width=1280, height=900)
        yield client
    finally:
        with contextlib.suppress(Exception):  # the browser may already be gone
            client.delete_session()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _js(value) -> str:
    import json

    return json.dumps(value)


def _wait(client, script: str, expected, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = client.execute_script(script, sandbox=None)
        if value == expected:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {expected!r}; last {value!r} from {script}")


PILL = "return document.querySelector('[data-ref=conn-pill]').dataset.status"
BANNER = "return (document.querySelector('[data-ref=mode-banner]') || {}).textContent || ''"


def _text_contains(client, selector: str, text: str, timeout: float = 15.0) -> None:
    _wait(
        client,
        f"return (document.querySelector({_js(selector)}) || {{}}).textContent.includes({_js(text)})",
        True,
        timeout,
    )


def test_a_learner_in_firefox_follows_the_room_chats_and_recovers(
    firefox, browser, asgi_server, classroom, output_dir
):
    from marionette_driver import By

    session = classroom["session"]
    ann = classroom["ann"]
    # The learner logs in and opens the live view in Firefox
    firefox.navigate(f"{asgi_server}/accounts/login/?next=/sessions/{session.pk}/live/")
    firefox.find_element(By.ID, "id_username").send_keys(ann.username)
    firefox.find_element(By.ID, "id_password").send_keys(PASSWORD)
    firefox.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(firefox, "return location.pathname", f"/sessions/{session.pk}/live/")
    _wait(firefox, PILL, "open")

    # The instructor, in Chromium, starts the session and switches to table talk
    context, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, staff=True
    )
    teacher.on("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="Start session").click()
    _text_contains(firefox, "[data-ref=mode-banner]", "Lecture")
    teacher.get_by_role("button", name="Table talk", exact=True).click()
    _wait(firefox, BANNER, "Table talk — talk with your table")
    assert LiveSession.objects.get(pk=session.pk).state == SessionState.LIVE

    # Class chat from Firefox reaches the instructor, and back
    firefox.find_element(By.ID, "chat-input").send_keys("Hello from Firefox")
    firefox.execute_script("document.getElementById('chat-input').form.requestSubmit()")
    expect(chat_log(teacher)).to_contain_text("Hello from Firefox")
    send_chat(teacher, "Welcome, Firefox user")
    _text_contains(firefox, "[data-ref=chat-log]", "Welcome, Firefox user")

    # The socket drops: the page says so, reconnects by itself and catches up
    # sandbox=None: run in the page itself, where its globals live
    firefox.execute_script(
        "window.droppedSocket = window.roundtableLive.connection.ws; window.droppedSocket.close()",
        sandbox=None,
    )
    _wait(
        firefox,
        "const ws = window.roundtableLive.connection.ws;"
        "return !!ws && ws !== window.droppedSocket && ws.readyState === WebSocket.OPEN",
        True,
    )
    _wait(firefox, PILL, "open")
    teacher.get_by_role("button", name="Lecture", exact=True).click()
    _text_contains(firefox, "[data-ref=mode-banner]", "Lecture")
    assert ChatMessage.objects.filter(body="Hello from Firefox").count() == 1
    (output_dir / "learner-firefox.png").write_bytes(firefox.screenshot(format="binary"))
    context.close()
