"""Media capacity: one publisher, N subscribers through Janus, against the same
fan-out done by an aiortc MediaRelay process (the baseline), in the same run.

Everything runs inside a network namespace made for the run (tests/livemedia/lab.py:
Janus skips loopback for ICE; the namespace's veth carries 127.0.0.2), so no
packet leaves loopback addresses. The publisher is aiortc (a tone and a 640x480
test pattern at 15 fps); subscribers are aiortc receivers in worker processes.
We measure the CPU seconds the forwarding process spends (Janus, or the relay)
per second of wall time, at N = 0, 5, 10, 20 subscribers, fit a line, and
extrapolate to a 150-learner class in table talk. Results go to
docs/performance.md (section media_capacity) and bench/results/.

    sudo .venv/bin/python bench/media_capacity.py          # needs root and janus
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

STEPS = (0, 5, 10, 20)
SETTLE_S = 4.0
WINDOW_S = 8.0
CLASS_SIZE = 150
TABLE_SIZE = 6
ROOM = "bench-capacity"
FEED = "u0-00000000"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def tree_cpu(pid: int) -> float:
    """CPU of a process and its children (ip netns exec → janus)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending += [int(child) for child in children]
    return total


async def janus_connection():
    from livemedia.conf import media_conf
    from livemedia.janus import JanusConnection

    connection = JanusConnection("ws://127.0.0.1:8188/", media_conf().api_secret)
    await connection.connect()
    return connection


# --- Roles in their own processes -------------------------------------------------------


async def _subscriber(connection, room: str, feed: str, pcs: list) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    session = await connection.session_create()
    handle = await connection.attach(session)
    data, offer = await connection.message(
        session,
        handle,
        {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]},
        asynchronous=True,
    )
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.on("track", lambda track: asyncio.ensure_future(_drain(track)))
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
    await pc.setLocalDescription(await pc.createAnswer())
    await connection.message(
        session,
        handle,
        {"request": "start"},
        {"type": "answer", "sdp": pc.localDescription.sdp},
        asynchronous=True,
    )
    pcs.append(pc)


async def _drain(track) -> None:
    from aiortc.mediastreams import MediaStreamError

    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return


async def worker_main(count: int) -> None:
    """`count` Janus subscribers of the publisher, until killed."""
    from tests.livemedia.lab import patch_aioice

    patch_aioice()
    connection = await janus_connection()
    pcs: list = []
    for _ in range(count):
        await _subscriber(connection, ROOM, FEED, pcs)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def relay_main() -> None:
    """Subscribe once to the publisher through Janus and fan out with MediaRelay:
    downstream offers are written to stdout, answers read from stdin."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    from tests.livemedia.lab import patch_aioice

    patch_aioice()
    connection = await janus_connection()
    session = await connection.session_create()
    handle = await connection.attach(session)
    _data, offer = await connection.message(
        session,
        handle,
        {"request": "join", "ptype": "subscriber", "room": ROOM, "streams": [{"feed": FEED}]},
        asynchronous=True,
    )
    upstream = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tracks: dict[str, object] = {}
    got = asyncio.Event()

    def on_track(track) -> None:
        tracks[track.kind] = track
        if len(tracks) == 2:
            got.set()

    upstream.on("track", on_track)
    await upstream.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
    await upstream.setLocalDescription(await upstream.createAnswer())
    await connection.message(
        session,
        handle,
        {"request": "start"},
        {"type": "answer", "sdp": upstream.localDescription.sdp},
        asynchronous=True,
    )
    await asyncio.wait_for(got.wait(), 15)
    relay = MediaRelay()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    downstream = []
    print(json.dumps({"ready": True}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            return
        command = json.loads(line)
        for _ in range(command.get("add", 0)):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTrack(relay.subscribe(tracks["audio"]))
            pc.addTrack(relay.subscribe(tracks["video"]))
            await pc.setLocalDescription(await pc.createOffer())
            print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
            answer = json.loads(await reader.readline())
            await pc.setRemoteDescription(RTCSessionDescription(answer["answer"], "answer"))
            downstream.append(pc)
        print(json.dumps({"count": len(downstream)}), flush=True)


async def sink_main() -> None:
    """Answer the relay's offers (stdin → stdout) and drain what arrives."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from tests.livemedia.lab import patch_aioice

    patch_aioice()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pcs = []
    while True:
        line = await reader.readline()
        if not line:
            return
        offer = json.loads(line)["offer"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("track", lambda track: asyncio.ensure_future(_drain(track)))
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        print(json.dumps({"answer": pc.localDescription.sdp}), flush=True)
        pcs.append(pc)


# --- Orchestration (inside the namespace) ----------------------------------------------


def spawn(lab, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.name, sys.executable, __file__, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "JANUS_URL": "ws://127.0.0.1:8188/"},
    )


