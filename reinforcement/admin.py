from django.contrib import admin

from reinforcement.models import (
    FollowUpItem,
    FollowUpPlan,
    ReinforcementSettings,
    ReviewAnswer,
    ReviewCard,
)


@admin.register(ReinforcementSettings)
class ReinforcementSettingsAdmin(admin.ModelAdmin):
    list_display = ("course", "is_enabled", "hold_minutes", "desired_retention", "course_ends_on")
    raw_id_fields = ("course", "updated_by")


@admin.register(FollowUpPlan)
class FollowUpPlanAdmin(admin.ModelAdmin):
    list_display = ("session", "course", "status", "hold_until", "sent_at")
    list_filter = ("status",)
    raw_id_fields = ("session", "course", "sent_by", "edited_by")


@admin.register(FollowUpItem)
class FollowUpItemAdmin(admin.ModelAdmin):
    list_display = ("plan", "user", "kind", "key", "due_at")
    list_filter = ("kind",)
    raw_id_fields = ("plan", "user", "course")


@admin.register(ReviewCard)
class ReviewCardAdmin(admin.ModelAdmin):
    list_display = ("user", "question_key", "state", "due", "reps", "lapses")
    raw_id_fields = ("user", "course", "poll", "plan")


@admin.register(ReviewAnswer)
class ReviewAnswerAdmin(admin.ModelAdmin):
    list_display = ("user", "question_key", "source", "is_correct", "rating", "answered_at")
    list_filter = ("source",)
    raw_id_fields = ("user", "course", "card", "poll")
