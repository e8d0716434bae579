"""Routes of the insights API; config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from insights.api import views as api

P = "api/insights/"
urlpatterns = [
    path(
        f"{P}sessions/<int:session_id>/report/",
        api.SessionReportApi.as_view(),
        name="api-insights-session-report",
    ),
    path(
        f"{P}sessions/<int:session_id>/live/",
        api.LiveEngagementApi.as_view(),
        name="api-insights-live",
    ),
    path(
        f"{P}sessions/<int:session_id>/export.csv",
        api.SessionCsvApi.as_view(),
        name="api-insights-session-csv",
    ),
    path(
        f"{P}courses/<int:course_id>/dashboard/",
        api.CourseDashboardApi.as_view(),
        name="api-insights-dashboard",
    ),
    path(
        f"{P}courses/<int:course_id>/matrix/",
        api.CourseMatrixApi.as_view(),
        name="api-insights-matrix",
    ),
    path(
        f"{P}courses/<int:course_id>/trends/",
        api.CourseTrendsApi.as_view(),
        name="api-insights-trends",
    ),
    path(
        f"{P}courses/<int:course_id>/at-risk/",
        api.AtRiskListApi.as_view(),
        name="api-insights-at-risk",
    ),
    path(
        f"{P}courses/<int:course_id>/tables/",
        api.TableViewApi.as_view(),
        name="api-insights-tables",
    ),
    path(
        f"{P}courses/<int:course_id>/learners/<int:user_id>/timeline/",
        api.LearnerTimelineApi.as_view(),
        name="api-insights-timeline",
    ),
    path(
        f"{P}courses/<int:course_id>/progress/",
        api.LearnerProgressApi.as_view(),
        name="api-insights-progress",
    ),
    path(
        f"{P}courses/<int:course_id>/export.csv",
        api.CourseCsvApi.as_view(),
        name="api-insights-course-csv",
    ),
    path(
        f"{P}courses/<int:course_id>/xapi.jsonl",
        api.CourseXapiApi.as_view(),
        name="api-insights-xapi",
    ),
    path(
        f"{P}courses/<int:course_id>/rollups/sessions/",
        api.SessionRollupListApi.as_view(),
        name="api-insights-rollups-sessions",
    ),
    path(
        f"{P}courses/<int:course_id>/rollups/recordings/",
        api.RecordingRollupListApi.as_view(),
        name="api-insights-rollups-recordings",
    ),
    path(
        f"{P}courses/<int:course_id>/rollups/learners/",
        api.CourseRollupListApi.as_view(),
        name="api-insights-rollups-learners",
    ),
    path(
        f"{P}programs/<int:program_id>/",
        api.ProgramOverviewApi.as_view(),
        name="api-insights-program",
    ),
    path(f"{P}lrs/status/", api.LrsStatusApi.as_view(), name="api-insights-lrs-status"),
]
