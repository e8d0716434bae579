from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from core.realtime import broadcast_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def _receive(channel: str, timeout: float = 2.0):
    import asyncio

    async def receive():
        try:
            return await asyncio.wait_for(get_channel_layer().receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(receive)()


def test_event_is_sent_only_after_commit():
    channel = _listen("test.commit")
    with transaction.atomic():
        broadcast_on_commit("test.commit", {"type": "thing.changed", "value": 1})
    assert _receive(channel) == {"type": "thing.changed", "value": 1}


def test_rolled_back_write_sends_nothing():
    channel = _listen("test.rollback")
    with pytest.raises(RuntimeError), transaction.atomic():
        broadcast_on_commit("test.rollback", {"type": "thing.changed", "value": 2})
        raise RuntimeError("write failed")
    assert _receive(channel, timeout=0.3) is None


def test_bad_group_names_and_untyped_events_are_refused():
    with pytest.raises(ValueError, match="group"):
        broadcast_on_commit("has space", {"type": "x"})
    with pytest.raises(ValueError, match="type"):
        broadcast_on_commit("ok.group", {"value": 1})


def test_a_failing_layer_never_undoes_the_commit(monkeypatch, course):
    from analytics.models import LearningEvent
    from analytics.services import event_record

    class BrokenLayer:
        async def group_send(self, group, event):
            raise ConnectionError("redis down")

    monkeypatch.setattr("core.realtime.get_channel_layer", lambda: BrokenLayer())
    with transaction.atomic():
        event_record(verb="joined", object_type="live_session", course=course)
        broadcast_on_commit("test.broken", {"type": "thing.changed"})
    assert LearningEvent.objects.count() == 1
