"""Two first launches of the same user at the same moment (a double click, two
tabs): both land, one user, one course."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from courses.models import Course, Enrollment
from lti import services
from lti.models import LtiIdentity
from tests.conftest import require
from tests.lti.conftest import INSTRUCTOR, login, platform_auth


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_launches_both_land(platform, registration, monkeypatch):
    # Two transactions really in flight at once: SQLite runs one writer at a
    # time (the second launch waits for the first; nothing to race).
    require(connection.vendor == "postgresql", "two concurrent transactions need PostgreSQL")
    clients, fields = [], []
    for _ in range(2):
        client = Client()
        hint = platform.plan(platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR]))
        fields.append(platform_auth(login(client, platform, hint)["Location"]))
        clients.append(client)
    barrier = threading.Barrier(2, timeout=10)
    real_user_create = services.user_create
    calls = []

    def user_create_together(**kwargs):
        calls.append(1)
        if len(calls) <= 2:
            barrier.wait()  # both launches found no identity; now both create
        return real_user_create(**kwargs)

    monkeypatch.setattr(services, "user_create", user_create_together)
    results = [None, None]

    def run(index):
        try:
            results[index] = clients[index].post("/lti/launch/", fields[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(calls) == 2  # both really raced into user creation
    assert [r.status_code for r in results] == [302, 302], [r.content[:300] for r in results]
    assert LtiIdentity.objects.count() == 1
    assert Course.objects.count() == 1 and Enrollment.objects.count() == 1
