"""The Celery application.

Work must not be lost: a task is acknowledged only after it ran
(`acks_late`), and a worker killed mid-task hands it back to the queue
(`task_reject_on_worker_lost` when a pool child dies; the broker's visibility
timeout when the whole worker dies: Redis puts an unacknowledged task back
`JOB_VISIBILITY_TIMEOUT` seconds after it was delivered, checked by every
worker every `JOB_RESTORE_INTERVAL` s). Tasks are therefore written to be idempotent (unique
constraints, row locks, not check-then-act). Retries use exponential backoff
with jitter and are capped, and so are redeliveries (`JOB_MAX_DELIVERIES`), so
a poison task cannot loop forever. tests/faults/ kills workers mid-job.

The visibility timeout must exceed the longest run (`JOB_TIME_LIMIT`) and the
longest countdown (retry backoff, ingest retries), or a task still running
(or waiting for its ETA) is delivered a second time.
"""

from __future__ import annotations

import logging
import os

from celery import Celery, Task
from celery.exceptions import Reject

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)

RETRY_BACKOFF_MAX = 300


def delivery_count(task_id: str, retries: int, ttl: int) -> int:
    """Count one delivery of (task, retry) in Redis; 0 without Redis."""
    from core import kv

    client = kv.sync_client()
    if client is None:
        return 0
    key = f"roundtable:deliveries:{task_id}:{retries}"
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, ttl)
    count, _ = pipe.execute()
    return int(count)


class RoundtableTask(Task):
    """Base task: retried with backoff on transient infrastructure errors."""

    # Transient failures worth retrying; bugs (ValueError, ...) are not.
    autoretry_for = (ConnectionError, TimeoutError, OSError)
    retry_backoff = 2
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = 5

    def __call__(self, *args, **kwargs):
        request = self.request
        if not request.is_eager and request.id and request.delivery_info is not None:
            from django.conf import settings

            limit = settings.JOB_MAX_DELIVERIES
            ttl = 2 * settings.JOB_VISIBILITY_TIMEOUT * (limit + 1)
            count = delivery_count(request.id, request.retries, ttl)
            if count > limit:
                # Its workers died every time (out of memory, a crash in a
                # library): stop handing it out, and let the task say so.
                logger.error(
                    "task %s[%s] was delivered %s times without finishing; dropped",
                    self.name,
                    request.id,
                    count,
                )
                self.on_deliveries_exhausted(args, kwargs)
                raise Reject(f"delivered {count} times without finishing", requeue=False)
        return super().__call__(*args, **kwargs)

    def on_deliveries_exhausted(self, args, kwargs) -> None:
        """Override to record the failure (e.g. mark a recording failed)."""


app = Celery("roundtable", task_cls=RoundtableTask)
app.config_from_object("django.conf:settings", namespace="CELERY")


def _job_settings():
    from django.conf import settings

    from core.redisconf import celery_transport_options

    limit = settings.JOB_TIME_LIMIT
    visibility = settings.JOB_VISIBILITY_TIMEOUT
    transport = {
        **celery_transport_options(settings.REDIS_TARGET),
        "visibility_timeout": visibility,
        # Redelivery after a lost worker: visibility timeout + at most this.
        "unacked_restore_interval": settings.JOB_RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
    }
    return {
        "task_time_limit": limit,
        # The soft limit leaves the task time to clean up (a tenth, at most a minute).
        "task_soft_time_limit": limit - min(60, max(1, limit // 10)),
        "broker_transport_options": transport,
        "result_backend_transport_options": celery_transport_options(settings.REDIS_TARGET),
    }


app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_retry_delay=10,
    task_track_started=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    enable_utc=True,
)


@app.on_after_configure.connect
def _job_settings_apply(sender, **kwargs) -> None:
    # Read from Django's settings once Celery first reads its configuration,
    # not when this module is imported: importing `config` (which imports
    # this module) must not need the settings module to be complete (a
    # settings module that starts `from config.settings import *` would
    # otherwise be read half-built).
    sender.conf.update(**_job_settings())


app.autodiscover_tasks()
