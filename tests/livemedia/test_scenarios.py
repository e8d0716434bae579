"""Media end to end: aiortc participants through /ws/media/ against a real
Janus, everything inside a network namespace (tests/livemedia/lab.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from tests.livemedia.participant import Participant, session_cookie

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timing,  # media through Janus in real time: alone on the machine
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

TONES = {"teacher": 400, "ann": 600, "ben": 800, "cleo": 1000, "dan": 1200}


async def _live_socket(lab, session_id, cookie):
    import websockets

    return await websockets.connect(
        f"{lab.ws_url}/ws/live/{session_id}/",
        additional_headers={"Cookie": cookie},
        origin="http" + lab.ws_url.removeprefix("ws"),
    )


async def mode_set(socket, mode: str, table_id: int | None = None, podium_all: bool | None = None):
    data = {"mode": mode}
    if table_id is not None:
        data["table_id"] = table_id
    if podium_all is not None:
        data["podium_addresses_all"] = podium_all
    frame_id = f"m{time.monotonic_ns()}"
    await socket.send(json.dumps({"type": "mode.set", "id": frame_id, "data": data}))
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if frame.get("id") == frame_id:
            assert frame["type"] == "ack", frame
            return


async def settle(participants, expected: dict, seconds: float = 12.0) -> dict:
    """Wait until every participant hears exactly its expected users (tones
    measured after the wait started); return what each heard."""
    start = time.monotonic()
    deadline = start + seconds
    heard = {}
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        since = max(start + 1.0, time.monotonic() - 1.5)
        heard = {name: p.audible_users(since) for name, p in participants.items()}
        if heard == expected and time.monotonic() - start > 2.0:
            return heard
    return heard


def test_table_talk_learners_hear_exactly_their_mates(lab, classroom):
    people = classroom
    ids = {name: people[name].pk for name in TONES}
    cookies = {name: session_cookie(people[name]) for name in TONES}
    session_id = people["session"].pk

    async def scenario():
        participants = {
            name: Participant(lab.ws_url, session_id, cookies[name], tone=TONES[name])
            for name in TONES
        }
        try:
            for participant in participants.values():
                await participant.connect()
            for participant in participants.values():
                reply = await participant.publish()
                assert reply["type"] == "ack", reply
            expected = {
                "teacher": set(),
                "ann": {ids["ben"]},
                "ben": {ids["ann"]},
                "cleo": {ids["dan"]},
                "dan": {ids["cleo"]},
            }
            heard = await settle(participants, expected)
            # Low bandwidth: the lowest layer of every video (Janus accepts it per stream).
            teacher, ann = participants["teacher"], participants["ann"]
            low = await ann.request("quality", {"low": True})
            assert low["type"] == "ack" and low["data"] == {"low": True}, low
            # Staff mute Ann and lock it: Janus stops relaying her, and she cannot unmute.
            assert (await teacher.request("staff.mute", {"user_id": ids["ann"], "lock": True}))[
                "type"
            ] == "ack"
            muted = await settle(participants, {**expected, "ben": set()}, 8)
            unmute = await ann.request("mute", {"audio": False})
            notice = [f for f in ann.frames_seen if f["type"] == "media.muted"]
            return heard, expected, muted, unmute, notice
        finally:
            for participant in participants.values():
                await participant.close()

    heard, expected, muted, unmute, notice = lab.run(scenario)
    assert heard == expected
    assert muted == {**expected, "ben": set()}
    assert unmute["type"] == "error" and unmute["data"]["code"] == "mute_locked"
    assert notice and notice[-1]["data"] == {"audio": True, "locked": True}


async def _outbound_packets(pc) -> int:
    stats = await pc.getStats()
    return sum(
        getattr(report, "packetsSent", 0)
        for report in stats.values()
        if report.type == "outbound-rtp"
    )


def test_modes_deliver_what_they_say_and_switches_keep_publishers(lab, classroom):
    """Lecture, visiting, stage, table talk with the podium: each delivers exactly
    what docs/media.md says; across five switches every publisher keeps its
    PeerConnection, stays connected and keeps sending; forged requests are refused."""
    people = classroom
    ids = {name: people[name].pk for name in TONES}
    cookies = {name: session_cookie(people[name]) for name in TONES}
    session_id = people["session"].pk
    table1, table2 = (table.pk for table in people["tables"])
    users = lambda *names: {ids[name] for name in names}  # noqa: E731
    steps = [
        (
            ("lecture", None, None),
            {name: users("teacher") for name in ("ann", "ben", "cleo", "dan")} | {"teacher": set()},
        ),
        (
            ("visiting", table1, None),
            {
                "ann": users("ben", "teacher"),
                "ben": users("ann", "teacher"),
                "cleo": users("dan"),
                "dan": users("cleo"),
                "teacher": users("ann", "ben"),
            },
        ),
        (
            ("stage", table2, None),
            {
                "ann": users("cleo", "dan", "teacher"),
                "ben": users("cleo", "dan", "teacher"),
                "cleo": users("dan", "teacher"),
                "dan": users("cleo", "teacher"),
                "teacher": users("cleo", "dan"),
            },
        ),
        (
            ("table_talk", None, True),
            {
                "ann": users("ben", "teacher"),
                "ben": users("ann", "teacher"),
                "cleo": users("dan", "teacher"),
                "dan": users("cleo", "teacher"),
                "teacher": set(),
            },
        ),
        (
            ("lecture", None, False),
            {name: users("teacher") for name in ("ann", "ben", "cleo", "dan")} | {"teacher": set()},
        ),
    ]

    async def scenario():
        import websockets

        participants = {
            name: Participant(lab.ws_url, session_id, cookies[name], tone=TONES[name])
            for name in TONES
        }
        live = await _live_socket(lab, session_id, cookies["teacher"])
        report = {"steps": [], "forged": {}}
        try:
            for participant in participants.values():
                await participant.connect()
            for participant in participants.values():
                assert (await participant.publish())["type"] == "ack"
            # Table talk first: Ann hears Ben only.
            await settle(
                participants,
                {
                    "teacher": set(),
                    "ann": users("ben"),
                    "ben": users("ann"),
                    "cleo": users("dan"),
                    "dan": users("cleo"),
                },
            )
            ann = participants["ann"]
            # A forged request for another table's learner is refused and changes nothing.
            forged = await ann.request("subscribe", {"user_ids": [ids["cleo"]]})
            report["forged"]["relay"] = forged
            # Janus itself refuses anyone without Django's API secret.
            async with websockets.connect(
                "ws://127.0.0.1:8188/", subprotocols=["janus-protocol"]
            ) as janus:
                await janus.send(json.dumps({"janus": "create", "transaction": "x"}))
                report["forged"]["janus"] = json.loads(await janus.recv())
            await asyncio.sleep(1.5)
            report["forged"]["ann_hears"] = ann.audible_users(time.monotonic() - 1.0)
            pcs = {name: p.publisher_pc for name, p in participants.items()}
            sent = {
                name: await _outbound_packets(p.publisher_pc) for name, p in participants.items()
            }
            states = set()
            for (mode, table_id, podium_all), expected in steps:
                await mode_set(live, mode, table_id, podium_all)
                heard = await settle(participants, expected)
                now_sent = {
                    name: await _outbound_packets(p.publisher_pc)
                    for name, p in participants.items()
                }
                report["steps"].append(
                    {
                        "mode": mode,
                        "heard": heard,
                        "expected": expected,
                        "sending": all(now_sent[n] > sent[n] for n in sent),
                    }
                )
                sent = now_sent
                states |= {p.publisher_pc.connectionState for p in participants.values()}
            report["same_pcs"] = all(participants[n].publisher_pc is pcs[n] for n in pcs)
            report["publisher_states"] = states
            return report
        finally:
            await live.close()
            for participant in participants.values():
                await participant.close()

    report = lab.run(scenario)
    relay = report["forged"]["relay"]
    assert relay["type"] == "error" and relay["data"]["code"] == "not_allowed"
    assert report["forged"]["janus"]["janus"] == "error"
    assert report["forged"]["janus"]["error"]["code"] == 403  # unauthorized: no API secret
    assert report["forged"]["ann_hears"] == {ids["ben"]}
    for step in report["steps"]:
        assert step["heard"] == step["expected"], step["mode"]
        assert step["sending"], step["mode"]
    assert report["same_pcs"]
    assert report["publisher_states"] == {"connected"}


def test_ten_seconds_of_tone_is_a_spoke_event_of_ten_seconds(lab, classroom):
    """Janus's audio-level events reach Django over the event handler and become
    a `spoke` event (within 10 %), last_spoke_at and the staff talk meter."""
    from analytics.models import LearningEvent
    from classroom.models import Participant as SessionParticipant

    people = classroom
    session_id = people["session"].pk
    ann_cookie, teacher_cookie = session_cookie(people["ann"]), session_cookie(people["teacher"])

    async def scenario():
        ann = Participant(lab.ws_url, session_id, ann_cookie, tone=600, video=False)
        live = await _live_socket(lab, session_id, teacher_cookie)
        meters = []
        try:
            await ann.connect()
            window = {"start": None}
            ann.tone.speaking = lambda: (
                window["start"] is not None and 0 <= time.monotonic() - window["start"] < 10.0
            )
            assert (await ann.publish())["type"] == "ack"
            await asyncio.sleep(2.0)  # connected, silent
            window["start"] = time.monotonic()
            deadline = time.monotonic() + 18
            while time.monotonic() < deadline:
                try:
                    frame = json.loads(await asyncio.wait_for(live.recv(), 1.0))
                except TimeoutError:
                    continue
                if frame["type"] == "talk.changed":
                    meters.append(frame["data"])
                    learner = frame["data"]["learners"].get(str(people["ann"].pk))
                    if learner and learner["total_ms"] > 0 and not learner["talking"]:
                        break
            return meters
        finally:
            await live.close()
            await ann.close()

    meters = lab.run(scenario)
    spoke = list(LearningEvent.objects.filter(verb="spoke", live_session_id=session_id))
    assert len(spoke) == 1, lab.log("daphne")[-3000:]
    assert spoke[0].actor_id == people["ann"].pk
    print(f"10.0 s of tone → spoke {spoke[0].duration_ms} ms")
    assert 9_000 <= spoke[0].duration_ms <= 11_000, spoke[0].duration_ms
    assert SessionParticipant.objects.get(session_id=session_id, user=people["ann"]).last_spoke_at
    final = meters[-1]
    assert final["learners"][str(people["ann"].pk)]["total_ms"] == spoke[0].duration_ms
    assert final["tables"][str(people["tables"][0].pk)]["total_ms"] == spoke[0].duration_ms


def test_a_staged_recording_becomes_a_ready_webm_with_audio_and_video(lab, classroom):
    """Stage table 1, record 10 s, pause 3 s, record 10 s, stop: one WebM with an
    audio and a video stream lasting the recorded 20 s (± 1 s), two spans."""
    import av

    from playback.models import Recording, RecordingStatus

    people = classroom
    session_id = people["session"].pk
    names = ("teacher", "ann", "ben")
    cookies = {name: session_cookie(people[name]) for name in names}

    async def scenario():
        participants = {
            name: Participant(lab.ws_url, session_id, cookies[name], tone=TONES[name])
            for name in names
        }
        live = await _live_socket(lab, session_id, cookies["teacher"])
        try:
            # Ann and Ben take turns (3 s each): the picture cuts to whoever talks.
            participants["ann"].tone.speaking = lambda: time.monotonic() % 6 >= 3
            participants["ben"].tone.speaking = lambda: time.monotonic() % 6 < 3
            for participant in participants.values():
                await participant.connect()
                assert (await participant.publish())["type"] == "ack"
            await mode_set(live, "stage", people["tables"][0].pk)
            await asyncio.sleep(1.0)
            teacher = participants["teacher"]
            refused = await participants["ann"].request("recording", {"action": "start"})
            replies = [await teacher.request("recording", {"action": "start"})]
            await asyncio.sleep(10)
            replies.append(await teacher.request("recording", {"action": "pause"}))
            await asyncio.sleep(3)
            replies.append(await teacher.request("recording", {"action": "resume"}))
            await asyncio.sleep(10)
            replies.append(await teacher.request("recording", {"action": "stop"}))
            stopped_at = time.time()
            await asyncio.sleep(3)  # participants stay: their recorders must close on stop
            return refused, replies, participants["ann"].recording_states, stopped_at
        finally:
            await live.close()
            for participant in participants.values():
                await participant.close()

    refused, replies, states, stopped_at = lab.run(scenario)
    files = list(lab.recordings_dir.glob("*.mjr"))
    assert len(files) == 12  # 3 people heard by all × audio, video × 2 spans
    assert max(path.stat().st_mtime for path in files) < stopped_at + 1.0  # closed on stop
    assert refused["type"] == "error" and refused["data"]["code"] == "forbidden"
    assert [reply["type"] for reply in replies] == ["ack"] * 4, replies
    assert states == ["recording", "paused", "recording", "off"]
    # Processing runs in the background (a thread of the lab's Daphne: Celery eager).
    deadline = time.monotonic() + 90
    recording = Recording.objects.get(live_session_id=session_id)
    while recording.status == RecordingStatus.PROCESSING and time.monotonic() < deadline:
        time.sleep(0.5)
        recording.refresh_from_db()
    processing_seconds = time.monotonic() - (deadline - 90)
    print(f"recording processed in {processing_seconds:.1f} s")
    assert recording.status == RecordingStatus.READY, recording.failure_reason
    spans = list(recording.spans.order_by("started_at"))
    assert len(spans) == 2 and spans[0].media_offset_ms == 0
    recorded_ms = sum((s.ended_at - s.started_at).total_seconds() * 1000 for s in spans)
    assert (
        abs(
            spans[1].media_offset_ms
            - (spans[0].ended_at - spans[0].started_at).total_seconds() * 1000
        )
        < 2
    )
    assert 19_000 < recorded_ms < 22_000
    path = str(lab.media_root / recording.file.name)  # Daphne in the lab stored it
    with av.open(path) as container:
        assert len(container.streams.audio) == 1 and len(container.streams.video) == 1
        duration_ms = container.duration / 1000
        kinds = {packet.stream.type for packet in container.demux() if packet.size}
    assert kinds == {"audio", "video"}
    assert abs(duration_ms - recorded_ms) <= 1000, (duration_ms, recorded_ms)
    assert abs(recording.duration_ms - recorded_ms) <= 1000
    assert recording.audio_codec == "opus" and recording.video_codec == "vp8"
    assert recording.size_bytes == os.path.getsize(path) > 0
    assert recording.mime_type == "video/webm"
    # Active speaker: the picture cut between Ann and Ben as they took turns.
    picture = recording.settings["picture"]
    assert {shot["user_id"] for shot in picture} >= {people["ann"].pk, people["ben"].pk}
    assert len(picture) >= 4, picture
    assert picture[0]["start_ms"] == 0 and abs(picture[-1]["end_ms"] - recorded_ms) < 50
