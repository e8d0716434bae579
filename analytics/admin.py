from django.contrib import admin

from analytics.models import LearningEvent


@admin.register(LearningEvent)
class LearningEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only."""

    list_display = (
        "occurred_at",
        "actor",
        "verb",
        "object_type",
        "object_id",
        "course",
        "mode",
        "source",
    )
    list_filter = ("mode", "source", "verb")
    search_fields = ("verb", "object_type", "object_id", "actor__username")
    date_hierarchy = "occurred_at"
    list_select_related = ("actor", "course")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
