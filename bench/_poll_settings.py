"""Opt-in settings for bench/poll_storm.py (BENCH_REDIS_SOCKET_TIMEOUT=seconds):
`config.settings` with one change, the channel layer's Redis socket timeout.

redis-py 8 defaults `socket_timeout` to 5 s, the same as channels-redis's
blocking BZPOPMIN (`brpop_timeout` = 5 s): a Daphne process whose consumers get
no channel-layer message for ~5 s (or whose event loop lags) has its pending
BZPOPMIN read time out, the consumer holding it dies (close code 1011) and a
message popped at that moment is lost. Raising the socket timeout above 5 s
shows what Roundtable does without that failure. Not used unless asked for.
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import CHANNEL_LAYERS

for _host in CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", []):
    if isinstance(_host, dict):
        _host["socket_timeout"] = float(os.environ["BENCH_REDIS_SOCKET_TIMEOUT"])
