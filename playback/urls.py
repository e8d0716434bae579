"""Routes of the playback app (pages, media, API); config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from playback import views
from playback.api import views as api

urlpatterns = [
    path("courses/<int:course_id>/recordings/", views.course_recordings, name="course-recordings"),
    path(
        "courses/<int:course_id>/recordings/upload/",
        views.course_recording_upload,
        name="course-recording-upload",
    ),
    path("recordings/<int:recording_id>/", views.recording_detail, name="recording-detail"),
    path(
        "recordings/<int:recording_id>/rooms/",
        views.recording_room_open,
        name="recording-room-open",
    ),
    path("recordings/<int:recording_id>/media", views.recording_media, name="recording-media"),
    path(
        "recordings/<int:recording_id>/notes.md",
        views.recording_notes_export,
        name="recording-notes-export",
    ),
    path(
        "recordings/<int:recording_id>/settings/",
        views.recording_settings,
        name="recording-settings",
    ),
    path(
        "recordings/<int:recording_id>/timeline/rebuild/",
        views.recording_timeline_rebuild,
        name="recording-timeline-rebuild",
    ),
    path(
        "recordings/<int:recording_id>/analytics/",
        views.recording_analytics,
        name="recording-analytics",
    ),
    path("playback/rooms/<int:room_id>/", views.playback_room, name="playback-room"),
    # API
    path(
        "api/courses/<int:course_id>/recordings/",
        api.RecordingListApi.as_view(),
        name="api-recording-list",
    ),
    path(
        "api/courses/<int:course_id>/recordings/upload/",
        api.RecordingUploadApi.as_view(),
        name="api-recording-upload",
    ),
    path(
        "api/recordings/<int:recording_id>/", api.RecordingDetailApi.as_view(), name="api-recording"
    ),
    path(
        "api/recordings/<int:recording_id>/delete/",
        api.RecordingDeleteApi.as_view(),
        name="api-recording-delete",
    ),
    path(
        "api/recordings/<int:recording_id>/settings/",
        api.RecordingSettingsUpdateApi.as_view(),
        name="api-recording-settings",
    ),
    path(
        "api/recordings/<int:recording_id>/timeline/rebuild/",
        api.RecordingTimelineRebuildApi.as_view(),
        name="api-recording-timeline-rebuild",
    ),
    path(
        "api/recordings/<int:recording_id>/rooms/",
        api.PlaybackRoomOpenApi.as_view(),
        name="api-playback-room-open",
    ),
    path(
        "api/playback/rooms/<int:room_id>/invite/",
        api.PlaybackRoomInviteApi.as_view(),
        name="api-playback-room-invite",
    ),
    path("api/recordings/<int:recording_id>/notes/", api.NoteListApi.as_view(), name="api-notes"),
    path(
        "api/recordings/<int:recording_id>/notes/create/",
        api.NoteCreateApi.as_view(),
        name="api-note-create",
    ),
    path(
        "api/recordings/<int:recording_id>/notes/export/",
        api.NoteExportApi.as_view(),
        name="api-notes-export",
    ),
    path(
        "api/recordings/<int:recording_id>/progress/",
        api.ProgressApi.as_view(),
        name="api-recording-progress",
    ),
    path(
        "api/recordings/<int:recording_id>/analytics/",
        api.RecordingAnalyticsApi.as_view(),
        name="api-recording-analytics",
    ),
]
