"""Routes of transcript search (page and API); config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from transcripts.search_api import CourseTranscriptSearchApi
from transcripts.search_views import course_transcript_search_page

urlpatterns = [
    path(
        "courses/<int:course_id>/transcripts/search/",
        course_transcript_search_page,
        name="course-transcript-search",
    ),
    path(
        "api/courses/<int:course_id>/transcripts/search/",
        CourseTranscriptSearchApi.as_view(),
        name="api-course-transcript-search",
    ),
]
