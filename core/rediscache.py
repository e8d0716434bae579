"""Django's Redis cache, following a Sentinel-managed primary when
`REDIS_SENTINELS` is set (core/redisconf.py). Without sentinels settings
use Django's own `RedisCache`."""

from __future__ import annotations

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from core.redisconf import sync_client


class SentinelCacheClient(RedisCacheClient):
    """Every read and write goes to the current primary: its pool asks the
    sentinels who that is whenever it opens a connection."""

    def _get_connection_pool(self, write):
        pool = self._pools.get(0)
        if pool is None:
            options = {k: v for k, v in self._pool_options.items() if k != "parser_class"}
            pool = self._pools[0] = sync_client(settings.REDIS_TARGET, **options).connection_pool
        return pool


class SentinelRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SentinelCacheClient
