from django.contrib import admin

from notifications.models import Delivery, Digest, Notification, NotificationPreference


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    readonly_fields = (
        "channel",
        "frequency",
        "status",
        "due_at",
        "digest",
        "attempts",
        "sent_at",
        "last_error",
    )
    fields = readonly_fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "kind", "title", "created_at", "shown_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("key", "title", "user__username", "user__email")
    raw_id_fields = ("user", "course")
    inlines = [DeliveryInline]


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "channel", "frequency", "due_at", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "frequency")
    raw_id_fields = ("user",)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "channel", "frequency")
    raw_id_fields = ("user",)
