"""The small test override: the env-driven settings, with a fast password
hasher (test users are created by the hundred). Subprocesses started by tests
(Daphne, Celery) inherit DJANGO_SETTINGS_MODULE and so verify the same hashes.

The database settings are production's own (on PostgreSQL: the connection
pool, CONN_MAX_AGE 0), so the tests see the connection model that runs.

Run in parallel (`pytest -n N`, pytest-xdist), each worker gets its own test
database (pytest-django) and its own Redis database index: the channel
layer's groups, the cache and Celery's queues live in that index, so workers
whose sessions share primary keys never hear each other. (The fan-out's
pub/sub channels, global to a Redis server, are namespaced by the database.)
Subprocesses inherit the rewritten REDIS_URL."""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    _url = os.environ["REDIS_URL"]
    _match = re.match(r"^(redis://[^/]+)(?:/(\d+))?$", _url)
    if _match and not os.environ.get("ROUNDTABLE_XDIST_REDIS_SET"):
        _index = (int(_match.group(2) or 0) + 1 + int(_worker[2:])) % 16
        os.environ["REDIS_URL"] = f"{_match.group(1)}/{_index}"
        os.environ["ROUNDTABLE_XDIST_REDIS_SET"] = "1"

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Recordings made by other tests are not transcribed (tests of transcripts
# queue the job themselves).
ASR_AUTO = env_bool("ROUNDTABLE_ASR_AUTO", False)  # noqa: F405
