"""The live classroom in real Chromium against Daphne (WebSockets): the
instructor console and the learner view, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classroom.models import ChatMessage, LiveSession, Seat, SessionState, Table
from courses.models import Role
from tests.factories import PASSWORD, CourseFactory, EnrollmentFactory, LiveSessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

DESKTOP = {"width": 1440, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def classroom():
    """A scheduled session; Ann and Ben sit at Table 1, Cleo at Table 2."""
    course = CourseFactory(title="Cell Biology", code="BIO-101")
    teacher = EnrollmentFactory(
        course=course, role=Role.INSTRUCTOR, user__display_name="Dr. Maya Alvarez"
    ).user
    tables = [Table.objects.create(course=course, name=f"Table {n}", position=n) for n in (1, 2)]
    people = {"teacher": teacher}
    for key, name, table in (
        ("ann", "Ann Okafor", tables[0]),
        ("ben", "Ben Carter", tables[0]),
        ("cleo", "Cleo Diaz", tables[1]),
    ):
        user = EnrollmentFactory(course=course, role=Role.LEARNER, user__display_name=name).user
        Seat.objects.create(course=course, table=table, user=user)
        people[key] = user
    session = LiveSessionFactory(course=course, title="Week 2: Membranes and transport")
    _forget_buffered_frames(session.pk)
    return {"course": course, "session": session, "tables": tables, **people}


def _forget_buffered_frames(session_id: int) -> None:
    """The Redis frame buffer outlives test databases; a recreated database
    reuses session ids, so drop frames an earlier run left under this id."""
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        redis.Redis.from_url(url).delete(f"roundtable:frames:live.{session_id}")


def open_live(
    browser,
    base_url: str,
    user,
    session,
    viewport=LAPTOP,
    *,
    staff=False,
    init_script=None,
    course_screenshot=None,
    errors: list | None = None,
):
    """Log in, open the course page and follow its Join / Open console link.
    Script errors of the page are appended to `errors`."""
    context = browser.new_context(viewport=viewport)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
    page.set_default_timeout(10_000)
    page.goto(f"{base_url}/accounts/login/?next=/courses/{session.course_id}/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    link = f"Open console: {session.title}" if staff else f"Join: {session.title}"
    if course_screenshot:
        page.get_by_role("link", name=link).wait_for()
        page.screenshot(path=course_screenshot, full_page=True)
    page.get_by_role("link", name=link).click()
    page.wait_for_url(f"{base_url}/sessions/{session.pk}/live/")
    expect(page.locator("[data-ref=conn-pill]")).to_have_attribute("data-status", "open")
    return context, page


def chat_log(page):
    return page.locator("[data-ref=chat-log]")


def send_chat(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def test_instructor_runs_a_session_with_three_learners(browser, asgi_server, classroom, output_dir):
    session = classroom["session"]
    contexts = []
    errors = []

    # Given three learners waiting and the instructor's console
    learners = {}
    for key in ("ann", "ben", "cleo"):
        context, page = open_live(browser, asgi_server, classroom[key], session, errors=errors)
        contexts.append(context)
        learners[key] = page
    ann, ben, cleo = learners["ann"], learners["ben"], learners["cleo"]
    expect(ann.get_by_role("heading", name="The session has not started yet")).to_be_visible()
    ann.screenshot(path=output_dir / "learner-waiting.png", full_page=True)
    context, teacher = open_live(
        browser,
        asgi_server,
        classroom["teacher"],
        session,
        DESKTOP,
        staff=True,
        course_screenshot=output_dir / "course-open-console.png",
        errors=errors,
    )
    contexts.append(context)
    teacher.on("dialog", lambda dialog: dialog.accept())

    # When the instructor starts the session, the waiting screens turn live by themselves
    teacher.get_by_role("button", name="Start session").click()
    for page in learners.values():
        expect(page.locator("[data-ref=mode-banner]")).to_contain_text("Lecture")
    expect(ann.get_by_role("heading", name="The session has not started yet")).to_be_hidden()

    # Everyone appears as present on the seat map
    seat_map = teacher.locator("[data-ref=seat-map]")
    for key in ("ann", "ben", "cleo"):
        expect(seat_map.locator(".member--online", has_text=classroom[key].name)).to_be_visible()

    # Table talk
    teacher.get_by_role("button", name="Table talk", exact=True).click()
    for page in learners.values():
        expect(page.locator("[data-ref=mode-banner]")).to_have_text(
            "Table talk — talk with your table"
        )

    # Chat at Table 1: Ben sees it, Cleo at Table 2 does not, the instructor does
    ann.get_by_role("tab", name="Table").click()
    send_chat(ann, "Osmosis needs a membrane, right?")
    expect(chat_log(ann)).to_contain_text("Osmosis needs a membrane, right?")
    ben.get_by_role("tab", name="Table").click()
    expect(chat_log(ben)).to_contain_text("Osmosis needs a membrane, right?")
    expect(chat_log(ben).locator(".msg", has_text="Osmosis")).to_contain_text("Ann Okafor")
    # (by keyboard: arrow keys move between the tabs, Enter sends)
    cleo.get_by_role("tab", name="Class").focus()
    cleo.keyboard.press("ArrowRight")
    expect(cleo.get_by_role("tab", name="Table")).to_have_attribute("aria-selected", "true")
    expect(cleo.get_by_role("tab", name="Table")).to_be_focused()
    cleo.get_by_label("Message", exact=True).fill("Table 2 is ready")
    cleo.get_by_label("Message", exact=True).press("Enter")
    expect(chat_log(cleo)).to_contain_text("Table 2 is ready")
    expect(chat_log(cleo)).not_to_contain_text("Osmosis")
    teacher.get_by_role("tab", name="Table").click()
    teacher.get_by_label("Which table").select_option(label="Table 1")
    expect(chat_log(teacher)).to_contain_text("Osmosis needs a membrane, right?")
    expect(chat_log(teacher)).not_to_contain_text("Table 2 is ready")
    send_chat(teacher, "Good question, Table 1!")
    expect(chat_log(ann)).to_contain_text("Good question, Table 1!")
    expect(chat_log(cleo)).not_to_contain_text("Good question")

    # Timers: a preset, and a short one that warns before its end
    teacher.get_by_role("button", name="5 min").click()
    expect(ann.locator("[data-ref=timers] .timer")).to_contain_text("Table talk")
    teacher.get_by_role("textbox", name="Label").fill("Wrap up")
    teacher.get_by_role("spinbutton", name="Minutes").fill("1")
    teacher.get_by_role("button", name="Start timer").click()
    wrap_up = cleo.locator("[data-ref=timers] .timer", has_text="Wrap up")
    expect(wrap_up).to_be_visible()
    expect(wrap_up).not_to_have_class("timer timer--warning")
    teacher.get_by_role("button", name="Take one minute off Wrap up").click()
    teacher.get_by_role("button", name="Add one minute to Wrap up").wait_for(state="detached")
    teacher.evaluate(
        """() => window.roundtableLive.act("timer.start", {label: "Last call", seconds: 20})"""
    )
    expect(cleo.locator("[data-ref=timers] .timer", has_text="Last call")).to_have_class(
        "timer timer--warning"
    )

    # A question, an upvote, a reaction
    cleo.get_by_label("Your question").fill("Why do cells need cholesterol?")
    cleo.get_by_role("button", name="Ask", exact=True).click()
    expect(teacher.locator("[data-ref=qa-list]")).to_contain_text("Why do cells need cholesterol?")
    ann.get_by_role("button", name="Upvote").click()
    expect(teacher.locator("[data-ref=qa-list] .question__count")).to_have_text("1")
    ann.get_by_role("button", name="Clap").click()

    # Ben raises his hand; it reaches the instructor's queue
    ben.get_by_role("button", name="Raise hand").click()
    expect(ben.get_by_role("button", name="Lower hand")).to_be_visible()
    expect(ben.locator("[data-ref=hand-status]")).to_contain_text("number 1 in the queue")
    hands = teacher.locator("[data-ref=hands-list]")
    expect(hands).to_contain_text("Ben Carter")

    # Invited, Ben is on the podium for everyone and his hand is down
    hands.get_by_role("button", name="Invite to podium: Ben Carter").click()
    expect(hands).to_be_empty()
    expect(teacher.locator("[data-ref=podium-list]")).to_contain_text("Ben Carter")
    for page in (ann, cleo):
        expect(page.locator("[data-ref=podium-list]")).to_contain_text("Ben Carter")
    expect(ben.locator("[data-ref=podium-me]")).to_contain_text("You are on the podium")
    expect(ben.get_by_role("button", name="Raise hand")).to_be_visible()

    # The help flag of a table reaches the console
    cleo.get_by_role("button", name="Ask for help").click()
    expect(cleo.locator("[data-ref=help-status]")).to_contain_text("asked for help")
    expect(teacher.locator("[data-ref=help-list]")).to_contain_text("Table 2")
    cleo.get_by_role("button", name="Step away").click()
    expect(cleo.get_by_role("button", name="I'm back")).to_have_attribute("aria-pressed", "true")
    expect(seat_map.locator(".member--away")).to_contain_text("Cleo Diaz")
    teacher.get_by_role("button", name="Announce").scroll_into_view_if_needed()
    teacher.get_by_role("textbox", name="Announcement").fill("Five minutes, then we compare notes.")
    teacher.get_by_role("button", name="Announce").click()
    expect(ann.locator("[data-ref=latest-announcement]")).to_contain_text("Five minutes")
    expect(teacher.locator("[data-ref=engagement-body]")).to_contain_text("Ann Okafor")

    teacher.screenshot(path=output_dir / "instructor-console.png", full_page=True)
    ann.screenshot(path=output_dir / "learner-view.png", full_page=True)
    ben.screenshot(path=output_dir / "learner-on-podium.png", full_page=True)
    phone = browser.new_context(viewport=PHONE, storage_state=contexts[0].storage_state())
    contexts.append(phone)
    phone_page = phone.new_page()
    phone_page.goto(f"{asgi_server}/sessions/{session.pk}/live/")
    expect(phone_page.locator("[data-ref=mode-banner]")).to_contain_text("Table talk")
    expect(chat_log(phone_page)).to_be_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the learner view overflows a phone ({width}px)"
    phone_page.screenshot(path=output_dir / "learner-phone.png", full_page=True)

    # End of session: learners see it, chat becomes read-only
    teacher.get_by_role("button", name="End session").click()
    for page in learners.values():
        expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
        expect(page.locator("[data-ref=chat-note]")).to_have_text(
            "The session has ended; chat is read-only."
        )
        expect(page.get_by_label("Message", exact=True)).to_be_hidden()
        expect(chat_log(page)).to_be_visible()
    expect(teacher.get_by_role("button", name="End session")).to_be_hidden()
    assert LiveSession.objects.get(pk=session.pk).state == SessionState.ENDED
    ann.screenshot(path=output_dir / "learner-ended.png", full_page=True)
    teacher.screenshot(path=output_dir / "instructor-ended.png", full_page=True)
    assert errors == []
    for context in contexts:
        context.close()


# While `window.blockSockets` is true, the page's WebSockets go to a closed port
# (Chromium's offline emulation does not stop WebSockets from connecting).
BLOCKABLE_SOCKETS = """
window.blockSockets = false;
window.WebSocket = class extends window.WebSocket {
  constructor(url, protocols) { super(window.blockSockets ? "ws://127.0.0.1:9/" : url, protocols); }
};
"""


def test_learner_sees_the_connection_drop_and_recover_and_chat_is_sent_once(
    browser, asgi_server, classroom, output_dir
):
    session = classroom["session"]
    LiveSession.objects.filter(pk=session.pk).update(
        state=SessionState.LIVE, started_at=timezone.now()
    )
    teacher_context, teacher = open_live(
        browser, asgi_server, classroom["teacher"], session, DESKTOP, staff=True
    )
    context, ann = open_live(
        browser, asgi_server, classroom["ann"], session, init_script=BLOCKABLE_SOCKETS
    )
    banner = ann.locator("[data-ref=conn-banner]")
    pill = ann.locator("[data-ref=conn-pill]")

    # When the network goes away, the learner is told so
    ann.evaluate("window.blockSockets = true")
    context.set_offline(True)
    expect(banner).to_have_text("Connection lost. Reconnecting…")
    expect(pill).to_have_attribute("data-status", "reconnecting")

    # A message written meanwhile waits, visibly, through failed reconnects
    send_chat(ann, "Sent while offline")
    pending = chat_log(ann).locator(".msg--pending")
    expect(pending).to_contain_text("Sent while offline")
    ann.wait_for_timeout(1500)
    expect(pending).to_have_count(1)
    assert not ChatMessage.objects.filter(body="Sent while offline").exists()
    ann.screenshot(path=output_dir / "learner-offline.png", full_page=True)

    # Back online: told so, and the message arrives exactly once
    ann.evaluate("window.blockSockets = false")
    context.set_offline(False)
    expect(banner).to_have_text("You are back online.")
    expect(pill).to_have_attribute("data-status", "open")
    expect(pending).to_have_count(0)
    expect(chat_log(ann).locator(".msg", has_text="Sent while offline")).to_have_count(1)
    expect(chat_log(teacher).locator(".msg", has_text="Sent while offline")).to_have_count(1)
    ann.screenshot(path=output_dir / "learner-back-online.png", full_page=True)

    # A frame whose ack is lost with the socket goes again with the same id: applied once
    ann.evaluate(
        """() => {
            const app = window.roundtableLive;
            app.act("chat.send", {channel: "class", body: "Sent as the socket dropped"});
            app.connection.ws.close();
        }"""
    )
    expect(pill).to_have_attribute("data-status", "open")
    expect(chat_log(ann).locator(".msg", has_text="Sent as the socket dropped")).to_have_count(1)
    expect(chat_log(ann).locator(".msg--pending")).to_have_count(0)
    expect(chat_log(teacher).locator(".msg", has_text="Sent as the socket dropped")).to_have_count(
        1
    )
    assert ChatMessage.objects.filter(body="Sent while offline").count() == 1
    assert ChatMessage.objects.filter(body="Sent as the socket dropped").count() == 1
    context.close()
    teacher_context.close()


# --- The protocol client alone, against a scripted socket --------------------------------

STATIC = Path(__file__).resolve().parents[2] / "static"
FAKE_SOCKET = """
window.sockets = [];
window.WebSocket = class FakeSocket {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 1; this.sent = []; window.sockets.push(this); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  push(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code }); }
};
"""


@pytest.fixture
def protocol_page(browser):
    """A blank page that can import the live modules, with a scripted WebSocket
    and a fake clock (no server, no database)."""
    context = browser.new_context()
    page = context.new_page()

    def serve(route):
        path = route.request.url.split("roundtable.test", 1)[1]
        if path.startswith("/static/"):
            route.fulfill(
                body=(STATIC / path.removeprefix("/static/")).read_text(),
                content_type="text/javascript",
            )
        else:
            route.fulfill(body="<!doctype html><title>protocol</title>", content_type="text/html")

    page.route("http://roundtable.test/**", serve)
    page.clock.install()
    page.add_init_script(FAKE_SOCKET)
    page.goto("http://roundtable.test/")
    page.evaluate(
        """async () => {
            const { LiveConnection } = await import("/static/classroom/live/connection.js");
            window.applied = [];
            window.errors = [];
            window.live = new LiveConnection({
                url: "ws://roundtable.test/ws/live/1/",
                onFrame: (frame) =>
                    window.applied.push(frame.type === "snapshot" ? "snapshot" : frame.seq),
                onStatus: () => {},
                onError: (error) => window.errors.push(error.code),
            });
            window.live.start();
        }"""
    )
    yield page
    context.close()


def push(page, frame: dict, socket: int = -1) -> None:
    page.evaluate("([frame, index]) => window.sockets.at(index).push(frame)", [frame, socket])


def frame(seq: int, prev: int, stream: str = "all") -> dict:
    return {"type": "chat.posted", "seq": seq, "stream": stream, "prev": prev, "data": {}}


def sent(page, socket: int = -1) -> list[dict]:
    return page.evaluate("(index) => window.sockets.at(index).sent", socket)


def test_client_orders_frames_per_stream_and_resyncs_a_gap_after_holding_it(protocol_page):
    page = protocol_page
    snapshot = {
        "seq": 10,
        "heads": {"all": 10, "table.1": 8},
        "server_time": "2026-01-01T00:00:00Z",
    }
    push(page, {"type": "snapshot", "seq": 10, "data": snapshot})
    push(page, frame(12, 11))  # 11 is late: hold 12
    push(page, frame(13, 8, "table.1"))  # another stream goes on
    push(page, frame(11, 10))  # 11 arrives: 11 then the held 12
    push(page, frame(11, 10))  # a duplicate is ignored
    assert page.evaluate("window.applied") == ["snapshot", 13, 11, 12]

    # A frame whose predecessor never comes is held 1.5 s, then a resync asks
    # from the last seq before the gap on that stream.
    push(page, frame(15, 14))
    page.clock.run_for(1400)
    assert [f["type"] for f in sent(page)] == []
    page.clock.run_for(200)
    assert sent(page) == [{"type": "resync", "data": {"seq": 12}}]
    push(page, frame(14, 12))
    push(page, frame(15, 14))
    push(page, {"type": "resync.done", "data": {"from": 12, "count": 2}})
    assert page.evaluate("window.applied") == ["snapshot", 13, 11, 12, 14, 15]


def test_client_retries_an_unacknowledged_action_with_the_same_id_after_reconnecting(
    protocol_page,
):
    page = protocol_page
    push(page, {"type": "snapshot", "seq": 3, "data": {"seq": 3, "heads": {"all": 3}}})
    page.evaluate(
        """() => { window.result = null;
            window.live.request("chat.send", {channel: "class", body: "hi"})
                .then((result) => { window.result = result; }); }"""
    )
    first = sent(page)
    assert [f["type"] for f in first] == ["chat.send"]
    push(page, frame(4, 3))
    page.evaluate("window.sockets.at(-1).drop()")  # the ack never came

    page.clock.run_for(600)  # first retry within 0.5 s (with jitter)
    assert page.evaluate("window.sockets.length") == 2
    assert page.evaluate("window.sockets.at(-1).url") == "ws://roundtable.test/ws/live/1/?seq=4"
    assert sent(page) == []  # nothing goes out before the server caught us up
    push(page, {"type": "resync.done", "data": {"from": 4, "count": 0}})
    retry = sent(page)
    assert retry == [first[0]]  # the same frame, the same id
    push(page, {"type": "ack", "id": first[0]["id"], "duplicate": True})
    assert page.evaluate("window.result") == {"ok": True, "data": {}, "duplicate": True}


def test_client_pings_with_its_seq_and_reconnects_when_pongs_stop(protocol_page):
    page = protocol_page
    push(page, {"type": "snapshot", "seq": 7, "data": {"seq": 7, "heads": {"all": 7}}})
    page.clock.run_for(10_000)
    ping = sent(page)[-1]
    assert ping["type"] == "ping" and ping["data"] == {"seq": 7}
    page.clock.run_for(20_000)  # two more intervals without a pong: the socket is dead
    page.clock.run_for(600)
    assert page.evaluate("window.sockets.length") == 2
    assert page.evaluate("window.sockets.at(-1).url").endswith("?seq=7")


def test_client_stops_on_a_refusal_and_backs_off_up_to_ten_seconds(protocol_page):
    page = protocol_page
    delays = page.evaluate(
        """async () => {
            const { backoffDelay } = await import("/static/classroom/live/connection.js");
            return Array.from({length: 12}, (_, attempt) => backoffDelay(attempt));
        }"""
    )
    assert 250 <= delays[0] <= 500
    assert all(5_000 <= delay <= 10_000 for delay in delays[6:])
    page.evaluate("window.sockets.at(-1).drop(4404)")
    page.clock.run_for(30_000)
    assert page.evaluate("window.sockets.length") == 1


# --- The page itself ------------------------------------------------------------------------


def test_live_page_is_for_members_of_the_course_only(client, classroom):
    session = classroom["session"]
    url = f"/sessions/{session.pk}/live/"
    assert client.get(url).status_code == 302  # to the login page

    outsider = EnrollmentFactory(role=Role.LEARNER).user  # enrolled in another course
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get("/sessions/999999/live/").status_code == 404

    client.force_login(classroom["ann"])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["live_config"] == {
        "ws_path": f"/ws/live/{session.pk}/",
        "session_id": session.pk,
        "is_staff": False,
        "may_participate": True,
        "may_manage": False,
    }
    client.force_login(classroom["teacher"])
    assert client.get(url).context["live_config"]["is_staff"] is True
