"""A synthetic participant: aiortc publishing a tone and a test pattern through
Roundtable's media signalling (/ws/media/<session>/), exactly as a browser
does, and measuring what it receives. Used by tests/livemedia and bench/.

Run its coroutines on a thread inside the media lab's namespace
(`MediaLab.run`), after `lab.patch_aioice()`.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import json
import math
import os
import time
from collections import deque

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A sine at `frequency` Hz (a multiple of 50 for whole periods per frame),
    audible while `speaking()` is true, digital silence otherwise."""

    kind = "audio"

    def __init__(self, frequency: int, amplitude: int = 8000) -> None:
        super().__init__()
        self.frequency = frequency
        self.speaking = lambda: True
        samples = array.array(
            "h",
            (
                int(amplitude * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE))
                for n in range(FRAME_SAMPLES)
            ),
        )
        self._tone = samples.tobytes()
        self._silence = bytes(FRAME_SAMPLES * 2)
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / SAMPLE_RATE
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._tone if self.speaking() else self._silence)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


class PatternTrack(MediaStreamTrack):
    """A small test pattern (a bar moving over a grey field) at 15 fps."""

    kind = "video"

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        shade: int = 128,
        noise_rows: int = 0,
    ) -> None:
        super().__init__()
        self.width, self.height, self.fps, self.shade = width, height, fps, shade
        # Rows of noise keep the encoder busy like a real camera (32 rows of a
        # 640x480 frame: ≈ 0.55 Mbit/s with aiortc's VP8 encoder).
        self.noise_rows = noise_rows
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self.fps
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        width, height = self.width, self.height
        bar = (self._count * 8) % width
        row = bytes([self.shade]) * bar + bytes([235]) * min(16, width - bar)
        row += bytes([self.shade]) * (width - len(row))
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = row * height
        if self.noise_rows:
            luma = os.urandom(width * self.noise_rows) + luma[width * self.noise_rows :]
        frame.planes[0].update(luma)
        frame.planes[1].update(bytes([128]) * (frame.planes[1].buffer_size))
        frame.planes[2].update(bytes([128]) * (frame.planes[2].buffer_size))
        frame.pts = self._count * (90_000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90_000)
        self._count += 1
        return frame


