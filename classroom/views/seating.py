"""The staff seating page of a course: tables, members, and the forms that
seat learners (automatic, CSV plan, by hand) and manage tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from classroom.forms import (
    SeatingAutoForm,
    SeatingCsvForm,
    SeatMoveForm,
    TableCreateForm,
    TableDeleteForm,
    TableUpdateForm,
)
from classroom.models import Table
from classroom.selectors import SeatingPage, seating_page_get
from classroom.services.seating import (
    TABLE_CAPACITY_MAX,
    TABLE_CAPACITY_MIN,
    TABLE_NAME_MAX_LENGTH,
    seat_move,
    seating_auto,
    seating_csv_import,
    table_create,
    table_delete,
    table_update,
)
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from courses.access import CourseAction, access_course
from courses.models import Course

# --- Actions: bound form → one service → success message --------------------------------


def _table_model(course: Course, table_id: int) -> Table:
    table = Table.objects.filter(course=course, pk=table_id).first()
    if table is None:  # deleted since the page was shown
        raise NotFoundError(_("Table not found."), code="table_not_found")
    return table


def _auto(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    result = seating_auto(
        course=page.course,
        method=data["method"],
        table_size=data["table_size"],
        actor=request.user,
    )
    return _("Seated automatically: %(moved)d learners moved, %(created)d tables added.") % {
        "moved": result.moved,
        "created": len(result.created_tables),
    }


def _csv(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    result = seating_csv_import(course=page.course, csv_text=data["plan"], actor=request.user)
    return _("Seating plan applied: %(moved)d learners moved, %(created)d tables added.") % {
        "moved": result.moved,
        "created": len(result.created_tables),
    }


def _move(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    learner = next(learner for learner in page.learners if learner.pk == data["learner"])
    table = _table_model(page.course, data["table"])
    seat_move(
        course=page.course,
        user=learner,
        table=table,
        actor=request.user,
        live_session=page.live_session,
    )
    return _("%(learner)s sits at %(table)s.") % {"learner": learner.name, "table": table.name}


def _table_create(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    table = table_create(
        course=page.course, name=data["name"], capacity=data["capacity"], actor=request.user
    )
    return _("Table “%(name)s” added.") % {"name": table.name}


def _table_update(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    table = table_update(
        table=_table_model(page.course, data["table"]),
        name=data["name"],
        capacity=data["capacity"],
        actor=request.user,
    )
    return _("Table “%(name)s” saved.") % {"name": table.name}


def _table_delete(request: HttpRequest, page: SeatingPage, data: dict[str, Any]) -> str:
    table = _table_model(page.course, data["table"])
    table_delete(table=table, actor=request.user)
    return _("Table “%(name)s” deleted.") % {"name": table.name}


Action = Callable[[HttpRequest, SeatingPage, dict[str, Any]], str]
ACTIONS: dict[str, tuple[type[forms.Form], bool, Action]] = {
    # action: (form class, whether the form needs the page, service call)
    "auto": (SeatingAutoForm, False, _auto),
    "csv": (SeatingCsvForm, False, _csv),
    "move": (SeatMoveForm, True, _move),
    "table_create": (TableCreateForm, False, _table_create),
    "table_update": (TableUpdateForm, True, _table_update),
    "table_delete": (TableDeleteForm, True, _table_delete),
}


def _error_lines(error: ApplicationError) -> list[str]:
    """The details of a service error as lines: one per CSV row, one per field."""
    rows = error.details.get("rows")
    if isinstance(rows, list):
        return [_("Line %(line)s: %(error)s") % row for row in rows]
    return [str(value) for value in error.details.values() if isinstance(value, str)]


def _form_error_lines(form: forms.Form) -> list[str]:
    """Form errors as lines, each prefixed with its visible field's label."""
    lines = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        visible = field is not None and not field.widget.is_hidden
        lines += [f"{field.label}: {message}" if visible else str(message) for message in errors]
    return lines


def _forms_unbound(page: SeatingPage) -> dict[str, forms.Form]:
    return {
        "auto": SeatingAutoForm(prefix="auto"),
        "csv": SeatingCsvForm(prefix="csv"),
        "move": SeatMoveForm(prefix="move", page=page),
        "table_create": TableCreateForm(prefix="table_create"),
    }


@login_required
@require_http_methods(["GET", "POST"])
def seating(request: HttpRequest, course_id: int) -> HttpResponse:
    try:
        access = access_course(user=request.user, course_id=course_id, action=CourseAction.TEACH)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except PermissionDeniedError:
        return render(
            request, "403.html", {"message": _("Only staff can seat learners.")}, status=403
        )

    page = seating_page_get(course=access.course)
    page_forms = _forms_unbound(page)
    error_message = ""
    error_lines: list[str] = []
    if request.method == "POST":
        name = request.POST.get("action", "")
        if name not in ACTIONS:
            error_message = _("Unknown action.")
        else:
            form_class, needs_page, action = ACTIONS[name]
            extra = {"page": page} if needs_page else {}
            form = form_class(request.POST, request.FILES, prefix=name, **extra)
            if form.is_valid():
                try:
                    message = action(request, page, form.cleaned_data)
                except ApplicationError as error:
                    error_message, error_lines = error.message, _error_lines(error)
                else:
                    messages.success(request, message)
                    return redirect("course-seating", course_id=access.course.pk)
            else:
                error_message, error_lines = _("Please correct the form."), _form_error_lines(form)
            if name in page_forms:
                page_forms[name] = form

    context = {
        "access": access,
        "course": access.course,
        "page": page,
        "forms": page_forms,
        "error_message": error_message,
        "error_lines": error_lines,
        "capacity_min": TABLE_CAPACITY_MIN,
        "capacity_max": TABLE_CAPACITY_MAX,
        "name_max_length": TABLE_NAME_MAX_LENGTH,
    }
    return render(request, "classroom/seating.html", context, status=400 if error_message else 200)
