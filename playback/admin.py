from __future__ import annotations

from django.contrib import admin

from playback.models import (
    Note,
    PlaybackAnswer,
    PlaybackRoom,
    Recording,
    RecordingSpan,
    TimelineEntry,
    WatchProgress,
)


class RecordingSpanInline(admin.TabularInline):
    model = RecordingSpan
    extra = 0


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "course",
        "live_session",
        "status",
        "source",
        "duration_ms",
        "created_at",
    )
    list_filter = ("status", "source")
    search_fields = ("title", "course__code")
    raw_id_fields = ("course", "live_session", "created_by")
    readonly_fields = ("timeline_built_at", "attempts", "created_at", "updated_at")
    inlines = [RecordingSpanInline]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("recording", "offset_ms", "kind", "audience", "is_chapter", "title")
    list_filter = ("kind", "audience")
    raw_id_fields = ("recording", "table")


@admin.register(PlaybackRoom)
class PlaybackRoomAdmin(admin.ModelAdmin):
    list_display = ("id", "recording", "kind", "table", "host", "control", "state", "position_ms")
    list_filter = ("kind", "state", "control")
    raw_id_fields = ("recording", "table", "host", "waiting_poll")


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("recording", "author", "visibility", "media_ms", "created_at", "deleted_at")
    list_filter = ("visibility",)
    raw_id_fields = ("recording", "author", "room", "table")


@admin.register(PlaybackAnswer)
class PlaybackAnswerAdmin(admin.ModelAdmin):
    list_display = ("poll", "user", "recording", "is_correct", "score", "answered_at")
    raw_id_fields = ("poll", "user", "recording", "room")


@admin.register(WatchProgress)
class WatchProgressAdmin(admin.ModelAdmin):
    list_display = ("recording", "user", "watched_ms", "position_ms", "completed_at", "updated_at")
    raw_id_fields = ("recording", "user")
