"""Routes of recaps (pages and API); config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from recaps import views
from recaps.api import views as api

urlpatterns = [
    path("sessions/<int:session_id>/recap/", views.recap_detail, name="recap-detail"),
    path("sessions/<int:session_id>/recap/edit/", views.recap_edit, name="recap-edit"),
    path("sessions/<int:session_id>/recap/publish/", views.recap_publish, name="recap-publish"),
    path("sessions/<int:session_id>/recap/rebuild/", views.recap_rebuild, name="recap-rebuild"),
    path("api/sessions/<int:session_id>/recap/", api.RecapApi.as_view(), name="api-recap"),
    path(
        "api/sessions/<int:session_id>/recap/edit/",
        api.RecapEditApi.as_view(),
        name="api-recap-edit",
    ),
    path(
        "api/sessions/<int:session_id>/recap/publish/",
        api.RecapPublishApi.as_view(),
        name="api-recap-publish",
    ),
]
