"""Routes of the transcripts app (pages, caption files, API); config/urls.py includes them."""

from __future__ import annotations

from django.urls import path

from transcripts import views
from transcripts.api import views as api

app_name = "transcripts"

urlpatterns = [
    path("recordings/<int:recording_id>/captions.vtt", views.captions_vtt, name="captions-vtt"),
    path(
        "recordings/<int:recording_id>/transcript.<str:extension>",
        views.transcript_download,
        name="download",
    ),
    path("recordings/<int:recording_id>/transcript/", views.transcript_editor, name="editor"),
    path(
        "recordings/<int:recording_id>/transcript/cues/<int:cue_id>/",
        views.cue_edit,
        name="cue-edit",
    ),
    path(
        "recordings/<int:recording_id>/transcript/upload/",
        views.captions_upload_view,
        name="upload",
    ),
    path(
        "recordings/<int:recording_id>/transcript/transcribe/",
        views.transcribe_again,
        name="transcribe",
    ),
    path("account/captions/", views.captions_preference, name="preference"),
    # API
    path(
        "api/recordings/<int:recording_id>/transcript/",
        api.TranscriptApi.as_view(),
        name="api-transcript",
    ),
    path(
        "api/recordings/<int:recording_id>/transcript/cues/",
        api.CueListApi.as_view(),
        name="api-cues",
    ),
    path(
        "api/recordings/<int:recording_id>/transcript/cues/<int:cue_id>/",
        api.CueUpdateApi.as_view(),
        name="api-cue",
    ),
    path(
        "api/recordings/<int:recording_id>/transcript/revisions/",
        api.RevisionListApi.as_view(),
        name="api-revisions",
    ),
    path(
        "api/recordings/<int:recording_id>/transcript/upload/",
        api.CaptionsUploadApi.as_view(),
        name="api-upload",
    ),
    path(
        "api/recordings/<int:recording_id>/transcript/transcribe/",
        api.TranscribeApi.as_view(),
        name="api-transcribe",
    ),
    path("api/me/captions/", api.CaptionsPreferenceApi.as_view(), name="api-preference"),
]
