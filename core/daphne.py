"""The Daphne command line, as the Makefile, Dockerfile and docker-compose.yml
run it, for the tests and benchmarks that start real server processes."""

from __future__ import annotations

import sys

APPLICATION = "config.asgi:application"
# A class arriving at once keeps a process busy with snapshots: with Daphne's
# 5 s default, handshakes still queued behind them were refused.
WEBSOCKET_CONNECT_TIMEOUT = 30


def daphne_command(port: int, application: str = APPLICATION) -> list[str]:
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "--websocket_connect_timeout",
        str(WEBSOCKET_CONNECT_TIMEOUT),
        application,
    ]
