"""The Celery application.

Work must not be lost: a task is acknowledged only after it ran
(`acks_late`), and a worker killed mid-task hands it back to the queue
(`task_reject_on_worker_lost`). Tasks are therefore written to be idempotent
(unique constraints, not check-then-act). Retries use exponential backoff
with jitter and are capped, so a poison task cannot loop forever.
"""

from __future__ import annotations

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class RoundtableTask(Task):
    """Base task: retried with backoff on transient infrastructure errors."""

    # Transient failures worth retrying; bugs (ValueError, ...) are not.
    autoretry_for = (ConnectionError, TimeoutError, OSError)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5


app = Celery("roundtable", task_cls=RoundtableTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_retry_delay=10,
    task_time_limit=15 * 60,
    task_soft_time_limit=14 * 60,
    task_track_started=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    # A task delayed longer than the visibility timeout is redelivered; keep
    # the timeout above the longest countdown we use.
    broker_transport_options={"visibility_timeout": 6 * 3600},
    timezone="UTC",
    enable_utc=True,
)
app.autodiscover_tasks()
