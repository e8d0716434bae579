"""The admin page that imports a OneRoster bundle (platform admins only):
/admin/courses/rosteridentity/import/. Parse the form → service → show the
report."""

from __future__ import annotations

from django import forms
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from lti.oneroster.services import SOURCE_MAX_LENGTH, oneroster_import

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
REPORT_LINES_SHOWN = 500


class OneRosterImportForm(forms.Form):
    bundle = forms.FileField(
        label=_("OneRoster bundle (zip)"),
        help_text=_("A OneRoster 1.1 or 1.2 CSV bundle: a zip holding manifest.csv."),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=SOURCE_MAX_LENGTH,
        initial="oneroster",
        help_text=_(
            "The name this roster's sourcedIds belong to. Use the same name for every "
            "import from the same system."
        ),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: report what would change, write nothing"),
        required=False,
        initial=True,
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_bundle(self):
        bundle = self.cleaned_data["bundle"]
        if bundle.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The bundle is larger than 50 MB."))
        return bundle


def oneroster_import_view(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied
    report = None
    if request.method == "POST":
        form = OneRosterImportForm(request.POST, request.FILES)
        if form.is_valid():
            report = oneroster_import(
                data=form.cleaned_data["bundle"].read(),
                source=form.cleaned_data["source"],
                actor=request.user,
                dry_run=form.cleaned_data["dry_run"],
            )
    else:
        form = OneRosterImportForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Import a OneRoster bundle"),
        "form": form,
        "report": report,
        "report_lines": report.lines[:REPORT_LINES_SHOWN] if report else [],
        "report_lines_hidden": max(0, len(report.lines) - REPORT_LINES_SHOWN) if report else 0,
    }
    return TemplateResponse(request, "admin/courses/oneroster_import.html", context)
