"""Reachability checks of the services the platform depends on."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from celery import current_app as app
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from core.dbfailure import pool_discard_broken


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    backend: str
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict:
        data = {"ok": self.ok, "backend": self.backend, "latency_ms": round(self.latency_ms, 1)}
        if self.error:
            data["error"] = self.error
        return data


def _timed(name: str, backend: str, probe) -> CheckResult:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # any failure means "not reachable", with its reason
        return CheckResult(
            name,
            False,
            backend,
            (time.perf_counter() - started) * 1000,
            f"{type(error).__name__}: {error}",
        )
    return CheckResult(name, True, backend, (time.perf_counter() - started) * 1000)


def check_database() -> CheckResult:
    connection = connections["default"]
    pool = getattr(connection, "pool", None)

    def probe() -> None:
        if pool is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            return
        # A connection of its own from the pool, waiting no longer than the
        # check's timeout (a busy or unreachable database answers 503 in
        # time); a failure drops the pool's broken connections too.
        pool.open()
        try:
            with pool.connection(timeout=settings.HEALTHCHECK_TIMEOUT_SECONDS) as conn:
                conn.execute("SELECT 1").fetchone()
        except Exception:
            pool_discard_broken()
            raise

    return _timed("database", connection.vendor, probe)


def check_channel_layer() -> CheckResult:
    layer = get_channel_layer()
    backend = type(layer).__name__ if layer is not None else "none"
    timeout = settings.HEALTHCHECK_TIMEOUT_SECONDS

    async def roundtrip() -> None:
        if layer is None:
            raise RuntimeError("no channel layer configured")
        # A plain channel, not a process-local one (`new_channel`'s "…!…"):
        # process-local receives share one reader and its lock with the
        # process's sockets, so a busy or cancelled socket receive would hold
        # the check up.
        channel = f"healthz.{uuid.uuid4().hex}"
        token = uuid.uuid4().hex
        await asyncio.wait_for(layer.send(channel, {"type": "healthz", "token": token}), timeout)
        message = await asyncio.wait_for(layer.receive(channel), timeout)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned a different message")

    return _timed("channel_layer", backend, lambda: async_to_sync(roundtrip)())


def check_broker() -> CheckResult:
    if app.conf.task_always_eager:
        # The embedded default runs tasks in-process: there is no broker to reach.
        return CheckResult("broker", True, "eager", 0.0)
    timeout = settings.HEALTHCHECK_TIMEOUT_SECONDS

    def probe() -> None:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            # Opening a channel talks to the broker (kombu's Redis channel pings).
            connection.default_channel  # noqa: B018

    return _timed("broker", app.conf.broker_url.split(":", 1)[0], probe)


def health_report() -> tuple[bool, dict]:
    results = [check_database(), check_channel_layer(), check_broker()]
    healthy = all(result.ok for result in results)
    report = {
        "status": "ok" if healthy else "unavailable",
        "failing": [result.name for result in results if not result.ok],
        "checks": {result.name: result.as_dict() for result in results},
    }
    return healthy, report
