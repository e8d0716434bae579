"""Prototype settings for bench/live_fanout.py: Roundtable's settings plus the
configuration fixes the benchmark suggests, to measure them before anyone
changes config/settings.py. A benchmark helper, not used by the application.

- The channel layer's Redis connections get a socket timeout longer than
  channels-redis's 5 s BZPOPMIN: redis-py 8 defaults `socket_timeout` to 5 s,
  so an idle receive times out on the client first, the exception kills the
  consumer that was receiving for the process, and its socket closes (1011).
- Persistent database connections: with `conn_max_age=0` every
  `database_sync_to_async` call opens (and closes) a PostgreSQL connection, in
  the one thread that runs all of a Daphne process's database work.
"""

from config.settings import *  # noqa: F403
from config.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

if REDIS_URL:
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 15}
    ]
# The prototypes keep the per-thread persistent connections they were measured
# with; Django refuses those beside a pool, so the pool is dropped here.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
