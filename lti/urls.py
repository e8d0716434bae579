"""Routes of the LTI tool; config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from lti import views

urlpatterns = [
    path("lti/jwks/", views.jwks, name="lti-jwks"),
    path("lti/login/", views.oidc_login, name="lti-login"),
    path("lti/launch/", views.launch, name="lti-launch"),
    path("lti/deep-link/<str:token>/", views.deep_link, name="lti-deep-link"),
    path("lti/register/<str:token>/", views.dynamic_registration, name="lti-register"),
    path("lti/setup/", views.setup, name="lti-setup"),
    path("lti/contexts/<int:context_id>/link/", views.context_link, name="lti-context-link"),
    path(
        "lti/courses/<int:course_id>/services/", views.course_services, name="lti-course-services"
    ),
    path(
        "lti/contexts/<int:context_id>/services/",
        views.context_services,
        name="lti-context-services",
    ),
]
