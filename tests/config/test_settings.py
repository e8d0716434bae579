"""Settings modes, each exercised in a fresh interpreter with its own environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": s.CACHES["default"]["BACKEND"],
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "broker": s.CELERY_BROKER_URL,
    "email": s.EMAIL_BACKEND,
    "debug": s.DEBUG,
}))
"""


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_ENV",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _settings(env: dict[str, str]) -> dict:
    result = _run(env, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_default_with_nothing_set():
    assert _settings({}) == {
        "engine": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "eager": True,
        "broker": "memory://",
        "email": "django.core.mail.backends.console.EmailBackend",
        "debug": True,
    }


def test_redis_and_postgres_urls_switch_every_backend():
    values = _settings(
        {
            "DATABASE_URL": "postgres://u@db.example:5432/rt",
            "REDIS_URL": "redis://cache.example:6379/1",
        }
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["eager"] is False
    assert values["broker"] == "redis://cache.example:6379/1"


def test_redis_sentinels_switch_every_backend_to_the_sentinels():
    values = _settings(
        {
            "REDIS_URL": "redis://:pw@ignored/4",
            "REDIS_SENTINELS": "s1.example:26379,s2.example:26380",
            "REDIS_SENTINEL_MASTER": "roundtable",
        }
    )
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["cache"] == "core.rediscache.SentinelRedisCache"
    assert values["eager"] is False
    assert values["broker"] == "sentinel://:pw@s1.example:26379/4;sentinel://:pw@s2.example:26380/4"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secrets(missing):
    env = {"DJANGO_ENV": "production", "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "rt.example.org"}
    del env[missing]
    result = _run(env, "manage.py", "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_check_deploy_has_no_warnings():
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "p7$k2-L0ng-and-Random-Production-Secret-Value-9x8c7v6b5n4m3",
        "ALLOWED_HOSTS": "rt.example.org",
    }
    result = _run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_running_suite_uses_what_the_environment_names(settings):
    from django.db import connection

    expected_vendor = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    assert connection.vendor == expected_vendor
    expected_layer = "RedisChannelLayer" if os.environ.get("REDIS_URL") else "InMemoryChannelLayer"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith(expected_layer)
