"""Pushing the event log to a Learning Record Store (docs/analytics.md#the-lrs-feed).

The bookmark ("lrs") holds the id of the last event the LRS accepted. It is
locked for the whole push, so two workers never push the same batch, and it
moves only after the LRS answered 200 for a batch. Statement ids are event
ids: a batch sent again after a crash between the LRS's answer and our
commit is recognised by the LRS (xAPI: a statement id it holds, with the same
content, is not stored again).
"""

from __future__ import annotations

from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics.models import LearningEvent
from insights.models import Bookmark
from insights.xapi import event_rows, recording_lengths, statement_from_event

LRS_BOOKMARK = "lrs"
XAPI_VERSION = "1.0.3"
MAX_BATCHES_PER_RUN = 20


class LrsError(Exception):
    """The LRS could not take a batch (retried by the task with backoff)."""


def lrs_configured() -> bool:
    return bool(settings.INSIGHTS_LRS_ENDPOINT)


def _statements_url() -> str:
    return settings.INSIGHTS_LRS_ENDPOINT.rstrip("/") + "/statements"


def lrs_push(*, batch: int | None = None, settle: timedelta | None = None) -> dict:
    """Push every settled event past the bookmark, batch by batch. Returns
    {"pushed": n, "last_event_id": id}; raises LrsError on a failed batch
    (after recording it on the bookmark)."""
    if not lrs_configured():
        return {"pushed": 0, "last_event_id": None, "configured": False}
    batch = batch or settings.INSIGHTS_LRS_BATCH
    # Events younger than this wait for the next run: an id taken by a
    # transaction still open must not be jumped over (ids are taken at insert).
    if settle is None:
        settle = timedelta(seconds=settings.INSIGHTS_LRS_SETTLE_SECONDS)
    pushed = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        try:
            count = _push_one_batch(batch, settle)
        except LrsError as error:
            _failure_record(str(error))
            raise
        pushed += count
        if count < batch:
            break
    bookmark = Bookmark.objects.get(name=LRS_BOOKMARK)
    return {"pushed": pushed, "last_event_id": bookmark.last_event_id, "configured": True}


def _push_one_batch(batch: int, settle: timedelta) -> int:
    Bookmark.objects.get_or_create(name=LRS_BOOKMARK)
    with transaction.atomic():
        bookmark = Bookmark.objects.select_for_update().get(name=LRS_BOOKMARK)
        now = timezone.now()
        events = LearningEvent.objects.filter(
            id__gt=bookmark.last_event_id, recorded_at__lt=now - settle
        ).order_by("id")[:batch]
        rows = list(event_rows(events))
        ids = list(events.values_list("id", flat=True))
        bookmark.last_run_at = now
        if not rows:
            bookmark.save(update_fields=["last_run_at", "updated_at"])
            return 0
        lengths = recording_lengths({r["recording_id"] for r in rows if r["recording_id"]})
        statements = [statement_from_event(row, lengths=lengths) for row in rows]
        _post(statements)
        bookmark.last_event_id = max(ids)
        bookmark.processed += len(rows)
        bookmark.last_success_at = timezone.now()
        bookmark.last_error = ""
        bookmark.failures = 0
        bookmark.save()
    return len(rows)


def _post(statements: list[dict]) -> None:
    try:
        response = requests.post(
            _statements_url(),
            json=statements,
            auth=(settings.INSIGHTS_LRS_USERNAME, settings.INSIGHTS_LRS_PASSWORD),
            headers={"X-Experience-API-Version": XAPI_VERSION},
            timeout=settings.INSIGHTS_LRS_TIMEOUT,
        )
    except requests.RequestException as error:
        raise LrsError(f"LRS unreachable: {error}") from error
    if response.status_code not in (200, 204):
        raise LrsError(f"LRS answered {response.status_code}: {response.text[:300]}")


def _failure_record(message: str) -> None:
    Bookmark.objects.get_or_create(name=LRS_BOOKMARK)
    with transaction.atomic():
        bookmark = Bookmark.objects.select_for_update().get(name=LRS_BOOKMARK)
        bookmark.last_error = message[:2000]
        bookmark.failures += 1
        bookmark.last_run_at = timezone.now()
        bookmark.save()


def lrs_status_get() -> dict:
    bookmark = Bookmark.objects.filter(name=LRS_BOOKMARK).first()
    waiting = LearningEvent.objects.filter(id__gt=bookmark.last_event_id if bookmark else 0).count()
    return {
        "configured": lrs_configured(),
        "endpoint": settings.INSIGHTS_LRS_ENDPOINT,
        "last_event_id": bookmark.last_event_id if bookmark else 0,
        "pushed": bookmark.processed if bookmark else 0,
        "waiting": waiting,
        "last_run_at": bookmark.last_run_at if bookmark else None,
        "last_success_at": bookmark.last_success_at if bookmark else None,
        "last_error": bookmark.last_error if bookmark else "",
        "failures_in_a_row": bookmark.failures if bookmark else 0,
    }
