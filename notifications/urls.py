"""Pages and API routes of the notifications app; config/urls.py includes them."""

from __future__ import annotations

from django.urls import include, path

from notifications import views
from notifications.api import views as api

app_name = "notifications"

pages = [
    path("", views.notification_list, name="list"),
    path("preferences/", views.preferences_view, name="preferences"),
    path("read-all/", views.notifications_read_all_view, name="read-all"),
    path("<int:notification_id>/open/", views.notification_open_view, name="open"),
    path("<int:notification_id>/read/", views.notification_read_view, name="read"),
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
]

api_patterns = [
    path("", api.NotificationListApi.as_view(), name="api-list"),
    path("unread-count/", api.UnreadCountApi.as_view(), name="api-unread-count"),
    path("read-all/", api.NotificationReadAllApi.as_view(), name="api-read-all"),
    path("<int:notification_id>/read/", api.NotificationReadApi.as_view(), name="api-read"),
    path("preferences/", api.PreferencesApi.as_view(), name="api-preferences"),
]

urlpatterns = [
    path("notifications/", include(pages)),
    path("api/notifications/", include(api_patterns)),
]
