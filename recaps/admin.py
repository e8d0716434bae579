from django.contrib import admin

from recaps.models import Recap


@admin.register(Recap)
class RecapAdmin(admin.ModelAdmin):
    list_display = ("session", "course", "status", "version", "built_at", "published_at")
    list_filter = ("status",)
    raw_id_fields = ("session", "course", "recording", "edited_by", "published_by")
