from __future__ import annotations

import os

import pytest
from channels.layers import channel_layers

pytestmark = pytest.mark.django_db

WRONG_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_is_200_when_everything_is_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_reports_the_backends_in_use(client):
    checks = client.get("/healthz").json()["checks"]
    if os.environ.get("REDIS_URL"):
        assert checks["channel_layer"]["backend"] == "RedisChannelLayer"
        assert checks["broker"]["backend"] == "redis"
    else:
        assert checks["channel_layer"]["backend"] == "InMemoryChannelLayer"
        assert checks["broker"]["backend"] == "eager"


def test_healthz_is_503_naming_a_channel_layer_on_a_wrong_redis_port(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [WRONG_REDIS]},
        }
    }
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["channel_layer"]
    assert body["checks"]["channel_layer"]["ok"] is False
    assert "error" in body["checks"]["channel_layer"]
    assert body["checks"]["database"]["ok"] is True


def _broker_pools_reset(app) -> None:
    """Forget the broker connection pools (kombu keeps them per connection, and a
    closed pool refuses every later acquire: later tests use app.control)."""
    from kombu import pools

    pools.reset()
    app._pool = None


def test_healthz_is_503_naming_the_broker_when_it_is_unreachable(client):
    from config.celery import app

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = WRONG_REDIS, False
    _broker_pools_reset(app)
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
        _broker_pools_reset(app)
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_healthz_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    from core import health

    connection = health.connections["default"]

    def refused(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    # With PostgreSQL the check borrows from the process's pool; on SQLite it
    # uses the connection (tests/faults stops a real PostgreSQL instead).
    if getattr(connection, "pool", None) is not None:
        monkeypatch.setattr(connection.pool, "connection", refused)
    else:
        monkeypatch.setattr(connection, "cursor", refused)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
