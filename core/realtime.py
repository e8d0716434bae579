"""Publishing realtime frames: after commit, through the fan-out hub.

Writes announce themselves with `frame_publish_on_commit` (sequenced, kept
for resync) or `forward_on_commit` (unsequenced): the frame is sent after the
surrounding transaction commits, never for a rolled-back write, and a failed
send is logged without undoing the commit (pub/sub is at-most-once; clients
recover with snapshot + seq, see docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import threading
import time
import weakref
from collections import deque
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from core import fanout, kv
from core.errors import ServerBusyError
from core.namespace import deployment_namespace
from core.redisconf import sync_client

logger = logging.getLogger(__name__)

# channels' own rule for group names: ASCII alphanumerics, hyphens,
# underscores and periods, shorter than 100 characters.
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,99}$")


def _validate(group: str, event: dict[str, Any]) -> None:
    if not _GROUP_NAME.match(group):
        raise ValueError(f"invalid group name: {group!r}")
    if not isinstance(event.get("type"), str):
        raise ValueError("a channel-layer event needs a string 'type' (the consumer handler)")


# --- Sequenced frames and their resync buffer -----------------------------------
#
# The channel layer is at-most-once, so it cannot be the source for resync:
# every sequenced frame is also appended to a FrameBuffer (Redis in production,
# process memory for the embedded default) before it is sent. A reconnecting
# client asks for the frames after its last seq; if the buffer no longer reaches
# back that far, it gets a fresh snapshot instead.

FRAME_BUFFER_MAX_FRAMES = 2000
FRAME_BUFFER_TTL_SECONDS = 30 * 60
FORWARD_HANDLER = "frame.forward"  # consumers implement `frame_forward`


class FrameBuffer:
    def append(self, scope: str, seq: int, stream: str, text: str) -> None:
        raise NotImplementedError

    def since(self, scope: str, after_seq: int) -> list[tuple[int, str, str]]:
        """(seq, stream, text) of stored frames with seq > after_seq, in order."""
        raise NotImplementedError

    def oldest(self, scope: str) -> int | None:
        raise NotImplementedError


class MemoryFrameBuffer(FrameBuffer):
    def __init__(self, max_frames: int = FRAME_BUFFER_MAX_FRAMES) -> None:
        self._frames: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._deque = lambda: deque(maxlen=max_frames)

    def append(self, scope: str, seq: int, stream: str, text: str) -> None:
        with self._lock:
            frames = self._frames.setdefault(scope, self._deque())
            frames.append((seq, stream, text))

    def since(self, scope: str, after_seq: int) -> list[tuple[int, str, str]]:
        with self._lock:
            frames = list(self._frames.get(scope, ()))
        return sorted(frame for frame in frames if frame[0] > after_seq)

    def oldest(self, scope: str) -> int | None:
        with self._lock:
            frames = self._frames.get(scope)
            return min(frame[0] for frame in frames) if frames else None


class RedisFrameBuffer(FrameBuffer):
    """A sorted set per scope, scored by seq, trimmed to the newest frames."""

    def __init__(self, target, max_frames: int = FRAME_BUFFER_MAX_FRAMES) -> None:
        self._redis = sync_client(target, socket_timeout=2, socket_connect_timeout=2)
        self._max = max_frames
        self._namespace = _namespace()

    def _key(self, scope: str) -> str:
        return f"roundtable:frames:{self._namespace}:{scope}"

    def append(self, scope: str, seq: int, stream: str, text: str) -> None:
        key = self._key(scope)
        member = f"{seq}|{stream}|{text}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(key, {member: seq})
        pipe.zremrangebyrank(key, 0, -(self._max + 1))
        pipe.expire(key, FRAME_BUFFER_TTL_SECONDS)
        pipe.execute()

    def since(self, scope: str, after_seq: int) -> list[tuple[int, str, str]]:
        members = self._redis.zrangebyscore(self._key(scope), f"({after_seq}", "+inf")
        frames = []
        for member in members:
            seq, stream, text = member.decode().split("|", 2)
            frames.append((int(seq), stream, text))
        return frames

    def oldest(self, scope: str) -> int | None:
        first = self._redis.zrange(self._key(scope), 0, 0, withscores=True)
        return int(first[0][1]) if first else None


# One deployment's keys (core/fanout.py owns the name: it has no import of this module).
_namespace = deployment_namespace


_frame_buffer: FrameBuffer | None = None


def frame_buffer() -> FrameBuffer:
    global _frame_buffer
    if _frame_buffer is None:
        _frame_buffer = (
            RedisFrameBuffer(settings.REDIS_TARGET) if settings.REDIS_URL else MemoryFrameBuffer()
        )
    return _frame_buffer


def frame_publish_on_commit(
    *, scope: str, seq: int, stream: str, text: str, groups: list[str], control: str | None = None
) -> None:
    """After commit: keep the encoded frame for resync, then send it to `groups`.

    The frame is encoded once, here, and forwarded as text by every consumer
    (no per-recipient encoding). `control` asks consumers to act on the frame
    themselves (e.g. re-join groups after a seat change)."""
    for group in groups:
        _validate(group, {"type": FORWARD_HANDLER})

    def publish() -> None:
        try:
            frame_buffer().append(scope, seq, stream, text)
        except Exception:  # resync falls back to a snapshot; the send still goes out
            logger.exception("frame buffer append failed for %s seq %s", scope, seq)
        fanout.publish(groups, text, seq=seq, control=control)

    transaction.on_commit(publish)


def forward_on_commit(groups: list[str], text: str) -> None:
    """An ephemeral (unsequenced) frame, sent after the transaction commits."""
    for group in groups:
        _validate(group, {"type": FORWARD_HANDLER})
    transaction.on_commit(lambda: fanout.publish(groups, text))


async def forward_now(groups: list[str], text: str) -> None:
    """Send an ephemeral (unsequenced) frame to groups, from async code."""
    await fanout.publish_async(groups, text)


# --- Coalescing ------------------------------------------------------------------

_local_claims: dict[str, float] = {}
COALESCE_MARGIN = 0.01  # seconds a claim outlasts its window (clock and network slack)


async def _claim(key: str, milliseconds: int) -> bool:
    """True for the first caller in the window, across processes when Redis is set."""
    now = time.monotonic()
    if _local_claims.get(key, 0.0) > now:
        # This process holds the claim of the window: no other process can.
        return False
    if settings.REDIS_URL:
        try:
            claimed = await kv.async_client().set(
                f"roundtable:coalesce:{key}", b"1", nx=True, px=milliseconds
            )
        except Exception:
            # Redis unreachable: coalesce within this process rather than
            # fail the action that asked (its write is committed already).
            logger.warning("coalescing claim %s: Redis unavailable; claimed locally", key)
            claimed = True
        if not claimed:
            return False
    _local_claims[key] = now + milliseconds / 1000
    if len(_local_claims) > 10_000:
        for stale in [k for k, until in _local_claims.items() if until <= now]:
            del _local_claims[stale]
    return True


# Per event loop and key: a lock and when the last flush finished sending.
_flushes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def _flush_spaced(key: str, delay: float, flush) -> None:
    """Run one flush of `key`, at least `delay` after the previous one of this
    process finished sending. The claim alone spaces the flushes' start
    times; a flush whose database read was slow would otherwise send right
    before the next one (two tallies 50 ms apart were measured under a vote
    storm). The flush reads after the wait, so it is never staler for it."""

    loop = asyncio.get_running_loop()
    per_loop = _flushes.setdefault(loop, {})
    entry = per_loop.get(key)
    if entry is None:
        entry = per_loop[key] = [asyncio.Lock(), float("-inf")]
    async with entry[0]:
        wait = entry[1] + delay - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await flush()
        finally:
            entry[1] = loop.time()
    if len(per_loop) > 10_000:
        stale = loop.time() - 60
        for old in [
            k for k, (lock, sent) in per_loop.items() if not lock.locked() and sent < stale
        ]:
            del per_loop[old]


async def coalesce(key: str, delay: float, flush) -> bool:
    """Run `flush()` (a coroutine function) once, `delay` seconds from now, for
    all calls with `key` in that window, across processes. The flush reads the
    state when it fires, so it reflects every change made in the window.

    Callers call this after their write committed. The claim lasts the whole
    window plus COALESCE_MARGIN and the flush fires when it has expired (its
    timer starts once the claim is taken): a caller that found the claim held
    committed before the flush reads, so its change is in that flush, and a
    change committed later takes a new claim and schedules a new flush. Two
    flushes of one key are thus at least `delay` apart (docs/realtime.md: the
    promised rates). Returns True if this call scheduled the flush."""
    window = delay + COALESCE_MARGIN
    if not await _claim(key, max(1, int(window * 1000))):
        return False

    async def run() -> None:
        try:
            await _flush_spaced(key, delay, flush)
        except ServerBusyError:
            # Not a bug: the database cannot serve now (already logged by
            # core.dbfailure); the room's next change schedules a new flush.
            logger.warning("coalesced flush %s skipped: database unavailable", key)
        except Exception:
            logger.exception("coalesced flush %s failed", key)

    loop = asyncio.get_running_loop()
    # A fresh context: the caller may be a request inside `async_to_sync`
    # whose thread-sensitive executor is gone by the time the flush fires
    # ("CurrentThreadExecutor already quit"), which broke flushes on SQLite.
    loop.call_later(window, lambda: asyncio.ensure_future(run()), context=contextvars.Context())
    return True


def _claim_sync(key: str, milliseconds: int) -> bool:
    """`_claim` for synchronous code: the same Redis key and local claims."""
    now = time.monotonic()
    if _local_claims.get(key, 0.0) > now:
        return False
    client = kv.sync_client()
    if client is not None and not client.set(
        f"roundtable:coalesce:{key}", b"1", nx=True, px=milliseconds
    ):
        return False
    _local_claims[key] = now + milliseconds / 1000
    return True


def coalesce_on_commit(key: str, delay: float, flush) -> None:
    """`coalesce` for synchronous code (an API view, a task, a service called
    outside a socket): after the transaction commits, claim the same window
    and, if this call took it, run `flush()` (a plain function) in a timer
    thread when the window is over. Never raises into the caller."""
    window = delay + COALESCE_MARGIN

    def run() -> None:
        try:
            flush()
        except Exception:
            logger.exception("coalesced flush %s failed", key)
        finally:
            connection.close()  # this timer thread's own connection

    def schedule() -> None:
        try:
            if _claim_sync(key, max(1, int(window * 1000))):
                timer = threading.Timer(window, run)
                timer.daemon = True
                timer.start()
        except Exception:
            logger.exception("scheduling the coalesced flush %s failed", key)

    transaction.on_commit(schedule)


def reset_for_tests() -> None:
    """Forget buffered frames and coalescing claims (test isolation only)."""
    global _frame_buffer
    buffer = frame_buffer()
    if isinstance(buffer, RedisFrameBuffer):
        keys = list(buffer._redis.scan_iter("roundtable:frames:*")) + list(
            buffer._redis.scan_iter("roundtable:coalesce:*")
        )
        if keys:
            buffer._redis.delete(*keys)
    _frame_buffer = None
    _local_claims.clear()
    _flushes.clear()
    fanout.reset_for_tests()
    kv.reset_for_tests()
