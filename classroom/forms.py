from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from classroom.models import SeatingChange
from classroom.selectors import SeatingPage
from classroom.services.seating import (
    AUTO_METHODS,
    CSV_MAX_CHARACTERS,
    TABLE_CAPACITY_DEFAULT,
    TABLE_CAPACITY_MAX,
    TABLE_CAPACITY_MIN,
    TABLE_NAME_MAX_LENGTH,
)


class SessionScheduleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    scheduled_start = forms.DateTimeField(
        label=_("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_minutes = forms.IntegerField(
        label=_("Length (minutes)"), min_value=5, max_value=720, initial=60
    )


# --- Seating page ----------------------------------------------------------------------


def _capacity_field(label, initial: int | None = TABLE_CAPACITY_DEFAULT) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, min_value=TABLE_CAPACITY_MIN, max_value=TABLE_CAPACITY_MAX, initial=initial
    )


class SeatingAutoForm(forms.Form):
    method = forms.ChoiceField(
        label=gettext_lazy("Method"),
        choices=[(method.value, method.label) for method in AUTO_METHODS],
        initial=SeatingChange.Method.AUTO_BALANCED,
        help_text=gettext_lazy(
            "Balanced and random reseat everyone; fill keeps every seat and seats newcomers."
        ),
    )
    table_size = _capacity_field(gettext_lazy("Learners per table"))


class SeatingCsvForm(forms.Form):
    csv_file = forms.FileField(label=gettext_lazy("CSV file"), required=False)
    csv_text = forms.CharField(
        label=gettext_lazy("…or paste the plan"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "learner,table\nada@example.org,Red"}
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("csv_file")
        if upload:
            if upload.size > CSV_MAX_CHARACTERS:
                raise forms.ValidationError(_("The file is too large."))
            try:
                data["plan"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise forms.ValidationError(_("Save the CSV file as UTF-8.")) from error
        elif (data.get("csv_text") or "").strip():
            data["plan"] = data["csv_text"]
        else:
            raise forms.ValidationError(_("Choose a CSV file or paste a plan."))
        return data


class TableChoiceField(forms.TypedChoiceField):
    def __init__(self, *, tables: list[dict[str, Any]], label=None, hidden=False) -> None:
        super().__init__(
            label=label or gettext_lazy("Table"),
            coerce=int,
            choices=[(table["id"], _table_label(table)) for table in tables],
            widget=forms.HiddenInput if hidden else forms.Select,
        )


def _table_label(table: dict[str, Any]) -> str:
    label = f"{table['name']} ({table['count']}/{table['capacity']})"
    return f"{label} · {_('full')}" if table["is_full"] else label


class SeatMoveForm(forms.Form):
    def __init__(self, *args, page: SeatingPage, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = []
        for learner in page.learners:
            table = page.table_of.get(learner.pk)
            where = table["name"] if table else _("unseated")
            choices.append((learner.pk, f"{learner.name} · {where}"))
        self.fields["learner"] = forms.TypedChoiceField(
            label=gettext_lazy("Learner"),
            coerce=int,
            choices=choices,
            initial=page.unseated[0].pk if page.unseated else None,
        )
        self.fields["table"] = TableChoiceField(
            tables=page.tables, label=gettext_lazy("Move to table")
        )
        self.fields["table"].initial = next(
            (table["id"] for table in page.tables if not table["is_full"]), None
        )


class TableCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=TABLE_NAME_MAX_LENGTH)
    capacity = _capacity_field(gettext_lazy("Seats"))


class TableUpdateForm(forms.Form):
    def __init__(self, *args, page: SeatingPage, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["table"] = TableChoiceField(tables=page.tables, hidden=True)
        self.fields["name"] = forms.CharField(
            label=gettext_lazy("Name"), max_length=TABLE_NAME_MAX_LENGTH
        )
        self.fields["capacity"] = _capacity_field(gettext_lazy("Seats"), initial=None)


class TableDeleteForm(forms.Form):
    def __init__(self, *args, page: SeatingPage, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["table"] = TableChoiceField(tables=page.tables, hidden=True)
