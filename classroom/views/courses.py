from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from classroom import hooks
from classroom.forms import SessionScheduleForm
from classroom.selectors import course_sessions_split, home_overview_get, live_session_list
from classroom.services.sessions import live_session_schedule
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from courses.access import CourseAction, access_course
from courses.selectors import course_list_all, course_roster_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    overview = home_overview_get(user=request.user)
    # Past sessions lead to their recording and chat, as on the course page
    # (one call for the courses the user teaches, one for the others).
    for is_staff in (True, False):
        past = [s for item in overview if item.is_staff == is_staff for s in item.past]
        if past:
            hooks.past_sessions_shown(sessions=past, is_staff=is_staff)
    context = {"overview": overview}
    if request.user.is_superuser:  # a platform admin oversees every course
        enrolled = {item.course.pk for item in overview}
        context["admin_courses"] = [
            course for course in course_list_all() if course.pk not in enrolled
        ]
    return render(request, "classroom/home.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def course_detail(request: HttpRequest, course_id: int) -> HttpResponse:
    try:
        access = access_course(user=request.user, course_id=course_id)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error

    form = SessionScheduleForm()
    if request.method == "POST":
        if not access.may(CourseAction.TEACH):
            return render(
                request, "403.html", {"message": _("Only staff can schedule sessions.")}, status=403
            )
        form = SessionScheduleForm(request.POST)
        if form.is_valid():
            start = form.cleaned_data["scheduled_start"]
            try:
                live_session_schedule(
                    course=access.course,
                    title=form.cleaned_data["title"],
                    scheduled_start=start,
                    scheduled_end=start + timedelta(minutes=form.cleaned_data["duration_minutes"]),
                    actor=request.user,
                )
            except ApplicationError as error:
                for field, message in error.details.items():
                    form.add_error(field if field in form.fields else None, message)
                if not error.details:
                    form.add_error(None, error.message)
            else:
                messages.success(request, _("Session scheduled."))
                return redirect("course-detail", course_id=access.course.pk)

    links = [
        link
        for extra in hooks.course_page_links(course=access.course, is_staff=access.is_staff)
        for link in extra
    ]
    upcoming, past = course_sessions_split(sessions=list(live_session_list(course=access.course)))
    hooks.past_sessions_shown(sessions=past, is_staff=access.is_staff)  # playback: `.replay`
    context = {
        "access": access,
        "course": access.course,
        "upcoming": upcoming,
        "past": past,
        "roster": course_roster_list(course=access.course) if access.is_staff else None,
        "service_links": [
            link
            for link in links
            if link.get("place") != "head" and link.get("section") != "learning"
        ],
        "head_links": [link for link in links if link.get("place") == "head"],
        "learning_links": [link for link in links if link.get("section") == "learning"],
        "form": form,
    }
    return render(
        request, "classroom/course_detail.html", context, status=400 if form.errors else 200
    )
