from django.contrib import admin

from insights.models import Bookmark


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):
    """The rollup job's and the LRS feed's progress and last error (read-only)."""

    list_display = (
        "name",
        "last_event_id",
        "processed",
        "last_run_at",
        "last_success_at",
        "failures",
        "last_error",
    )
    readonly_fields = [f.name for f in Bookmark._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
