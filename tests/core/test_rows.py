"""core/rows.py: the live room's one-row statements built once, without the
query compiler. Each must read and write exactly what the ORM would."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import LearningEvent
from analytics.services import event_record
from classroom.models import LiveSession, RoomMode
from core import rows
from tests.factories import LiveSessionFactory, TableFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_a_locked_row_is_the_row_the_orm_reads(course):
    table = TableFactory(course=course)
    session = LiveSessionFactory(
        course=course,
        mode=RoomMode.VISITING,
        mode_table=table,
        mode_changed_at=timezone.now() - timedelta(minutes=3),
        podium_addresses_all=True,
        stream_heads={"all": 7, f"table.{table.pk}": 5, "ünïcode": 1},
        seq=7,
    )
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = rows.row_lock(LiveSession, session.pk)
    assert _fields(locked) == _fields(LiveSession.objects.get(pk=session.pk))
    assert locked._state.adding is False and locked._state.db == "default"
    assert locked.mode_table == table  # relations load as from the ORM
    assert len(queries) == 1
    if connection.vendor == "postgresql":
        assert queries[0]["sql"].endswith("FOR UPDATE")
    assert rows.row_lock(LiveSession, session.pk + 10_000) is None


def test_an_update_writes_the_named_attributes_only(course):
    session = LiveSessionFactory(course=course, seq=3, stream_heads={"all": 3})
    stale = LiveSession.objects.get(pk=session.pk)
    table = TableFactory(course=course)
    session.seq = 4
    session.stream_heads = {"all": 4, "table.1": 4}
    session.mode_table_id = table.pk
    session.title = "not saved"
    rows.row_update(session, ("seq", "stream_heads", "mode_table_id"))
    stored = LiveSession.objects.get(pk=session.pk)
    assert (stored.seq, stored.stream_heads, stored.mode_table_id) == (
        4,
        {"all": 4, "table.1": 4},
        table.pk,
    )
    assert stored.title == stale.title


@pytest.mark.django_db(transaction=True)
def test_an_insert_that_conflicts_stores_nothing_and_leaves_the_transaction_usable(course):
    event_id = uuid.uuid4()
    first = LearningEvent(
        event_id=event_id, occurred_at=timezone.now(), verb="joined", object_type="live_session"
    )
    with transaction.atomic():
        assert rows.row_insert(first, on_conflict="event_id") is True
        assert first.pk and first._state.adding is False
        assert first.recorded_at is not None  # auto_now_add ran
        again = LearningEvent(
            event_id=event_id, occurred_at=timezone.now(), verb="left", object_type="live_session"
        )
        assert rows.row_insert(again, on_conflict="event_id") is False
        assert again.pk is None
        assert LearningEvent.objects.filter(event_id=event_id).count() == 1  # still usable
    stored = LearningEvent.objects.get(event_id=event_id)
    assert _fields(stored) == _fields(first)


@pytest.mark.django_db(transaction=True)
def test_recording_an_event_twice_inside_a_transaction_returns_the_stored_one(course):
    event_id = uuid.uuid4()
    with transaction.atomic():
        event, created = event_record(
            verb="joined", object_type="live_session", object_id=1, course=course, event_id=event_id
        )
        replay, created_again = event_record(
            verb="joined", object_type="live_session", object_id=1, course=course, event_id=event_id
        )
        assert (created, created_again) == (True, False)
        assert replay.pk == event.pk
        fresh, _ = event_record(verb="left", object_type="live_session", course=course)
    assert LearningEvent.objects.filter(pk__in=[event.pk, fresh.pk]).count() == 2