def measure(pid: int) -> float:
    time.sleep(SETTLE_S)
    before, started = tree_cpu(pid), time.monotonic()
    time.sleep(WINDOW_S)
    return (tree_cpu(pid) - before) / (time.monotonic() - started)


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line: (intercept, slope)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
    return mean_y - slope * mean_x, slope


async def publisher_start(connection):
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from livemedia.conf import media_conf
    from tests.livemedia.participant import PatternTrack, ToneTrack

    control = await connection.session_create()
    handle = await connection.attach(control)
    await connection.message(
        control,
        handle,
        {
            "request": "create",
            "room": ROOM,
            "admin_key": media_conf().room_admin_key,
            "permanent": False,
            "publishers": 4,
            "bitrate": 1_000_000,
        },
    )
    session = await connection.session_create()
    publisher = await connection.attach(session)
    await connection.message(
        session,
        publisher,
        {"request": "join", "ptype": "publisher", "room": ROOM, "id": FEED},
        asynchronous=True,
    )
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(ToneTrack(440), direction="sendonly")
    pc.addTransceiver(PatternTrack(640, 480, 15, noise_rows=32), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    _data, answer = await connection.message(
        session,
        publisher,
        {"request": "publish"},
        {"type": "offer", "sdp": pc.localDescription.sdp},
        asynchronous=True,
    )
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    return pc


async def sent_bytes(pc) -> int:
    stats = await pc.getStats()
    return sum(getattr(r, "bytesSent", 0) for r in stats.values() if r.type == "outbound-rtp")


def run_in_namespace(lab) -> dict:
    from tests.livemedia.lab import patch_aioice

    patch_aioice()
    results: dict = {"janus": [], "relay": []}

    async def main() -> None:
        connection = await janus_connection()
        pc = await publisher_start(connection)
        await asyncio.sleep(3)
        janus_pid = lab.janus.pid
        workers: list[subprocess.Popen] = []
        try:
            total = 0
            for step in STEPS:
                if step > total:
                    worker = spawn(lab, "worker", str(step - total))
                    workers.append(worker)
                    line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 120)
                    assert line.strip() == "ready", line
                    total = step
                bytes_before, started = await sent_bytes(pc), time.monotonic()
                cpu = await asyncio.to_thread(measure, janus_pid)
                bitrate = (await sent_bytes(pc) - bytes_before) * 8 / (time.monotonic() - started)
                results["janus"].append((step, cpu))
                results["publisher_bps"] = bitrate
                print(f"janus  N={step:3d}  {cpu * 100:6.1f} % of a core", flush=True)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
        relay = spawn(lab, "relay")
        sink = spawn(lab, "sink")
        try:
            line = await asyncio.wait_for(asyncio.to_thread(relay.stdout.readline), 60)
            assert json.loads(line).get("ready"), line
            total = 0
            for step in STEPS:
                if step > total:
                    relay.stdin.write(json.dumps({"add": step - total}) + "\n")
                    relay.stdin.flush()
                    for _ in range(step - total):
                        offer = await asyncio.to_thread(relay.stdout.readline)
                        sink.stdin.write(offer)
                        sink.stdin.flush()
                        answer = await asyncio.to_thread(sink.stdout.readline)
                        relay.stdin.write(answer)
                        relay.stdin.flush()
                    await asyncio.to_thread(relay.stdout.readline)  # {"count": n}
                    total = step
                cpu = await asyncio.to_thread(measure, relay.pid)
                results["relay"].append((step, cpu))
                print(f"relay  N={step:3d}  {cpu * 100:6.1f} % of a core", flush=True)
        finally:
            for process in (relay, sink):
                process.kill()
                process.wait()
        await pc.close()
        await connection.close()

    asyncio.run(main())
    return results


SATURATED = 0.85  # of one core


def scaling_points(points: list) -> list:
    """The leading points whose CPU still grows and stays below saturation."""
    kept = [tuple(points[0])]
    for n, cpu in points[1:]:
        if cpu >= SATURATED or cpu <= kept[-1][1]:
            break
        kept.append((n, cpu))
    return kept


def _relay_cell(cpu: float | None, n: int, until: int) -> str:
    if cpu is None:
        return "—"
    return f"{cpu * 100:.1f} %" + (" (saturated: cannot keep up)" if n > until else "")


