from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.throttling import AnonRateThrottle

from classroom.api.polls import (
    BankQuestionListApi,
    PollResultsApi,
    SessionPlanApi,
    SessionPlanItemApi,
    SessionPlanReorderApi,
)
from classroom.api.views import LiveSessionListApi, LiveSessionScheduleApi
from classroom.views import courses as classroom_views
from classroom.views import live as live_views
from classroom.views import plan as plan_views
from classroom.views import seating as seating_views
from classroom.views import transcript as transcript_views
from core.api.parsers import JSONParser
from core.views import healthz
from courses.api.views import CourseDetailApi, CourseListApi, MeApi
from insights.page_urls import urlpatterns as insights_page_patterns
from insights.urls import urlpatterns as insights_patterns
from livemedia import views as media_views
from lti.urls import urlpatterns as lti_patterns
from playback.urls import urlpatterns as playback_patterns
from recaps.urls import urlpatterns as recap_patterns
from reinforcement.urls import urlpatterns as reinforcement_patterns
from transcripts.search_urls import urlpatterns as transcript_search_patterns


class TokenObtainThrottle(AnonRateThrottle):
    scope = "token_obtain"


class TokenObtainApi(ObtainAuthToken):
    """Exchange username and password for an API token (rate limited)."""

    throttle_classes = [TokenObtainThrottle]
    # Open to anyone, with nothing else to authenticate (the schema says so).
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # ObtainAuthToken names DRF's own parsers; use the API's JSON one
    # (core/api/parsers.py) and take forms as well.
    parser_classes = [JSONParser, FormParser, MultiPartParser]


api_patterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("api/me/", MeApi.as_view(), name="api-me"),
    path("api/courses/", CourseListApi.as_view(), name="api-course-list"),
    path("api/courses/<int:course_id>/", CourseDetailApi.as_view(), name="api-course-detail"),
    path(
        "api/courses/<int:course_id>/sessions/",
        LiveSessionListApi.as_view(),
        name="api-session-list",
    ),
    path(
        "api/courses/<int:course_id>/sessions/schedule/",
        LiveSessionScheduleApi.as_view(),
        name="api-session-schedule",
    ),
    path("api/courses/<int:course_id>/questions/", BankQuestionListApi.as_view(), name="api-bank"),
    path("api/sessions/<int:session_id>/plan/", SessionPlanApi.as_view(), name="api-plan"),
    path(
        "api/sessions/<int:session_id>/plan/reorder/",
        SessionPlanReorderApi.as_view(),
        name="api-plan-reorder",
    ),
    path(
        "api/sessions/<int:session_id>/plan/<int:item_id>/",
        SessionPlanItemApi.as_view(),
        name="api-plan-item",
    ),
    path(
        "api/sessions/<int:session_id>/polls/<int:poll_id>/results/",
        PollResultsApi.as_view(),
        name="api-poll-results",
    ),
]

account_patterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("", classroom_views.home, name="home"),
    path("courses/<int:course_id>/", classroom_views.course_detail, name="course-detail"),
    path("courses/<int:course_id>/seating/", seating_views.seating, name="course-seating"),
    path("sessions/<int:session_id>/live/", live_views.session_live, name="session-live"),
    path("sessions/<int:session_id>/plan/", plan_views.session_plan, name="session-plan"),
    path("sessions/<int:session_id>/chat/", transcript_views.session_chat, name="session-chat"),
    path("sessions/<int:session_id>/media/", media_views.media_room, name="session-media"),
    path("media/janus-events/", media_views.janus_events, name="media-janus-events"),
    path("media/status/", media_views.media_health, name="media-status"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    *account_patterns,
    *api_patterns,
    *playback_patterns,
    *lti_patterns,
    path("", include("notifications.urls")),
    path("", include("transcripts.urls")),
    *insights_patterns,
    *insights_page_patterns,
    *reinforcement_patterns,
    *transcript_search_patterns,
    *recap_patterns,
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
