"""The insights pages (docs/analytics.md, "Pages"): parse the filters → access
(insights/access.py) → selectors (insights/selectors.py) → shape for the
template (insights/pagedata.py). Server-rendered; charts are drawn from JSON
data islands by static/insights/charts.js beside their data tables.

Who sees what: learners only themselves, a course's staff and its program's
admins the course, program admins their programs. As on every course page,
someone outside a course gets 404 (we do not confirm it exists) and a member
whose role is too weak gets 403.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.errors import NotFoundError, PermissionDeniedError
from insights import pagedata, selectors
from insights.access import (
    access_insights_course,
    access_insights_learner,
    access_insights_program,
    access_insights_self,
    access_insights_session,
)
from insights.forms import CourseFilterForm, TimelineFilterForm


def page_access(view):
    """Outsiders 404, members whose role is too weak 403 (with the reason)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as error:
            raise Http404(error.message) from error
        except PermissionDeniedError as error:
            return render(request, "403.html", {"message": error.message}, status=403)

    return login_required(require_GET(wrapper))


@page_access
def insights_home(request: HttpRequest) -> HttpResponse:
    """Where each of the user's analytics pages is: their own progress per
    course, the dashboards of the courses they teach, their programs."""
    return render(request, "insights/home.html", pagedata.insights_home_get(user=request.user))


@page_access
def course_dashboard(request: HttpRequest, course_id: int) -> HttpResponse:
    access = access_insights_course(user=request.user, course_id=course_id)
    tables = pagedata.course_tables_list(course_id=course_id)
    form = CourseFilterForm(request.GET or None, tables=tables)
    filters = form.values()
    context = {
        "access": access,
        "course": access.course,
        "form": form,
        "filters": filters,
        "page_query": form.query(without=("page",)),
        **pagedata.course_dashboard_page(
            course_id=course_id,
            matrix=selectors.course_matrix_get(course_id, filters),
            trends=selectors.course_trends_get(course_id),
            at_risk=selectors.at_risk_list(course_id),
            tables=selectors.table_view_get(course_id),
            filters=filters,
        ),
        "export_url": reverse("api-insights-course-csv", kwargs={"course_id": course_id}),
    }
    return render(request, "insights/course.html", context, status=400 if form.errors else 200)


@page_access
def learner_timeline(request: HttpRequest, course_id: int, user_id: int) -> HttpResponse:
    access = access_insights_learner(user=request.user, course_id=course_id, user_id=user_id)
    if not access.is_staff:
        # A learner's own drill-down is their progress page.
        return redirect("insights-my-progress", course_id=course_id)
    if not pagedata.is_course_learner(course_id=course_id, user_id=user_id):
        raise Http404("No such learner in this course.")
    form = TimelineFilterForm(request.GET or None)
    context = {
        "access": access,
        "course": access.course,
        "form": form,
        **pagedata.learner_timeline_page(
            timeline=selectors.learner_timeline_get(course_id, user_id),
            filters=form.values(),
            page=request.GET.get("page"),
        ),
    }
    return render(request, "insights/learner.html", context, status=400 if form.errors else 200)


@page_access
def my_progress(request: HttpRequest, course_id: int) -> HttpResponse:
    access = access_insights_self(user=request.user, course_id=course_id)
    context = {
        "access": access,
        "course": access.course,
        **pagedata.my_progress_page(
            progress=selectors.learner_progress_get(request.user.pk, course_id)
        ),
    }
    return render(request, "insights/progress.html", context)


@page_access
def session_report(request: HttpRequest, session_id: int) -> HttpResponse:
    access, session = access_insights_session(user=request.user, session_id=session_id)
    context = {
        "access": access,
        "course": access.course,
        "session": session,
        **pagedata.session_report_page(report=selectors.session_report_get(session_id)),
        "export_url": reverse("api-insights-session-csv", kwargs={"session_id": session_id}),
    }
    return render(request, "insights/session_report.html", context)


@page_access
def program_overview(request: HttpRequest, program_id: int) -> HttpResponse:
    program = access_insights_program(user=request.user, program_id=program_id)
    context = {
        "program": program,
        **pagedata.program_overview_page(overview=selectors.program_overview_get(program.pk)),
    }
    return render(request, "insights/program.html", context)
