"""Reinforcement's pages: the learner's review page (scheduled cards, a
warm-up, or a past session's questions on demand) and follow-up list; the
staff's course view (settings, plans, review statistics) and a session's
plan. Plain forms: keyboard-operable and usable without JavaScript."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from classroom.selectors import poll_public_payload
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from courses.access import CourseAction
from questions.models import PollKind
from recaps.selectors import recaps_visible_for_sessions
from reinforcement.access import access_course_reinforcement, access_followup_plan
from reinforcement.models import (
    HOLD_MINUTES_MAX,
    RETENTION_MAX,
    RETENTION_MIN,
    WARMUP_SIZE_MAX,
    PlanStatus,
)
from reinforcement.selectors import (
    card_get,
    card_question_payload,
    course_review_stats,
    course_settings_get,
    due_cards_list,
    followup_items_list,
    plan_summary_get,
    plans_of_course,
    practice_sessions_list,
    review_progress_get,
    session_practice_polls,
    warmup_cards_list,
)
from reinforcement.services import planning, reviews
from reinforcement.services.settings import course_settings_update


def _page_access(function, **kwargs):
    try:
        return function(**kwargs)
    except (NotFoundError, PermissionDeniedError) as error:
        raise Http404(error.message) from error


def _answer_from_post(kind: str, post) -> object:
    """The form's fields as the answer object the grader takes."""
    if kind == PollKind.MULTIPLE:
        return {"options": post.getlist("options")}
    if kind in (PollKind.SINGLE, PollKind.TRUE_FALSE, PollKind.YES_NO_ABSTAIN):
        return {"option": post.get("option")}
    if kind == PollKind.SHORT_TEXT:
        return {"text": post.get("text", "")}
    raw = (post.get("value") or "").strip()
    try:
        value = int(raw) if raw.lstrip("-").isdigit() else float(raw)
    except ValueError:
        value = raw
    return {"value": value}


def _question_view(payload: dict) -> dict:
    """What the template needs to draw the question's answer field."""
    definition = payload["definition"]
    kind = payload["kind"]
    return {
        **payload,
        "options": definition.get("options", []),
        "multiple": kind == PollKind.MULTIPLE,
        "choice": kind
        in (PollKind.SINGLE, PollKind.MULTIPLE, PollKind.TRUE_FALSE, PollKind.YES_NO_ABSTAIN),
        "text": kind == PollKind.SHORT_TEXT,
        "number": kind == PollKind.NUMERIC,
        "scale": range(1, (definition.get("scale") or 0) + 1),
    }


def _elapsed(post) -> int | None:
    raw = post.get("shown_at", "")
    try:
        shown = float(raw)
    except ValueError:
        return None
    elapsed = int((timezone.now().timestamp() - shown) * 1000)
    return elapsed if 0 <= elapsed <= 24 * 3600 * 1000 else None


