"""The notification pages: the bell in the header, my notifications, opening
one (the redirect that records the open), preferences, and the unsubscribe
page a signed link leads to without logging in."""

from __future__ import annotations

import pytest

from analytics.models import LearningEvent
from notifications.models import DeliveryStatus, NotificationPreference
from notifications.unsubscribe import unsubscribe_token_make
from tests.notifications.conftest import KIND, create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def test_the_header_bell_shows_the_unread_count(kind, browser_client, user):
    create(user, "a")
    create(user, "b")
    page = browser_client.get("/notifications/").content.decode()
    assert f'class="bell" data-user-id="{user.pk}"' in page
    assert "Notifications, 2 unread" in page
    assert 'data-bell-badge aria-hidden="true" >2</span>' in page


def test_the_list_links_each_through_the_open_endpoint(kind, browser_client, user, other_user):
    mine = create(user, "a", title="Review supply curves")
    create(other_user, "b", title="Someone else's")
    page = browser_client.get("/notifications/").content.decode()
    assert f'href="/notifications/{mine.pk}/open/"' in page
    assert "Review supply curves" in page and "Someone else" not in page


def test_opening_records_the_open_and_redirects_to_the_target(kind, browser_client, user):
    notification = create(user, "a", url="/courses/3/")
    answer = browser_client.get(f"/notifications/{notification.pk}/open/?via=email")
    assert (answer.status_code, answer["Location"]) == (302, "/courses/3/")
    event = LearningEvent.objects.get(verb="opened_notification")
    assert event.extensions == {"kind": KIND, "via": "email", "first": True}
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_opening_someone_elses_is_404_and_records_nothing(kind, browser_client, other_user):
    theirs = create(other_user, "a")
    assert browser_client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    assert not LearningEvent.objects.filter(verb="opened_notification").exists()


def test_an_email_link_asks_for_a_login_first(kind, client, user):
    notification = create(user, "a")
    answer = client.get(f"/notifications/{notification.pk}/open/?via=email")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/?next=/notifications/")


def test_mark_read_from_the_page(kind, browser_client, user):
    notification = create(user, "a")
    answer = browser_client.post(f"/notifications/{notification.pk}/read/")
    assert answer.status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_preferences_page_saves_the_grid_and_quiet_hours(kind, browser_client, user):
    page = browser_client.get("/notifications/preferences/").content.decode()
    assert f'name="{KIND}::email"' in page and "America/New_York" in page
    answer = browser_client.post(
        "/notifications/preferences/",
        {
            f"{KIND}::email": "weekly",
            f"{KIND}::in_app": "immediately",
            "quiet_enabled": "on",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "daily_cap": "5",
        },
    )
    assert answer.status_code == 302
    assert NotificationPreference.objects.get(kind=KIND, channel="email").frequency == "weekly"
    assert user.notification_settings.daily_cap == 5


def test_a_bad_preferences_form_says_why_and_saves_nothing(kind, browser_client):
    answer = browser_client.post(
        "/notifications/preferences/",
        {f"{KIND}::email": "hourly", "quiet_start": "22:00", "quiet_end": "07:00"},
    )
    assert answer.status_code == 400
    assert "Unknown frequency" in answer.content.decode()
    assert not NotificationPreference.objects.exists()


def test_unsubscribe_without_logging_in(kind, client, user):
    pending = create(user, "a")
    url = f"/notifications/unsubscribe/{unsubscribe_token_make(user=user, kinds=[KIND])}/"
    shown = client.get(url)
    assert shown.status_code == 200
    assert "Test reminders" in shown.content.decode()
    assert pending.deliveries.get(channel="email").status == DeliveryStatus.PENDING  # GET: nothing
    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Done." in done.content.decode()
    assert pending.deliveries.get(channel="email").status == DeliveryStatus.CANCELLED


def test_a_tampered_unsubscribe_link_is_a_400_page(kind, client, user):
    token = unsubscribe_token_make(user=user, kinds=[KIND])
    answer = client.post(f"/notifications/unsubscribe/{token[:-3]}xyz/")
    assert answer.status_code == 400
    assert "not valid" in answer.content.decode()
    assert not NotificationPreference.objects.exists()
