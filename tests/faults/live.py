"""A live-socket client for the fault tests: reads every frame in the
background, answers `request` with the matching ack/error."""

from __future__ import annotations

import asyncio
import json
import time


class LiveClient:
    def __init__(self, socket) -> None:
        self.socket = socket
        self.frames: list[tuple[float, dict]] = []
        self.replies: dict[str, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())
        self.ids = 0

    @classmethod
    async def connect(
        cls, base_url: str, session_id: int, cookie: str, origin: str | None = None
    ) -> LiveClient:
        import websockets

        socket = await websockets.connect(
            f"{base_url.replace('http', 'ws')}/ws/live/{session_id}/",
            additional_headers={"Cookie": cookie},
            origin=origin or base_url,
        )
        return cls(socket)

    async def _read(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            waiting = self.replies.pop(frame.get("id"), None) if frame.get("id") else None
            if waiting is not None and frame["type"] in ("ack", "error"):
                waiting.set_result(frame)
            else:
                self.frames.append((time.monotonic(), frame))

    async def request(self, kind: str, data: dict, client_id: str, timeout: float = 10) -> dict:
        future = asyncio.get_running_loop().create_future()
        self.replies[client_id] = future
        await self.socket.send(json.dumps({"type": kind, "id": client_id, "data": data}))
        return await asyncio.wait_for(future, timeout)

    def seen(self, kind: str, since: float = 0.0) -> list[dict]:
        return [frame for at, frame in self.frames if frame["type"] == kind and at >= since]

    async def wait_for(self, predicate, seconds: float, since: float = 0.0) -> float:
        """The arrival time of the first frame since `since` matching `predicate`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for at, frame in self.frames:
                if at >= since and predicate(frame):
                    return at
            await asyncio.sleep(0.05)
        raise AssertionError(f"frame not seen within {seconds} s: {self.frames[-5:]}")

    async def close(self) -> None:
        await self.socket.close()
        self.reader.cancel()
