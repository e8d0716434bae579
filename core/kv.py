"""Shared Redis clients and the small counters built on them.

One synchronous client per process (its connection pool is thread-safe) and one
asyncio client per event loop. Hot paths use these instead of Django's cache:
`django.core.cache`'s Redis backend builds a new `redis.Redis` object for every
operation (measured: 4 per reaction, a third of its CPU; docs/performance.md).

Without `REDIS_URL` (the embedded default) the counters live in Django's
local-memory cache, which is per process and enough for one process.
"""

from __future__ import annotations

import asyncio
import threading
import time

from django.conf import settings
from django.core.cache import cache

from core import redisconf

_sync_client = None
_sync_lock = threading.Lock()
_async_clients: dict[int, object] = {}


def redis_url() -> str:
    return settings.REDIS_URL or ""


def sync_client():
    """The process's synchronous Redis client, or None without Redis."""
    global _sync_client
    if not redis_url():
        return None
    if _sync_client is None:
        with _sync_lock:
            if _sync_client is None:
                _sync_client = redisconf.sync_client(
                    settings.REDIS_TARGET,
                    socket_timeout=5,
                    socket_connect_timeout=5,
                    max_connections=200,
                )
    return _sync_client


def async_client():
    """This event loop's asyncio Redis client, or None without Redis."""
    if not redis_url():
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(id(loop))
    if client is None:
        client = redisconf.async_client(settings.REDIS_TARGET, max_connections=1000)
        _async_clients.clear()  # a new loop (tests): drop the clients of dead loops
        _async_clients[id(loop)] = client
    return client


def window_hits(key: str, seconds: int) -> int:
    """Count one hit in the current fixed window of `seconds`; returns the
    window's count including this hit."""
    window = int(time.time() // seconds)
    full = f"roundtable:rl:{key}:{window}"
    client = sync_client()
    if client is None:
        cache.add(full, 0, timeout=seconds * 2)
        try:
            return cache.incr(full)
        except ValueError:  # evicted between add and incr
            cache.set(full, 1, timeout=seconds * 2)
            return 1
    pipe = client.pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, seconds * 2)
    count, _ = pipe.execute()
    return int(count)


def counter_add(key: str, ttl: int = 60) -> None:
    """Add one to a short-lived counter (reaction bursts)."""
    full = f"roundtable:count:{key}"
    client = sync_client()
    if client is None:
        cache.add(full, 0, timeout=ttl)
        try:
            cache.incr(full)
        except ValueError:
            cache.set(full, 1, timeout=ttl)
        return
    pipe = client.pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, ttl)
    pipe.execute()


def counters_take(keys: list[str]) -> dict[str, int]:
    """The non-zero counters among `keys`, each reset to zero as it is read."""
    client = sync_client()
    full = [f"roundtable:count:{key}" for key in keys]
    if client is None:
        counts = {}
        for key, name in zip(keys, full, strict=True):
            value = cache.get(name)
            if value:
                counts[key] = value
                try:
                    cache.decr(name, value)
                except ValueError:
                    pass
        return counts
    pipe = client.pipeline(transaction=False)
    for name in full:
        pipe.getdel(name)
    return {key: int(value) for key, value in zip(keys, pipe.execute(), strict=True) if value}


def reset_for_tests() -> None:
    global _sync_client
    _sync_client = None
    _async_clients.clear()
