"""Coalesced ephemeral flushes, scheduled by services after commit.

A service that changes what an ephemeral frame shows (a vote moves the
tally, a join moves presence) calls `flush_on_commit(key, delay, flush)`:
once the transaction commits, the flush is coalesced with
`core.realtime.coalesce` on the server's event loop (the action's database
worker thread hands it over), or, with no server loop (an API view, a task),
with `coalesce_on_commit` and the synchronous `sync_flush` if given."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable

from django.db import transaction

from core import asyncdb, realtime

logger = logging.getLogger(__name__)


def flush_on_commit(
    key: str,
    delay: float,
    flush: Callable[[], Awaitable[None]],
    sync_flush: Callable[[], None] | None = None,
) -> None:
    """Coalesce `flush` (a coroutine function) under `key` once the current
    transaction commits (at once outside one). Never raises into the caller."""
    loop = asyncdb.server_loop()
    if loop is None:
        if sync_flush is not None:
            realtime.coalesce_on_commit(key, delay, sync_flush)
        return

    def schedule() -> None:
        try:
            # A fresh context: not the database thread's (asgiref's executor state).
            loop.call_soon_threadsafe(_start, key, delay, flush, context=contextvars.Context())
        except Exception:
            logger.exception("scheduling the coalesced flush %s failed", key)

    transaction.on_commit(schedule)


def _start(key: str, delay: float, flush: Callable[[], Awaitable[None]]) -> None:
    asyncio.ensure_future(realtime.coalesce(key, delay, flush)).add_done_callback(_log_failure)


def _log_failure(done) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error("a coalesced flush could not be scheduled", exc_info=done.exception())


async def flush_soon(key: str, delay: float, flush: Callable[[], Awaitable[None]]) -> bool:
    """`flush_on_commit` for services already on the event loop (no transaction)."""
    return await realtime.coalesce(key, delay, flush)
