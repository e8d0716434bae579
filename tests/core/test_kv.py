"""core/kv.py: the fixed-window and burst counters, on Redis and on Django's
cache (the path taken without REDIS_URL)."""

from __future__ import annotations

import pytest

from core import kv
from tests.conftest import require


@pytest.fixture(params=["redis", "django_cache"])
def backend(request, settings):
    if request.param == "redis":
        require(bool(kv.redis_url()), "REDIS_URL is not set")
    else:
        settings.REDIS_URL = ""
    kv.reset_for_tests()
    yield request.param
    kv.reset_for_tests()


def test_the_backend_is_the_one_configured(backend):
    assert (kv.sync_client() is None) == (backend == "django_cache")


def test_window_hits_count_each_key_on_its_own(backend):
    assert [kv.window_hits("t:a", 60) for _ in range(3)] == [1, 2, 3]
    assert kv.window_hits("t:b", 60) == 1


def test_a_new_window_starts_from_one(backend, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(kv.time, "time", lambda: now[0])
    kv.window_hits("t:w", 10)
    assert kv.window_hits("t:w", 10) == 2
    now[0] += 10
    assert kv.window_hits("t:w", 10) == 1


def test_counters_are_taken_once_and_reset(backend):
    for _ in range(3):
        kv.counter_add("t:clap")
    kv.counter_add("t:laugh")
    assert kv.counters_take(["t:clap", "t:laugh", "t:none"]) == {"t:clap": 3, "t:laugh": 1}
    assert kv.counters_take(["t:clap", "t:laugh"]) == {}
    kv.counter_add("t:clap")
    assert kv.counters_take(["t:clap"]) == {"t:clap": 1}
