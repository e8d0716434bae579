"""Database unavailability: told apart from bugs, answered 503 / `server_busy`.

A PostgreSQL that restarts, refuses connections or has no pooled connection
left to lend raises `OperationalError` (a `psycopg_pool.PoolTimeout` is one)
or, on a connection already closed, `InterfaceError`. These say nothing about
the request: a transaction that failed this way was rolled back by
PostgreSQL, so the client may send the same request or frame again (a
retried live action is recognised by its id, docs/realtime.md). The API
answers them 503 `server_busy`, pages a 503 page, sockets a `server_busy`
error frame (core/middleware.py, core/api, core/asyncdb.py).

After a restart every idle connection in the pool is dead. Without a check on
each borrow (a round trip per call) each of them would fail one more request;
instead the first failure makes the pool test its idle connections and drop
the broken ones (at most once a second, however many requests fail at once).
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import InterfaceError, OperationalError, connections

from core.errors import ServerBusyError

logger = logging.getLogger(__name__)

POOL_CHECK_INTERVAL_SECONDS = 1.0
_pool_checked_at = 0.0
_pool_check_lock = threading.Lock()


def database_unavailable(error: BaseException) -> bool:
    """True when `error` says the database could not serve, not that the code is wrong."""
    return isinstance(error, OperationalError | InterfaceError)


def pool_discard_broken(alias: str = "default") -> None:
    """Make the process's pool test its idle connections and drop the dead
    ones (throttled). Safe to call from any thread; a no-op without a pool."""
    global _pool_checked_at
    pool = getattr(connections[alias], "pool", None)
    if pool is None:
        return
    with _pool_check_lock:
        now = time.monotonic()
        if now - _pool_checked_at < POOL_CHECK_INTERVAL_SECONDS:
            return
        _pool_checked_at = now
    try:
        pool.check()
    except Exception:  # the pool is closing or the check itself failed: next time
        logger.warning("checking the database pool failed", exc_info=True)


def server_busy(error: BaseException) -> ServerBusyError:
    """The `server_busy` error for a database failure, after dropping the pool's
    broken connections, so that the process recovers once PostgreSQL is back."""
    logger.warning("database unavailable: %s: %s", type(error).__name__, error)
    pool_discard_broken()
    return ServerBusyError()
