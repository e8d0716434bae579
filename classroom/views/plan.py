"""The staff page "Prepare polls" of a session: the course question bank and
the session plan. The page is a shell with the current bank and plan; its
script (static/classroom/plan.js) changes them through the JSON APIs of
classroom/api/polls.py (docs/polls.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from classroom.access import access_live_session
from classroom.api.polls import BankQuestionOutput, PlanItemOutput
from classroom.models import BankQuestion, SessionPlanItem
from classroom.views.live import POLL_STRINGS
from core.errors import NotFoundError, PermissionDeniedError
from courses.access import CourseAction

PLAN_STRINGS = {
    **POLL_STRINGS,
    "plan_empty": gettext_lazy(
        "No questions in the plan yet. Add them from the bank below, or write a new one."
    ),
    "bank_empty": gettext_lazy(
        "The question bank of this course is empty. Write the first question."
    ),
    "add_to_plan": gettext_lazy("Add to plan"),
    "add_to_plan_label": gettext_lazy("Add to plan: {prompt}"),
    "add": gettext_lazy("Add"),
    "in_plan": gettext_lazy("in the plan"),
    "move_up": gettext_lazy("Up"),
    "move_down": gettext_lazy("Down"),
    "move_up_label": gettext_lazy("Move up: {prompt}"),
    "move_down_label": gettext_lazy("Move down: {prompt}"),
    "remove": gettext_lazy("Remove"),
    "remove_label": gettext_lazy("Remove from the plan: {prompt}"),
    "save_to_bank": gettext_lazy("Save to bank"),
    "save_and_plan": gettext_lazy("Save and add to plan"),
    "saved_to_bank": gettext_lazy("Saved to the bank: {prompt}"),
    "added_to_plan": gettext_lazy("Added to the plan: {prompt}"),
    "removed_from_plan": gettext_lazy("Removed from the plan: {prompt}"),
    "moved": gettext_lazy("Plan reordered."),
    "launch_settings": gettext_lazy("Launch settings"),
    "correct_label": gettext_lazy("Correct: {answer}"),
    "no_correct": gettext_lazy("no correct answer"),
    "scale_label": gettext_lazy("scale 1–{n}"),
    "options_count": gettext_lazy("{n} options"),
    "error": gettext_lazy("Something went wrong."),
    "network_error": gettext_lazy("The server could not be reached. Try again."),
}


@login_required
@require_GET
def session_plan(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_live_session(
            user=request.user, session_id=session_id, action=CourseAction.TEACH
        )
    except NotFoundError as error:
        raise Http404(error.message) from error
    except PermissionDeniedError:
        return render(
            request, "403.html", {"message": _("Only staff can prepare polls.")}, status=403
        )
    session = access.session
    bank = BankQuestion.objects.filter(course_id=session.course_id)
    plan = (
        SessionPlanItem.objects.filter(session=session)
        .select_related("question")
        .order_by("position", "id")
    )
    config = {
        "session_id": session.pk,
        "course_id": session.course_id,
        "urls": {
            "bank": reverse("api-bank", args=[session.course_id]),
            "plan": reverse("api-plan", args=[session.pk]),
            "reorder": reverse("api-plan-reorder", args=[session.pk]),
            # The item id is appended by the script.
            "plan_item": reverse("api-plan", args=[session.pk]),
        },
        "bank": BankQuestionOutput(bank, many=True).data,
        "plan": PlanItemOutput(plan, many=True).data,
    }
    return render(
        request,
        "classroom/plan.html",
        {
            "session": session,
            "course": session.course,
            "plan_config": config,
            "plan_strings": PLAN_STRINGS,
        },
    )
