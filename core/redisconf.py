"""Where Redis is: one server (`REDIS_URL`) or a Sentinel-managed primary
(`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`), for every Redis user.

Settings build the channel layer, cache and Celery configuration from
`RedisTarget`; `core.kv`, `core.fanout` and `core.realtime` build their clients
with `sync_client` / `async_client`. With Sentinel, a client asks the
sentinels for the current primary at every new connection, so after a
failover the next reconnect reaches the promoted replica (docs/architecture.md,
"Failures"). No Django imports: settings import this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

# How long a client waits for a sentinel or the primary before trying the next.
SENTINEL_SOCKET_TIMEOUT = 2.0


@dataclass(frozen=True)
class RedisTarget:
    url: str = ""  # a direct server; with sentinels only its password and db count
    sentinels: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    master: str = ""
    db: int = 0
    password: str | None = None
    sentinel_password: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url or self.sentinels)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)


def parse_sentinels(items: list[str]) -> tuple[tuple[str, int], ...]:
    """`["host:port", "host"]` → `(("host", port), ("host", 26379))`."""
    found = []
    for item in items:
        host, _, port = item.strip().rpartition(":")
        if not host:  # no port given
            host, port = item.strip(), "26379"
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


def target_from(
    url: str, sentinels: list[str], master: str, sentinel_password: str = ""
) -> RedisTarget:
    parsed = urlsplit(url) if url else None
    db = 0
    password = None
    if parsed is not None:
        path = parsed.path.strip("/")
        db = int(path) if path.isdigit() else 0
        password = unquote(parsed.password) if parsed.password else None
    if sentinels and not master:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the primary's name)"
        )
    return RedisTarget(
        url=url,
        sentinels=parse_sentinels(sentinels),
        master=master,
        db=db,
        password=password,
        sentinel_password=sentinel_password or None,
    )


def _sentinel_kwargs(target: RedisTarget) -> dict:
    kwargs = {
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT,
    }
    if target.sentinel_password:
        kwargs["password"] = target.sentinel_password
    return kwargs


def sync_client(target: RedisTarget, **kwargs):
    """A `redis.Redis` for the primary (through the sentinels when configured)."""
    import redis

    if not target.uses_sentinel:
        return redis.Redis.from_url(target.url, **kwargs)
    from redis.sentinel import Sentinel

    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target))
    return sentinel.master_for(target.master, db=target.db, password=target.password, **kwargs)


def async_client(target: RedisTarget, **kwargs):
    """A `redis.asyncio.Redis` for the primary (through the sentinels when configured)."""
    import redis.asyncio as aioredis

    if not target.uses_sentinel:
        return aioredis.Redis.from_url(target.url, **kwargs)
    from redis.asyncio.sentinel import Sentinel

    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target))
    return sentinel.master_for(target.master, db=target.db, password=target.password, **kwargs)


def channel_layer_host(target: RedisTarget, **kwargs) -> dict:
    """One `hosts` entry of channels-redis."""
    if not target.uses_sentinel:
        return {"address": target.url, **kwargs}
    host = {
        "sentinels": list(target.sentinels),
        "master_name": target.master,
        "sentinel_kwargs": _sentinel_kwargs(target),
        "db": target.db,
        **kwargs,
    }
    if target.password:
        host["password"] = target.password
    return host


def celery_url(target: RedisTarget) -> str:
    """Celery's broker / result backend URL (`sentinel://a;sentinel://b` with Sentinel)."""
    if not target.uses_sentinel:
        return target.url
    auth = f":{target.password}@" if target.password else ""
    return ";".join(
        f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.sentinels
    )


def celery_transport_options(target: RedisTarget) -> dict:
    if not target.uses_sentinel:
        return {}
    return {"master_name": target.master, "sentinel_kwargs": _sentinel_kwargs(target)}
