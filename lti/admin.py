from django.contrib import admin
from django.db import models

from lti.models import Deployment, LtiContext, LtiIdentity, Registration, ToolKey
from lti.oneroster.admin import RosterIdentityAdmin  # noqa: F401 (registers the OneRoster admin)

URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 1


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "client_id", "is_active"]
    search_fields = ["name", "issuer", "client_id"]
    inlines = [DeploymentInline]
    exclude = ["jwks_cache", "jwks_fetched_at"]
    formfield_overrides = URL_FIELDS


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "created_at", "use_after", "retire_after"]
    exclude = ["private_pem"]
    readonly_fields = ["kid", "public_jwk", "use_after", "retire_after"]

    def has_add_permission(self, request):
        return False  # manage.py lti_rotate_keys


@admin.register(LtiIdentity)
class LtiIdentityAdmin(admin.ModelAdmin):
    list_display = ["issuer", "sub", "user"]
    search_fields = ["sub", "user__username"]
    raw_id_fields = ["user"]


@admin.register(LtiContext)
class LtiContextAdmin(admin.ModelAdmin):
    list_display = ["context_id", "title", "deployment", "course"]
    formfield_overrides = URL_FIELDS
    raw_id_fields = ["course"]
