"""Database work from async code (consumers, coalesced flushes).

Channels' `database_sync_to_async` is thread-sensitive: every call of a
process runs in one shared thread, so under load all database work of a Daphne
process queues behind itself (measured: 22 s from send to ack with 7 busy
sessions, docs/performance.md). `db_call` runs each call in the default thread
pool instead, with the same connection hygiene as Channels (stale connections
closed before and after). SQLite (the embedded default) allows one writer at a
time, so there calls stay on the one shared thread."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def _single_writer() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def db_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    pooled = sync_to_async(run, thread_sensitive=False)
    serial = sync_to_async(run, thread_sensitive=True)

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return await (serial if _single_writer() else pooled)(*args, **kwargs)

    return call