@login_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, course_id: int) -> HttpResponse:
    """Due cards one at a time; after an answer, the feedback and when the card returns."""
    access = _page_access(
        access_course_reinforcement,
        user=request.user,
        course_id=course_id,
        action=CourseAction.PARTICIPATE,
    )
    course = access.course
    warmup = request.GET.get("warmup") or request.POST.get("warmup_session_id") or ""
    warmup_id = int(warmup) if warmup.isdigit() else None
    now = timezone.now()
    feedback, error = None, None
    if request.method == "POST":
        card_id = request.POST.get("card_id", "")
        version = request.POST.get("version", "")
        kind = request.POST.get("kind", "")
        try:
            feedback = reviews.card_answer(
                user=request.user,
                card_id=int(card_id) if card_id.isdigit() else -1,
                answer=_answer_from_post(kind, request.POST),
                request_id=request.POST.get("request_id", ""),
                version=int(version) if version.isdigit() else None,
                elapsed_ms=_elapsed(request.POST),
                warmup_session_id=warmup_id,
            )
        except ApplicationError as caught:
            error = caught.message
    if warmup_id is not None:
        cards = warmup_cards_list(
            user=request.user, course_id=course.pk, session_id=warmup_id, now=now
        )
    else:
        cards = due_cards_list(user=request.user, course_id=course.pk, now=now, limit=1)
    answered_card = None
    if feedback is not None:
        answered_card = card_get(user=request.user, card_id=feedback["card_id"])
    context = {
        "course": course,
        "access": access,
        "mode": "warmup" if warmup_id is not None else "scheduled",
        "warmup_id": warmup_id,
        "progress": review_progress_get(user=request.user, course_id=course.pk, now=now),
        "question": _question_view(card_question_payload(cards[0]))
        if cards and not feedback
        else None,
        "answered": _question_view(card_question_payload(answered_card)) if answered_card else None,
        "feedback": feedback,
        "next_due": parse_datetime(feedback["next_due"]) if feedback else None,
        "error": error,
        "request_id": uuid.uuid4().hex,
        "shown_at": f"{now.timestamp():.3f}",
        "sessions": practice_sessions_list(course=course),
    }
    return render(request, "reinforcement/review.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def review_session(request: HttpRequest, course_id: int, session_id: int) -> HttpResponse:
    """A past session's graded questions on demand, one at a time (practice:
    answers are graded and logged, no card is rescheduled)."""
    access = _page_access(
        access_course_reinforcement,
        user=request.user,
        course_id=course_id,
        action=CourseAction.PARTICIPATE,
    )
    polls = [
        poll
        for poll in session_practice_polls(session_id=session_id)
        if poll.session.course_id == access.course.pk
    ]
    if not polls:
        raise Http404(_("This session has no questions to review."))
    raw = request.POST.get("n") or request.GET.get("n") or "0"
    index = min(int(raw), len(polls) - 1) if raw.isdigit() else 0
    poll = polls[index]
    feedback, error = None, None
    if request.method == "POST":
        try:
            feedback = reviews.practice_answer(
                user=request.user,
                course_id=access.course.pk,
                poll_id=poll.pk,
                answer=_answer_from_post(poll.kind, request.POST),
                request_id=request.POST.get("request_id", ""),
            )
        except ApplicationError as caught:
            error = caught.message
    public = poll_public_payload(poll)
    question = _question_view(
        {
            "card_id": None,
            "version": None,
            "question_key": "",
            "due": None,
            "session_title": poll.session.title,
            "asked_at": poll.opened_at,
            "kind": public["kind"],
            "prompt": public["prompt"],
            "definition": public["definition"],
        }
    )
    context = {
        "course": access.course,
        "access": access,
        "mode": "practice",
        "session": poll.session,
        "index": index,
        "position": index + 1,
        "count": len(polls),
        "next_index": index + 1 if index + 1 < len(polls) else None,
        "progress": {"percent": round(100 * (index + (1 if feedback else 0)) / len(polls))},
        "question": None if feedback else question,
        "answered": question if feedback else None,
        "feedback": feedback,
        "error": error,
        "request_id": uuid.uuid4().hex,
    }
    return render(request, "reinforcement/review.html", context, status=400 if error else 200)


@login_required
def followups(request: HttpRequest, course_id: int) -> HttpResponse:
    access = _page_access(access_course_reinforcement, user=request.user, course_id=course_id)
    groups = followup_items_list(user=request.user, course_id=access.course.pk)
    # Each session's published recap: its link and first key points.
    recaps = recaps_visible_for_sessions(
        session_ids=[group["session_id"] for group in groups], is_staff=False
    )
    for group in groups:
        recap = recaps.get(group["session_id"])
        group["recap_url"] = reverse("recap-detail", args=[group["session_id"]]) if recap else ""
        group["recap_points"] = recap.points[:3] if recap else []
    return render(
        request,
        "reinforcement/followups.html",
        {"course": access.course, "access": access, "groups": groups},
    )


class SettingsForm(forms.Form):
    is_enabled = forms.BooleanField(label=gettext_lazy("Reinforcement on"), required=False)
    hold_minutes = forms.IntegerField(
        label=gettext_lazy("Hold window (minutes)"),
        min_value=0,
        max_value=HOLD_MINUTES_MAX,
        help_text=gettext_lazy("How long you can review a session's follow-up before it goes out."),
    )
    desired_retention = forms.FloatField(
        label=gettext_lazy("Desired retention"),
        min_value=RETENTION_MIN,
        max_value=RETENTION_MAX,
        help_text=gettext_lazy("0.80–0.95: higher means more frequent reviews."),
    )
    participation_talk_seconds = forms.IntegerField(
        label=gettext_lazy("Silent below this talk time (seconds)"), min_value=0, max_value=3600
    )
    warmup_size = forms.IntegerField(
        label=gettext_lazy("Warm-up quiz size"), min_value=0, max_value=WARMUP_SIZE_MAX
    )
    deadline_enabled = forms.BooleanField(
        label=gettext_lazy("Review due before the next session"), required=False
    )
    course_ends_on = forms.DateField(
        label=gettext_lazy("Course ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("No card is scheduled after this day."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def course_reinforcement(request: HttpRequest, course_id: int) -> HttpResponse:
    """Staff: review statistics, recent plans and (instructors) the settings."""
    access = _page_access(
        access_course_reinforcement,
        user=request.user,
        course_id=course_id,
        action=CourseAction.TEACH,
    )
    conf = course_settings_get(course_id=access.course.pk)
    form = SettingsForm(initial={name: getattr(conf, name) for name in SettingsForm.base_fields})
    status = 200
    if request.method == "POST":
        if not access.may(CourseAction.MANAGE):
            return render(
                request,
                "403.html",
                {"message": _("Only instructors change these settings.")},
                status=403,
            )
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                course_settings_update(
                    course=access.course, actor=request.user, changes=form.cleaned_data
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("Reinforcement settings saved."))
                return redirect("reinforcement-course", course_id=access.course.pk)
        status = 400
    context = {
        "course": access.course,
        "access": access,
        "form": form,
        "may_manage": access.may(CourseAction.MANAGE),
        "stats": course_review_stats(course_id=access.course.pk, now=timezone.now()),
        "plans": plans_of_course(course_id=access.course.pk),
    }
    return render(request, "reinforcement/course.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def session_plan(request: HttpRequest, session_id: int) -> HttpResponse:
    access = _page_access(access_followup_plan, user=request.user, session_id=session_id)
    plan = access.plan
    return render(
        request,
        "reinforcement/plan.html",
        {
            "course": plan.course,
            "session": plan.session,
            "plan": plan,
            "summary": plan_summary_get(plan=plan),
        },
    )


@login_required
@require_POST
def session_plan_act(request: HttpRequest, session_id: int) -> HttpResponse:
    """The plan page's buttons: hold, release, drop or restore a question,
    save the message, send now."""
    access = _page_access(access_followup_plan, user=request.user, session_id=session_id)
    plan_id, action = access.plan.pk, request.POST.get("action", "")
    try:
        if action == "hold":
            planning.followup_plan_hold(plan_id=plan_id, actor=request.user, hold=True)
            messages.success(request, _("Held: it goes out only when you send it."))
        elif action == "release":
            planning.followup_plan_hold(plan_id=plan_id, actor=request.user, hold=False)
            messages.success(request, _("It goes out at the end of the hold window."))
        elif action in ("drop", "restore"):
            planning.followup_plan_question_drop(
                plan_id=plan_id,
                actor=request.user,
                question_key=request.POST.get("question_key", ""),
                dropped=action == "drop",
            )
            messages.success(
                request,
                _("Question dropped from review.") if action == "drop" else _("Question restored."),
            )
        elif action == "message":
            planning.followup_plan_message_set(
                plan_id=plan_id, actor=request.user, message=request.POST.get("message", "")
            )
            messages.success(request, _("Message saved."))
        elif action == "send":
            plan = planning.followup_plan_send_soon(plan_id=plan_id, actor=request.user)
            messages.success(
                request,
                _("Follow-up sent.")
                if plan.status == PlanStatus.SENT
                else _("Sending the follow-up: learners get it within a minute."),
            )
        else:
            messages.error(request, _("Unknown action."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(reverse("reinforcement-plan", args=[session_id]))
