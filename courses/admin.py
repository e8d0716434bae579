from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from courses.models import Course, Enrollment, Program, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Roundtable"), {"fields": ("display_name", "time_zone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Roundtable"), {"fields": ("email", "display_name", "time_zone")}),
    )
    list_display = ("username", "display_name", "email", "time_zone", "is_staff", "is_active")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("code", "term", "title", "time_zone", "created_at")
    search_fields = ("code", "title", "term")
    inlines = [EnrollmentInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "role", "is_active", "created_at")
    list_filter = ("role", "is_active", "course")
    search_fields = ("user__username", "user__email", "course__code")
    autocomplete_fields = ("user", "course")
    list_select_related = ("user", "course")


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("courses", "admins")
