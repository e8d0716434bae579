"""Routes of reinforcement (pages and API); config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from reinforcement import views
from reinforcement.api import views as api

urlpatterns = [
    path("courses/<int:course_id>/review/", views.review, name="reinforcement-review"),
    path(
        "courses/<int:course_id>/review/sessions/<int:session_id>/",
        views.review_session,
        name="reinforcement-review-session",
    ),
    path("courses/<int:course_id>/followups/", views.followups, name="reinforcement-followups"),
    path(
        "courses/<int:course_id>/reinforcement/",
        views.course_reinforcement,
        name="reinforcement-course",
    ),
    path("sessions/<int:session_id>/followup/", views.session_plan, name="reinforcement-plan"),
    path(
        "sessions/<int:session_id>/followup/act/",
        views.session_plan_act,
        name="reinforcement-plan-act",
    ),
    # API
    path(
        "api/courses/<int:course_id>/review/due/",
        api.MyDueCardsApi.as_view(),
        name="api-review-due",
    ),
    path(
        "api/review/cards/<int:card_id>/answer/",
        api.CardAnswerApi.as_view(),
        name="api-review-answer",
    ),
    path(
        "api/courses/<int:course_id>/review/practice/",
        api.PracticeAnswerApi.as_view(),
        name="api-review-practice",
    ),
    path(
        "api/courses/<int:course_id>/followups/",
        api.MyFollowupsApi.as_view(),
        name="api-followups",
    ),
    path(
        "api/sessions/<int:session_id>/followup-plan/",
        api.FollowupPlanApi.as_view(),
        name="api-followup-plan",
    ),
    path(
        "api/sessions/<int:session_id>/followup-plan/hold/",
        api.FollowupPlanHoldApi.as_view(),
        name="api-followup-plan-hold",
    ),
    path(
        "api/sessions/<int:session_id>/followup-plan/drop/",
        api.FollowupPlanDropApi.as_view(),
        name="api-followup-plan-drop",
    ),
    path(
        "api/sessions/<int:session_id>/followup-plan/message/",
        api.FollowupPlanMessageApi.as_view(),
        name="api-followup-plan-message",
    ),
    path(
        "api/sessions/<int:session_id>/followup-plan/send/",
        api.FollowupPlanSendApi.as_view(),
        name="api-followup-plan-send",
    ),
    path(
        "api/courses/<int:course_id>/reinforcement/settings/",
        api.CourseSettingsApi.as_view(),
        name="api-reinforcement-settings",
    ),
    path(
        "api/courses/<int:course_id>/reinforcement/stats/",
        api.CourseReviewStatsApi.as_view(),
        name="api-reinforcement-stats",
    ),
]
