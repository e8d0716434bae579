"""The notifications API: my notifications (paginated, unread count, mark
read), my preferences (read, change; bad input is a clear 4xx)."""

from __future__ import annotations

import pytest

from notifications.models import Notification, NotificationPreference
from tests.notifications.conftest import KIND, create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, user):
    client.force_login(user)
    return client


def test_list_is_mine_newest_first_and_paginated(kind, api, user, other_user):
    for n in range(22):
        create(user, f"n{n}")
    create(other_user, "theirs")
    page = api.get("/api/notifications/").json()
    assert (page["count"], page["unread_count"], len(page["results"])) == (22, 22, 20)
    assert page["results"][0]["title"] == "Title n21"
    assert page["next"].endswith("/api/notifications/?page=2")
    second = api.get("/api/notifications/?page=2").json()
    assert [r["title"] for r in second["results"]] == ["Title n1", "Title n0"]
    item = second["results"][-1]
    assert set(item) == {
        "id", "kind", "title", "body", "url", "open_url", "course_id", "shown_at", "read",
    }  # fmt: skip
    assert len(api.get("/api/notifications/?page_size=100").json()["results"]) == 22
    for bad in ("page_size=500", "page=0", "unread=maybe", "colour=blue"):
        answer = api.get(f"/api/notifications/?{bad}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid"), bad
    assert api.get("/api/notifications/?page=9").status_code == 404


def test_unread_count_mark_one_and_all(kind, api, user):
    first, second, third = (create(user, key) for key in "abc")
    assert api.get("/api/notifications/unread-count/").json() == {"unread_count": 3}
    answer = api.post(f"/api/notifications/{first.pk}/read/")
    assert answer.status_code == 200
    assert answer.json() == {"read": True, "unread_count": 2}
    assert api.post(f"/api/notifications/{first.pk}/read/").json() == {
        "read": False,
        "unread_count": 2,
    }
    unread = api.get("/api/notifications/?unread=true").json()
    assert [r["id"] for r in unread["results"]] == [third.pk, second.pk]
    assert api.post("/api/notifications/read-all/").json() == {"count": 2, "unread_count": 0}


def test_another_users_notification_is_404_and_untouched(kind, api, other_user):
    theirs = create(other_user, "a")
    answer = api.post(f"/api/notifications/{theirs.pk}/read/")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_anonymous_gets_403(client):
    assert client.get("/api/notifications/").status_code == 403


def test_preferences_read_and_change(kind, api, user):
    got = api.get("/api/notifications/preferences/").json()
    mine = next(k for k in got["kinds"] if k["kind"] == KIND)
    assert mine == {
        "kind": KIND,
        "label": "Test reminders",
        "description": "Reminders of the tests.",
        "channels": {"in_app": "immediately", "email": "immediately"},
    }
    assert got["quiet_hours"] == {"enabled": True, "start": "21:00", "end": "08:00"}
    changed = api.patch(
        "/api/notifications/preferences/",
        {"kinds": {KIND: {"email": "daily"}}, "quiet_hours": {"start": "22:00"}, "daily_cap": 4},
        content_type="application/json",
    )
    assert changed.status_code == 200
    body = changed.json()
    assert next(k for k in body["kinds"] if k["kind"] == KIND)["channels"]["email"] == "daily"
    assert body["quiet_hours"] == {"enabled": True, "start": "22:00", "end": "08:00"}
    assert body["daily_cap"] == 4


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"kinds": {"x.y": {"email": "daily"}}}, "unknown_kind", "Unknown notification kind"),
        ({"kinds": {KIND: {"fax": "daily"}}}, "unknown_channel", "Unknown channel"),
        ({"kinds": {KIND: {"email": "hourly"}}}, "unknown_frequency", "Unknown frequency"),
        ({"quiet_hours": {"start": "24:00"}}, "invalid_quiet_hours", "HH:MM"),
        ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "invalid_quiet_hours", "different"),
        ({"daily_cap": 0}, "invalid", ""),
        ({"colour": "blue"}, "invalid", ""),
    ],
)
def test_bad_preferences_are_400_with_a_clear_message(kind, api, body, code, words):
    answer = api.patch("/api/notifications/preferences/", body, content_type="application/json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert not NotificationPreference.objects.exists()
