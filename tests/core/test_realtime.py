"""core/realtime.py's after-commit publishing: a frame leaves only once its
write commits, never for a rolled-back one, and a failed send never undoes
the commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.realtime import forward_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        "core.fanout.publish", lambda groups, text, **kw: sent.append((groups, text))
    )
    return sent


def test_a_frame_is_sent_only_after_commit(published):
    with transaction.atomic():
        forward_on_commit(["test.commit"], '{"type":"thing.changed"}')
        assert published == []
    assert published == [(["test.commit"], '{"type":"thing.changed"}')]


def test_a_rolled_back_write_sends_nothing(published):
    with pytest.raises(RuntimeError), transaction.atomic():
        forward_on_commit(["test.rollback"], "{}")
        raise RuntimeError("write failed")
    assert published == []


def test_bad_group_names_are_refused(published):
    with pytest.raises(ValueError, match="group"):
        forward_on_commit(["has space"], "{}")


def test_a_failing_redis_never_undoes_the_commit(monkeypatch, course):
    from analytics.models import LearningEvent
    from analytics.services import event_record

    class BrokenRedis:
        def publish(self, channel, payload):
            raise ConnectionError("redis down")

    monkeypatch.setattr("core.kv.sync_client", lambda: BrokenRedis())
    with transaction.atomic():
        event_record(verb="joined", object_type="live_session", course=course)
        forward_on_commit(["test.broken"], "{}")
    assert LearningEvent.objects.count() == 1
