"""The OneRoster import in the Django admin: the identities it keeps
(read-only) and the upload page of platform admins."""

from django.contrib import admin
from django.urls import path

from courses.models import RosterIdentity
from lti.oneroster.views import oneroster_import_view


@admin.register(RosterIdentity)
class RosterIdentityAdmin(admin.ModelAdmin):
    """Read-only: identities are written by the OneRoster import only."""

    change_list_template = "admin/courses/rosteridentity_change_list.html"
    list_display = ("source", "kind", "sourced_id", "object_id", "is_active", "date_last_modified")
    list_filter = ("source", "kind", "is_active")
    search_fields = ("sourced_id",)
    readonly_fields = [field.name for field in RosterIdentity._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(
            lambda request: oneroster_import_view(request, model_admin=self)
        )
        return [
            path("import/", view, name="courses_rosteridentity_import"),
            *super().get_urls(),
        ]
