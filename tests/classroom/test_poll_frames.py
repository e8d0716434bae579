"""What the sockets receive around polls: clear error frames for bad input,
the engagement panel's learners, and the promised rates of the coalesced
frames (poll tallies, presence), counted on real sockets over time."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from classroom.models import LiveSession, PollResponse, SessionState
from config.asgi import application
from courses.models import Role
from tests.factories import EnrollmentFactory
from tests.utils import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.timeout(90)]

TALLY_WINDOW = 0.25
PRESENCE_WINDOW = 1.0
# Frames are counted where they arrive, after a database read of variable
# length: allow that much jitter on the spacing of two frames.
JITTER = 0.05
LEARNERS = ("ann", "bob", "cat", "dan")


@pytest.fixture
def room(course, instructor, live_session):
    people = {
        name: EnrollmentFactory(course=course, role=Role.LEARNER, user__username=name).user
        for name in LEARNERS
    }
    LiveSession.objects.filter(pk=live_session.pk).update(state=SessionState.LIVE)
    return {"session": live_session, "instructor": instructor, **people}


async def _join(room, who: str) -> Client:
    client = await Client.connect(
        application, f"/ws/live/{room['session'].pk}/", room[who], name=who
    )
    assert client.connected
    assert (await client.receive())["type"] == "snapshot"
    return client


async def _open(teacher: Client, **settings_) -> int:
    opened = await teacher.request(
        "poll.open",
        {
            "kind": "single",
            "prompt": "Pick one",
            "definition": {"options": [{"text": "A"}, {"text": "B"}, {"text": "C"}]},
            "settings": settings_,
        },
    )
    assert opened["type"] == "ack", opened
    return opened["data"]["poll_id"]


async def _record(client: Client, until, frame_type: str) -> list[tuple[float, dict]]:
    """Every frame of `frame_type` that reaches `client` before `until`
    (a time.monotonic() value, or a list holding one, which may move), with
    its arrival time."""
    seen = []
    deadline = until if isinstance(until, list) else [until]
    while (left := deadline[0] - time.monotonic()) > 0:
        # receive_nothing waits without cancelling the application on a timeout.
        if not client.pending and await client.communicator.receive_nothing(
            timeout=min(left, 0.02)
        ):
            continue
        frame = await client.receive()
        if frame.get("type") == frame_type:
            seen.append((time.monotonic(), frame))
    return seen


def _closest_gap(arrivals: list[tuple[float, dict]]) -> float:
    times = [at for at, _frame in arrivals]
    return min((b - a for a, b in zip(times, times[1:], strict=False)), default=float("inf"))


def _most_in_a_second(arrivals: list[tuple[float, dict]]) -> int:
    times = [at for at, _frame in arrivals]
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


async def test_bad_option_and_accepted_answer_are_error_frames(room):
    teacher, ann = await _join(room, "instructor"), await _join(room, "ann")
    poll_id = await _open(teacher)
    reply = await ann.request("poll.vote", {"poll_id": poll_id, "answer": {"option": {"a": 1}}})
    assert reply["type"] == "error" and reply["data"]["code"] == "invalid_answer", reply
    assert "option" in reply["data"]["details"]
    reply = await teacher.request(
        "poll.open",
        {"kind": "short_text", "prompt": "Say it", "definition": {"accepted": ["x" * 2001]}},
    )
    assert reply["type"] == "error" and reply["data"]["code"] == "invalid_poll", reply
    assert reply["data"]["details"] == {
        "accepted": "An accepted answer has at most 2000 characters."
    }
    assert not await database_sync_to_async(PollResponse.objects.exists)()
    for client in (teacher, ann):
        await client.close()


async def test_engagement_lists_learners_only(room):
    teacher, ann = await _join(room, "instructor"), await _join(room, "ann")
    poll_id = await _open(teacher)
    assert (await ann.request("poll.vote", {"poll_id": poll_id, "answer": {"option": "a"}}))[
        "type"
    ] == "ack"
    frame, _seen = await teacher.receive_until(
        lambda f: (
            f["type"] == "engagement.changed"
            and f["data"]["learners"].get(str(room["ann"].pk), {}).get("active", {}).get("answered")
        ),
        timeout=10,  # one engagement flush per 2 s, on two shared cores
    )
    assert set(frame["data"]["learners"]) == {str(room["ann"].pk)}
    for client in (teacher, ann):
        await client.close()


async def _vote_storm(voters: list[Client], poll_id: int, seconds: float) -> int:
    """Each voter changes its answer as fast as its acks come back."""
    stop = time.monotonic() + seconds
    count = 0

    async def storm(index: int, client: Client) -> None:
        nonlocal count
        n = index
        while time.monotonic() < stop:
            n += 1
            reply = await client.request(
                "poll.vote", {"poll_id": poll_id, "answer": {"option": "abc"[n % 3]}}
            )
            assert reply["type"] == "ack", reply
            count += 1

    await asyncio.gather(*[storm(i, c) for i, c in enumerate(voters)])
    return count


async def test_tallies_are_coalesced_and_reach_learners_only_with_live_results(room):
    teacher = await _join(room, "instructor")
    watcher = await _join(room, "dan")  # a learner who does not vote
    voters = [await _join(room, name) for name in ("ann", "bob", "cat")]
    for client in (teacher, watcher):
        await client.drain(0.2)

    for live_results in (True, False):
        poll_id = await _open(teacher, show_live_results=live_results)
        until = time.monotonic() + 2.5 + 1.0
        staff_seen, learner_seen, votes = await asyncio.gather(
            _record(teacher, until, "poll.tally_changed"),
            _record(watcher, until, "poll.tally_changed"),
            _vote_storm(voters, poll_id, 2.5),
        )
        staff_seen = [(at, f) for at, f in staff_seen if f["data"]["poll_id"] == poll_id]
        learner_seen = [(at, f) for at, f in learner_seen if f["data"]["poll_id"] == poll_id]
        assert votes > 20, votes  # many votes, a handful of frames
        assert 2 <= len(staff_seen) <= 2.5 / TALLY_WINDOW + 2, len(staff_seen)
        assert {f["data"]["audience"] for _at, f in staff_seen} == {"staff"}
        assert _closest_gap(staff_seen) >= TALLY_WINDOW - JITTER, _closest_gap(staff_seen)
        assert _most_in_a_second(staff_seen) <= 1 / TALLY_WINDOW
        stored = await database_sync_to_async(PollResponse.objects.filter(poll_id=poll_id).count)()
        assert staff_seen[-1][1]["data"]["responses"] == stored == len(voters)
        if live_results:
            assert len(learner_seen) >= 2
            assert {f["data"]["audience"] for _at, f in learner_seen} == {"public"}
            assert _closest_gap(learner_seen) >= TALLY_WINDOW - JITTER
            assert _most_in_a_second(learner_seen) <= 1 / TALLY_WINDOW
        else:
            assert learner_seen == []
        closed = await teacher.request("poll.close", {"poll_id": poll_id})
        assert closed["type"] == "ack"
        await asyncio.sleep(0.4)
        for client in (teacher, watcher, *voters):
            await client.drain(0.1)
    for client in (teacher, watcher, *voters):
        await client.close()


async def test_presence_frames_are_coalesced_to_one_per_second(room):
    teacher = await _join(room, "instructor")
    await teacher.drain(0.2)

    until = [time.monotonic() + 60]

    async def churn() -> None:
        # Learners join and leave for 3 s: dozens of presence changes.
        stop = time.monotonic() + 3.0
        while time.monotonic() < stop:
            clients = [await _join(room, name) for name in LEARNERS]
            await asyncio.sleep(0.05)
            for client in clients:
                await client.close()
        until[0] = time.monotonic() + PRESENCE_WINDOW + 1.0  # the last flush, and then some

    seen, _churned = await asyncio.gather(
        _record(teacher, until, "staff.presence_changed"), churn()
    )
    assert len(seen) >= 2
    assert _closest_gap(seen) >= PRESENCE_WINDOW - JITTER, _closest_gap(seen)
    assert _most_in_a_second(seen) <= 1
    assert seen[-1][1]["data"]["online"] == [room["instructor"].pk]  # everyone else left
    await teacher.close()


async def test_a_vote_from_outside_a_socket_still_sends_the_tally(room):
    """A vote through the service from plain synchronous code (as an API view
    or a task would call it, outside any socket action) reaches the staff's
    and, with live results, the learners' sockets as a coalesced tally."""
    from classroom.services import polls, sessions

    teacher = await _join(room, "instructor")
    watcher = await _join(room, "dan")
    poll_id = await _open(teacher, show_live_results=True)
    await database_sync_to_async(sessions.attendance_join)(
        session_id=room["session"].pk, user=room["ann"], connection="elsewhere"
    )
    await asyncio.sleep(0.4)  # the poll.open tally has gone out
    for client in (teacher, watcher):
        await client.drain(0.1)

    def vote(option: str) -> None:
        polls.poll_vote_cast(
            session_id=room["session"].pk,
            user=room["ann"],
            poll_id=poll_id,
            answer={"option": option},
        )

    await database_sync_to_async(vote)("b")
    staff, _seen = await teacher.receive_until(
        lambda f: f["type"] == "poll.tally_changed" and f["data"]["responses"] == 1, timeout=3
    )
    assert staff["data"]["distribution"]["counts"]["b"] == 1
    public, _seen = await watcher.receive_until(
        lambda f: f["type"] == "poll.tally_changed", timeout=3
    )
    assert public["data"]["audience"] == "public" and public["data"]["responses"] == 1
    for client in (teacher, watcher):
        await client.close()
