"""The insights pages' filters. They are read from the query string, so the
address of a filtered view is the view: it can be bookmarked and shared. A
value that does not parse is reported on the form (HTTP 400) and ignored."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

from insights.models import SessionStatus

MODE_CHOICES = [
    ("", _("All")),
    ("live", _("Live")),
    ("playback", _("Playback")),
    ("review", _("Review")),
]


class FilterForm(forms.Form):
    """A GET form: empty fields are "no filter"; unknown parameters (utm_*, a
    stale bookmark's) are ignored, not errors."""

    def values(self) -> dict:
        """The valid filters that are set (nothing for an invalid form)."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", None)}

    def query(self, *, without=()) -> str:
        """The query string of the valid filters that are set."""
        return urlencode(
            {key: str(value) for key, value in self.values().items() if key not in without}
        )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return cleaned


class DateRangeMixin(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class CourseFilterForm(FilterForm, DateRangeMixin):
    """The course dashboard: which learners and which sessions."""

    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    per_page = forms.IntegerField(
        required=False, min_value=1, max_value=500, widget=forms.HiddenInput
    )

    q = forms.CharField(label=_("Learner"), required=False, max_length=100)
    table = forms.TypedChoiceField(label=_("Table"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any"))]
        + [(value, label) for value, label in SessionStatus.choices if value != "upcoming"],
    )
    field_order = ["q", "table", "status", "since", "until"]
    # Paging of the matrix's learners: in the URL, not among the visible filters.
    page_fields = ("page", "per_page")
    note = _("Status keeps the learners who had it in at least one session.")

    def __init__(self, data=None, *, tables=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["table"].choices = [("", _("All tables"))] + [
            (table["id"], table["name"]) for table in tables
        ]


class TimelineFilterForm(FilterForm, DateRangeMixin):
    """One learner's timeline: which acts."""

    mode = forms.ChoiceField(label=_("Mode"), required=False, choices=MODE_CHOICES)
    field_order = ["mode", "since", "until"]
