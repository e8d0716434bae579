from django.contrib import admin

from classroom.models import LiveSession


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "state", "scheduled_start", "scheduled_end")
    list_filter = ("state", "course")
    search_fields = ("title", "course__code")
    date_hierarchy = "scheduled_start"
    list_select_related = ("course",)
    readonly_fields = ("started_at", "ended_at", "started_by", "ended_by")
