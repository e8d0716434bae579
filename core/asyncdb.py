"""Database work from async code (consumers, coalesced flushes).

Channels' `database_sync_to_async` is thread-sensitive: every call of a
process runs in one shared thread, so under load all database work of a Daphne
process queues behind itself (measured: 22 s from send to ack with 7 busy
sessions, docs/performance.md). `db_call` runs each call in a thread pool
instead. There are two pools ("lanes"): staff actions (a mode switch, ending
the session) run in a lane of their own, so they never wait behind a busy
room's chat. SQLite (the embedded default) allows one writer at a time, so
there calls stay on the one shared thread.

Connections: with PostgreSQL a thread keeps no connection of its own. Each
call borrows one from the process's pool (config/settings.py: the request
threads borrow from the same pool) and gives it back when it returns, so the
lanes' threads never hold more connections than calls are running, and the
pool's size is the process's whole budget. A call that fails because the
database cannot serve (down, restarting, no connection free within the pool's
timeout) raises `ServerBusyError` (503 `server_busy`, core/dbfailure.py), and
the broken connection is discarded, not lent again. On SQLite (no pool) a
thread checks its connection only after it sat idle for
HEALTH_CHECK_IDLE_SECONDS, so a busy process pays no extra round trip.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from django.conf import settings
from django.db import close_old_connections

from core.dbfailure import database_unavailable, server_busy

P = ParamSpec("P")
R = TypeVar("R")

HEALTH_CHECK_IDLE_SECONDS = 5.0
LANES = {"default": "DB_THREADS", "staff": "DB_STAFF_THREADS"}  # lane -> size setting
_executors: dict[str, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()
_local = threading.local()


_server_loop: asyncio.AbstractEventLoop | None = None


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that called `db_call`, when the caller is one of
    its worker threads (None on the loop itself, or with no loop running)."""
    loop = _server_loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    try:
        asyncio.get_running_loop()
        return None  # on a loop already: callers use the async API
    except RuntimeError:
        pass
    if threading.current_thread() is threading.main_thread():
        return None
    return loop


def _single_writer() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def _executor(lane: str) -> ThreadPoolExecutor:
    found = _executors.get(lane)
    if found is None:
        with _executors_lock:
            found = _executors.get(lane)
            if found is None:
                found = _executors[lane] = ThreadPoolExecutor(
                    max_workers=getattr(settings, LANES[lane]), thread_name_prefix=f"db-{lane}"
                )
    return found


def db_call(func: Callable[P, R], lane: str = "default") -> Callable[P, Awaitable[R]]:
    if lane not in LANES:
        raise ValueError(f"unknown database lane {lane!r}; known: {sorted(LANES)}")

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if time.monotonic() - getattr(_local, "last_call", 0.0) > HEALTH_CHECK_IDLE_SECONDS:
            close_old_connections()
        try:
            return func(*args, **kwargs)
        except Exception as error:
            close_old_connections()  # drop a connection the error left unusable
            if database_unavailable(error):
                raise server_busy(error) from error
            raise
        finally:
            _local.last_call = time.monotonic()
            if not settings.DATABASES["default"].get("CONN_MAX_AGE"):
                close_old_connections()  # back to the pool (or closed, without one)

    serial = sync_to_async(run, thread_sensitive=True)
    pooled = None  # made on first use: the lane's executor reads settings

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal pooled
        global _server_loop
        _server_loop = asyncio.get_running_loop()
        if _single_writer():
            return await serial(*args, **kwargs)
        if pooled is None:
            pooled = sync_to_async(run, thread_sensitive=False, executor=_executor(lane))
        return await pooled(*args, **kwargs)

    return call


class DbCallDispatch:
    """A Channels consumer whose database work all goes through `db_call`.

    Channels' own `dispatch` runs `close_old_connections` before every handler,
    through the one thread-sensitive thread of the process: each received frame
    (a chat line, a reaction, a ping, a mode switch) first queues for that thread.
    `db_call` already checks and returns connections in the thread that uses
    them, so here the handler runs at once (put this class before the consumer
    base class)."""

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
