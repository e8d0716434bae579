"""The deployment's key namespace for shared stores (Redis keys).

Keys of one deployment (one database): two deployments, or a test database
recreated with the same ids, never read each other's keys. The same value as
the realtime kernel's frame-buffer namespace (same inputs, same hash).

Read from the settings, never from `django.db.connection`: frames are
published from the event loop, where each task has its own context, and there
touching `connection` builds a new database wrapper (a cycle of eight objects)
per task: one per published frame, all left to the garbage collector, whose
full collections then stopped the process for 150+ ms under a busy room.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db.utils import load_backend

_namespaces: dict[tuple, str] = {}


def deployment_namespace() -> str:
    config = settings.DATABASES["default"]
    key = (config["ENGINE"], config.get("HOST"), config.get("NAME"))
    found = _namespaces.get(key)
    if found is None:
        vendor = load_backend(config["ENGINE"]).DatabaseWrapper.vendor
        name = f"{vendor}:{config.get('HOST')}:{config.get('NAME')}"
        digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()
        found = _namespaces[key] = digest[:10]
    return found