def report(results: dict) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from _report import render, write_section

    janus_base, janus_slope = fit(results["janus"])
    # One Python process is at most one core, and past it the relay drops frames
    # (its CPU stops growing): fit the relay on the points before that only.
    scaling = scaling_points(results["relay"])
    relay_base, relay_slope = fit(scaling)
    results["relay_scaling_until"] = scaling[-1][0]
    bitrate = results.get("publisher_bps", 0.0)
    from django.conf import settings

    capped = settings.JANUS_PUBLISHER_BITRATE + 40_000
    # Table talk for 150: everyone publishes once; each learner receives the
    # other 5 at a table of 6, plus the instructor when the podium addresses all.
    subscriptions = CLASS_SIZE * (TABLE_SIZE - 1)
    with_podium = subscriptions + CLASS_SIZE
    janus_cores = CLASS_SIZE * max(janus_base, 0.0) + with_podium * janus_slope
    relay_cores = with_podium * relay_slope
    rows = [
        (
            n,
            f"{cpu * 100:.1f} %",
            _relay_cell(dict(results["relay"]).get(n), n, results["relay_scaling_until"]),
        )
        for n, cpu in results["janus"]
    ]
    body = render(
        "Media capacity (Janus SFU vs aiortc MediaRelay)",
        ["subscribers N", "Janus CPU (of one core)", "aiortc MediaRelay CPU (of one core)"],
        rows,
        info={
            "Publisher": "aiortc, Opus tone + VP8 640x480 at 15 fps (32 rows of noise: ≈ a camera at the room cap)",
            "Publisher bitrate": f"{bitrate / 1e6:.2f} Mbit/s (audio + video)",
            "Network": "loopback only, inside a network namespace (127.0.0.2)",
        },
        notes=[
            f"- Janus: {janus_slope * 100:.2f} % of a core per subscriber (audio + video), "
            f"{max(janus_base, 0) * 100:.1f} % with the publisher alone. MediaRelay: "
            f"{relay_slope * 100:.2f} % per subscriber (it decodes once and re-encodes for every "
            f"subscriber); Janus forwards packets: {relay_slope / janus_slope if janus_slope > 0 else float('inf'):.0f}x cheaper.",
            f"- A class of {CLASS_SIZE} in table talk (tables of {TABLE_SIZE}): {CLASS_SIZE} publishers, "
            f"{subscriptions} subscriptions ({with_podium} with the podium heard by all). Janus: "
            f"≈ {janus_cores:.2f} cores at this bitrate; plan {max(1, round(janus_cores * 2 + 0.5))} "
            "cores per class on one Janus node (×2 for real NICs, DTLS/SRTP on real packet sizes and "
            f"bursts). The same with aiortc relays would need ≈ {relay_cores:.0f} cores.",
            f"- Bandwidth per class at {bitrate / 1e6:.2f} Mbit/s per stream: in ≈ "
            f"{CLASS_SIZE * bitrate / 1e6:.0f} Mbit/s, out ≈ {with_podium * bitrate / 1e6:.0f} Mbit/s; "
            f"at the room cap ({capped / 1e6:.2f} Mbit/s: JANUS_PUBLISHER_BITRATE + Opus) in ≈ "
            f"{CLASS_SIZE * capped / 1e6:.0f} Mbit/s, out ≈ {with_podium * capped / 1e6:.0f} Mbit/s. "
            "Browsers publish simulcast (≈ 0.12 / 0.3 / 0.6 Mbit/s layers); a low-bandwidth learner "
            "receives the lowest layer. Outgoing bandwidth, not CPU, sizes the node.",
            "- The aiortc subscribers (decoding) are the load generator's bottleneck, not Janus: "
            "they run in separate processes and are not counted.",
        ],
    )
    write_section("media_capacity", body)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "media_capacity.json").write_text(json.dumps(results, indent=2))
    print(body)


def main() -> int:
    import shutil

    if os.geteuid() != 0 or shutil.which("janus") is None:
        print("media_capacity: needs root (a network namespace) and janus (apt-get install janus)")
        return 1
    import django

    django.setup()
    from tests.livemedia.lab import MediaLab

    with tempfile.TemporaryDirectory(prefix="media-bench-") as folder:
        lab = MediaLab(Path(folder)).start(daphne=False)
        try:
            results = lab.in_namespace(run_in_namespace, lab)
        finally:
            lab.stop()
    report(results)
    return 0


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else "main"
    if role in ("worker", "relay", "sink"):
        import django

        django.setup()
        coroutine = {
            "worker": lambda: worker_main(int(sys.argv[2])),
            "relay": relay_main,
            "sink": sink_main,
        }[role]()
        try:
            asyncio.run(coroutine)
        except (KeyboardInterrupt, BrokenPipeError):
            pass
        sys.exit(0)
    sys.exit(main())
