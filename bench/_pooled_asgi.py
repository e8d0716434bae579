"""Prototype for bench/live_fanout.py: Roundtable's application with its
database work spread over a thread pool instead of one thread.

    DJANGO_SETTINGS_MODULE=bench._settings_proto \
        python -m daphne -b 127.0.0.1 -p PORT bench._pooled_asgi:application

Channels' `database_sync_to_async` is thread-sensitive by default, and nothing
in Channels or Daphne opens a `ThreadSensitiveContext`: every call of every
consumer of a Daphne process runs in asgiref's one `single_thread_executor`.
Here the consumer module's `database_sync_to_async` is replaced, at import,
by the same class with `thread_sensitive=False` (the event loop's default
executor, ASGI_THREADS threads, one database connection each). Nothing in the
application's files changes. A benchmark helper, not part of the application.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench._settings_proto")

from django.core.asgi import get_asgi_application  # noqa: E402

get_asgi_application()  # Django set up before the models are imported

import channels.db  # noqa: E402
from channels.db import DatabaseSyncToAsync  # noqa: E402


def pooled(func=None, *, thread_sensitive: bool = False, **kwargs):
    if func is None:
        return lambda f: DatabaseSyncToAsync(f, thread_sensitive=False, **kwargs)
    return DatabaseSyncToAsync(func, thread_sensitive=False, **kwargs)


import classroom.consumers  # noqa: E402

classroom.consumers.database_sync_to_async = pooled
channels.db.database_sync_to_async = pooled  # imported at call time by classroom.events

from config.asgi import application  # noqa: E402, F401
