"""The deployment's key namespace for shared stores (Redis keys).

Keys of one deployment (one database): two deployments, or a test database
recreated with the same ids, never read each other's keys. The same value as
the realtime kernel's frame-buffer namespace (same inputs, same hash).
"""

from __future__ import annotations

import hashlib

from django.db import connection

_namespaces: dict[str, str] = {}


def deployment_namespace() -> str:
    settings = connection.settings_dict
    name = f"{connection.vendor}:{settings.get('HOST')}:{settings.get('NAME')}"
    found = _namespaces.get(name)
    if found is None:
        digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()
        found = _namespaces[name] = digest[:10]
    return found