class Received:
    """What arrives on one subscribed stream."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.frames = 0
        self.levels: deque[tuple[float, float, float]] = deque(maxlen=500)  # (t, rms, freq)
        self.sizes: tuple[int, int] | None = None

    def audible_since(self, since: float, threshold: float = 500.0) -> bool:
        return any(t >= since and rms > threshold for t, rms, _f in self.levels)

    def frequency_since(self, since: float) -> float | None:
        values = [f for t, rms, f in self.levels if t >= since and rms > 500]
        return sorted(values)[len(values) // 2] if values else None

    def frames_since(self, since: float) -> int:
        return sum(1 for t, _r, _f in self.levels if t >= since)


def _analyse(frame: av.AudioFrame) -> tuple[float, float]:
    samples = array.array("h")
    samples.frombytes(bytes(frame.planes[0]))
    channels = len(frame.layout.channels)
    mono = samples[::channels] if channels > 1 else samples
    if not mono:
        return 0.0, 0.0
    rms = math.sqrt(sum(s * s for s in mono[::4]) / len(mono[::4]))
    crossings = sum(1 for a, b in zip(mono, mono[1:], strict=False) if (a < 0) != (b < 0))
    frequency = crossings / 2 / (len(mono) / frame.sample_rate)
    return rms, frequency


class Participant:
    """One user's media connection."""

    def __init__(
        self,
        ws_url: str,
        session_id: int,
        cookie: str,
        *,
        tone: int | None = None,
        video: bool = True,
        decode_video: bool = False,
        origin: str | None = None,
    ) -> None:
        self.url = f"{ws_url}/ws/media/{session_id}/"
        self.cookie = cookie
        # The page's own origin (scheme, host and port: core/wsorigin.py).
        self.origin = origin or "http" + ws_url.removeprefix("ws")
        self.tone = ToneTrack(tone) if tone else None
        self.pattern = PatternTrack() if video else None
        self.decode_video = decode_video
        self.socket = None
        self.config: dict | None = None
        self.unavailable: dict | None = None
        self.publisher_pc: RTCPeerConnection | None = None
        self.subscriber_pc: RTCPeerConnection | None = None
        self.subscription = 0
        self.streams: dict[str, dict] = {}  # mid → {user_id, type, active}
        self.received: dict[str, Received] = {}  # mid → what arrived
        self.offers = 0
        self.frames_seen: list[dict] = []
        self.errors: list[dict] = []
        self.recording_states: list[str] = []
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = 0
        self._tasks: list[asyncio.Task] = []
        self._config_ready = asyncio.Event()
        self._offer_lock = asyncio.Lock()

    # --- Signalling ------------------------------------------------------------------

    async def connect(self) -> dict:
        import websockets

        self.socket = await websockets.connect(
            self.url,
            additional_headers={"Cookie": self.cookie},
            origin=self.origin,
            max_size=2**22,
        )
        self._tasks.append(asyncio.ensure_future(self._read()))
        await asyncio.wait_for(self._config_ready.wait(), 15)
        if self.unavailable:
            raise RuntimeError(f"media unavailable: {self.unavailable}")
        return self.config

    async def _read(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            self.frames_seen.append(frame)
            if kind in ("ack", "error"):
                future = self._pending.pop(frame.get("id"), None)
                if kind == "error":
                    self.errors.append(frame)
                if future and not future.done():
                    future.set_result(frame)
                elif kind == "error" and not future:
                    if not self._config_ready.is_set():
                        self.unavailable = frame.get("data")
                        self._config_ready.set()
            elif kind == "media.config":
                self.config = frame["data"]
                self._config_ready.set()
            elif kind == "media.unavailable":
                self.unavailable = frame["data"]
                self._config_ready.set()
            elif kind == "media.offer":
                asyncio.ensure_future(self._on_offer(frame["data"]))
            elif kind == "media.recording":
                self.recording_states.append(frame["data"].get("state"))

    async def request(self, frame_type: str, data: dict | None = None, timeout: float = 15) -> dict:
        self._ids += 1
        client_id = f"c{self._ids}"
        future = asyncio.get_running_loop().create_future()
        self._pending[client_id] = future
        await self.socket.send(
            json.dumps({"type": frame_type, "id": client_id, "data": data or {}})
        )
        return await asyncio.wait_for(future, timeout)

    # --- Publishing ------------------------------------------------------------------

    async def publish(self) -> dict:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.publisher_pc = pc
        if self.tone:
            pc.addTransceiver(self.tone, direction="sendonly")
        if self.pattern:
            pc.addTransceiver(self.pattern, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.request(
            "publish", {"jsep": {"type": "offer", "sdp": pc.localDescription.sdp}}
        )
        if reply["type"] == "error":
            return reply
        answer = reply["data"]["jsep"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        return reply

    # --- Subscribing -----------------------------------------------------------------

    async def _on_offer(self, data: dict) -> None:
        async with self._offer_lock:
            self.offers += 1
            if data.get("closed"):
                if self.subscriber_pc:
                    await self.subscriber_pc.close()
                self.subscriber_pc = None
                self.streams = {}
                return
            if self.subscriber_pc is None or data["subscription"] != self.subscription:
                if self.subscriber_pc is not None:
                    await self.subscriber_pc.close()
                self.subscription = data["subscription"]
                self.subscriber_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                self.subscriber_pc.on("track", self._on_track)
            self.streams = {
                str(stream["mid"]): stream
                for stream in data["streams"]
                if stream.get("mid") is not None
            }
            pc = self.subscriber_pc
            await pc.setRemoteDescription(
                RTCSessionDescription(data["jsep"]["sdp"], data["jsep"]["type"])
            )
            await pc.setLocalDescription(await pc.createAnswer())
            await self.request(
                "answer",
                {
                    "subscription": data["subscription"],
                    "jsep": {"type": "answer", "sdp": pc.localDescription.sdp},
                },
            )

    def _on_track(self, track) -> None:
        transceiver = next(
            (t for t in self.subscriber_pc.getTransceivers() if t.receiver.track is track), None
        )
        mid = transceiver.mid if transceiver else f"?{len(self.received)}"
        received = Received(track.kind)
        self.received[str(mid)] = received
        self._tasks.append(asyncio.ensure_future(self._consume(track, received)))

    async def _consume(self, track, received: Received) -> None:
        count = 0
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            received.frames += 1
            count += 1
            now = time.monotonic()
            if track.kind == "audio":
                if count % 5 == 0:
                    rms, frequency = _analyse(frame)
                    received.levels.append((now, rms, frequency))
            else:
                received.sizes = (frame.width, frame.height)
                received.levels.append((now, 0.0, 0.0))

    def audible_users(self, since: float) -> set[int]:
        """Users whose audio arrived with a tone since `since` (monotonic)."""
        users = set()
        for mid, received in self.received.items():
            stream = self.streams.get(mid)
            if received.kind == "audio" and stream and received.audible_since(since):
                users.add(stream["user_id"])
        return users

    def subscribed_users(self) -> set[int]:
        return {
            stream["user_id"]
            for stream in self.streams.values()
            if stream.get("active", True) and stream.get("user_id") is not None
        }

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for pc in (self.publisher_pc, self.subscriber_pc):
            if pc is not None:
                await pc.close()
        if self.socket is not None:
            await self.socket.close()


def session_cookie(user) -> str:
    """A Django session cookie for `user` (stored in the shared test database)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
