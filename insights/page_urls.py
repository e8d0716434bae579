"""The insights pages (docs/analytics.md, "Pages"). The API of the rollups
has its own routes (insights/urls.py, docs/api.md)."""

from django.urls import path

from insights import views

urlpatterns = [
    path("insights/", views.insights_home, name="insights-home"),
    path("courses/<int:course_id>/insights/", views.course_dashboard, name="insights-course"),
    path(
        "courses/<int:course_id>/insights/learners/<int:user_id>/",
        views.learner_timeline,
        name="insights-learner",
    ),
    path("courses/<int:course_id>/progress/", views.my_progress, name="insights-my-progress"),
    path("sessions/<int:session_id>/report/", views.session_report, name="insights-session-report"),
    path("programs/<int:program_id>/insights/", views.program_overview, name="insights-program"),
]
