"""The xAPI feed against a real LRS (Ralph's server, tests/insights/lrs_server.py)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.test import override_settings

from analytics.selectors import event_list
from insights import tasks
from insights.lrs import LrsError, lrs_push, lrs_status_get
from insights.models import Bookmark
from tests.conftest import free_port
from tests.insights.lrs_server import PASSWORD, USERNAME, ralph_lrs, statements_get

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def lrs_url(tmp_path_factory):
    with ralph_lrs(tmp_path_factory.mktemp("lrs"), free_port()) as url:
        yield url


def _settings(url: str):
    return override_settings(
        INSIGHTS_LRS_ENDPOINT=url,
        INSIGHTS_LRS_USERNAME=USERNAME,
        INSIGHTS_LRS_PASSWORD=PASSWORD,
        # One batch: Ralph 5.1.0's file-system backend accepts one write per
        # file (a second POST that holds new statements gets a 500), so the
        # real LRS sees one batch; several batches go the same way, one bookmark move each.
        INSIGHTS_LRS_BATCH=1000,
        INSIGHTS_LRS_SETTLE_SECONDS=0,
    )


def test_pushing_twice_stores_each_statement_once(history, lrs_url):
    events = set(str(e) for e in event_list().values_list("event_id", flat=True))
    with _settings(lrs_url):
        first = tasks.lrs_push.apply().get()
        second = tasks.lrs_push.apply().get()
        assert first["pushed"] == len(events)
        assert second["pushed"] == 0
        # A crash after the LRS took a batch but before the bookmark moved:
        # the batch goes again and the LRS still holds each statement once.
        Bookmark.objects.filter(name="lrs").update(last_event_id=0)
        assert lrs_push()["pushed"] == len(events)
        status = lrs_status_get()
    held = Counter(statement["id"] for statement in statements_get(lrs_url))
    mine = {k: v for k, v in held.items() if k in events}
    assert set(mine) == events
    assert set(mine.values()) == {1}
    assert status["waiting"] == 0 and status["failures_in_a_row"] == 0


def test_an_unreachable_lrs_is_recorded_and_nothing_moves(history):
    with _settings(f"http://127.0.0.1:{free_port()}/xAPI/"):
        with pytest.raises(LrsError):
            lrs_push()
        status = lrs_status_get()
    assert status["last_event_id"] == 0
    assert status["failures_in_a_row"] == 1
    assert "unreachable" in status["last_error"]
