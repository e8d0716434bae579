"""LTI endpoints: JWKS, OIDC login, launch, deep linking, Dynamic Registration,
setup page. Every refused flow renders lti/error.html with a 4xx."""

from __future__ import annotations

import logging
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError, ConflictError
from lti import claims as C
from lti import selectors, services
from lti.errors import LtiError
from lti.middleware import EMBED_SESSION_KEY
from lti.models import Registration

log = logging.getLogger("lti")

STATE_COOKIE_PREFIX = "lti_state_"


def _frameable(response: HttpResponse, origins: list[str]) -> HttpResponse:
    """Let registered platforms (only) show this LTI page in their frame."""
    response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(origins)
    response.xframe_options_exempt = True
    return response


def _error_page(request: HttpRequest, error: LtiError) -> HttpResponse:
    log.warning(
        "lti: refused %s %s: %s (%s)", request.method, request.path, error.reason, error.code
    )
    response = render(
        request,
        "lti/error.html",
        {"reason": error.reason, "code": error.code, "status": error.status_code},
        status=error.status_code,
    )
    return _frameable(response, selectors.platform_origins_get())


def _lti_errors(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except LtiError as error:
            return _error_page(request, error)
        except ApplicationError as error:  # from courses/classroom services
            return _error_page(
                request, LtiError(error.message, code=error.code, status=error.status_code)
            )

    return wrapper


def _tool_urls(request: HttpRequest) -> dict[str, str]:
    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name))

    return {
        "login_url": absolute("lti-login"),
        "launch_url": absolute("lti-launch"),
        "jwks_url": absolute("lti-jwks"),
        "deep_link_url": absolute("lti-launch"),
        "domain": request.get_host(),
        "origin": f"{request.scheme}://{request.get_host()}",
    }


@never_cache
def jwks(request: HttpRequest) -> JsonResponse:
    services.tool_key_first_create()
    return JsonResponse(selectors.jwks_get())


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
@_lti_errors
def oidc_login(request: HttpRequest) -> HttpResponse:
    params = {k: v for k, v in (request.POST if request.method == "POST" else request.GET).items()}
    start = services.login_start(
        params=params, redirect_uri=request.build_absolute_uri(reverse("lti-launch"))
    )
    origins = selectors.frame_origins_get(registration=start.state.registration, urls=[])
    if start.storage_target:
        response = _frameable(
            render(
                request,
                "lti/storage_put.html",
                {
                    "auth_url": start.url,
                    "state": start.state.state,
                    "nonce": start.state.nonce,
                    "target": start.storage_target,
                    "platform_origin": _origin_of(start.state.registration.auth_login_url),
                },
            ),
            origins,
        )
    else:
        response = redirect(start.url)
    # Bound to this browser; SameSite=None because the launch is a cross-site
    # POST from the platform (docs/lms.md, "Cookies and frames").
    response.set_cookie(
        STATE_COOKIE_PREFIX + start.state.state,
        start.state.state,
        max_age=int(services.LOGIN_STATE_TTL.total_seconds()),
        secure=True,
        httponly=True,
        samesite="None",
    )
    _partition(response, STATE_COOKIE_PREFIX + start.state.state)
    return response


def _partition(response: HttpResponse, name: str) -> None:
    """Mark a SameSite=None cookie `Partitioned` (CHIPS): Python 3.11's cookie
    module has no such attribute, so it rides on SameSite's value."""
    morsel = response.cookies.get(name)
    if morsel is not None and morsel["samesite"] == "None":
        morsel["samesite"] = "None; Partitioned"


def _same_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin", "")
    return bool(origin) and origin == f"{request.scheme}://{request.get_host()}"


@csrf_exempt
@never_cache
@require_http_methods(["POST"])
@_lti_errors
def launch(request: HttpRequest) -> HttpResponse:
    id_token = request.POST.get("id_token", "")
    state = request.POST.get("state", "")
    if not state:
        raise LtiError("The launch has no state.", code="lti_unknown_state")
    login_state = services.login_state_for(state=state)
    result = services.launch_validate(id_token=id_token, login_state=login_state)
    cookie_ok = request.COOKIES.get(STATE_COOKIE_PREFIX + state) == state
    storage_ok = (
        bool(login_state.storage_target)
        and request.POST.get("lti_storage_state") == state
        and _same_origin(request)  # posted by our own check page, not another site
    )
    origins = selectors.frame_origins_get(registration=result.registration, urls=[])
    if not cookie_ok and not storage_ok:
        if login_state.storage_target and "lti_storage_state" not in request.POST:
            page = render(
                request,
                "lti/storage_get.html",
                {
                    "id_token": id_token,
                    "state": state,
                    "target": login_state.storage_target,
                    "platform_origin": _origin_of(login_state.registration.auth_login_url),
                    "login_again_url": reverse("lti-login")
                    + "?"
                    + urlencode(login_state.login_params),
                },
            )
            return _frameable(page, origins)
        # No proof that this browser started the login: the id_token is spent,
        # and the learner restarts the login in a top-level window.
        services.login_state_consume(login_state=login_state)
        log.info("lti: state cookie missing for %s, offering a new window", login_state.pk)
        page = render(
            request,
            "lti/new_window.html",
            {"login_again_url": reverse("lti-login") + "?" + urlencode(login_state.login_params)},
            status=401,
        )
        return _frameable(page, origins)
    services.login_state_consume(login_state=login_state)
    try:
        outcome = services.launch_apply(launch=result, url_for_target=services.target_url)
    except ConflictError:
        # A simultaneous first launch (same user or same LMS course) created
        # the rows first; this attempt rolled back and now finds them.
        outcome = services.launch_apply(launch=result, url_for_target=services.target_url)
    login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
    presentation = result.claims.get(C.LAUNCH_PRESENTATION)
    presentation = presentation if isinstance(presentation, dict) else {}
    request.session[EMBED_SESSION_KEY] = selectors.frame_origins_get(
        registration=result.registration,
        urls=[
            presentation.get("return_url"),
            services.deep_link_return_url(result.claims),
        ],
    )
    if outcome.course is None:
        messages.info(
            request,
            _(
                "You came from your LMS outside a course, so Roundtable opened your home page. "
                "Open Roundtable from inside a course to go straight to it."
            ),
        )
    response = redirect(outcome.redirect_url)
    response.delete_cookie(STATE_COOKIE_PREFIX + state, samesite="None")
    log.info(
        "lti: launch %s user %s course %s role %s",
        result.message_type,
        outcome.user.pk,
        outcome.course.pk if outcome.course else None,
        outcome.role,
    )
    return response


@never_cache
@login_required
@_lti_errors
def deep_link(request: HttpRequest, token: str) -> HttpResponse:
    session = services.deep_link_session_take(token=token, user=request.user)
    choices = selectors.deep_link_choices_get(course=session.course, user=request.user)
    errors: list[str] = []
    if request.method == "POST":
        items = []
        picked = request.POST.getlist("item")
        sessions = {str(s.pk): s for s in choices["sessions"]}
        recordings = {str(r.pk): r for r in choices["recordings"]}
        for value in picked:
            kind, _, ident = value.partition(":")
            if kind == "home":
                items.append({"title": session.course.title, "custom": {}})
            elif kind == "session" and ident in sessions:
                items.append(
                    {"title": sessions[ident].title, "custom": {"roundtable_session_id": ident}}
                )
            elif kind == "recording" and ident in recordings:
                items.append(
                    {
                        "title": recordings[ident].title,
                        "custom": {"roundtable_recording_id": ident},
                    }
                )
            else:
                errors.append(f"Unknown item {value!r}.")
        if request.POST.get("gradebook") == "on":
            try:
                maximum = float(request.POST.get("score_maximum", "100"))
            except ValueError:
                maximum = -1
            if not 0 < maximum <= 10000:
                errors.append("The maximum score must be a number between 0 and 10000.")
            for item in items:
                item["line_item"] = {"label": item["title"], "score_maximum": maximum}
        if not errors:
            return_url, token_jwt = services.deep_link_respond(
                session=session,
                items=items,
                launch_url=request.build_absolute_uri(reverse("lti-launch")),
            )
            return render(
                request, "lti/deep_link_return.html", {"return_url": return_url, "jwt": token_jwt}
            )
    return render(
        request,
        "lti/deep_link.html",
        {
            "course": session.course,
            "choices": choices,
            "errors": errors,
            "accept_multiple": session.settings.get("accept_multiple", True) is not False,
        },
        status=400 if errors else 200,
    )


@never_cache
@require_http_methods(["GET"])
@_lti_errors
def dynamic_registration(request: HttpRequest, token: str) -> HttpResponse:
    """Opened by the LMS (admin pasted this one-time URL): register and close."""
    configuration = request.GET.get("openid_configuration", "")
    if not configuration:
        raise LtiError(
            "Paste this URL into the LMS's dynamic registration field; opened directly it has no "
            "openid_configuration.",
            code="lti_dr_invalid",
        )
    registration = services.dynamic_registration_run(
        token=token,
        openid_configuration=configuration,
        registration_token=request.GET.get("registration_token", ""),
        tool=_tool_urls(request),
    )
    response = render(request, "lti/registered.html", {"registration": registration})
    # The LMS shows this page in its own dialog.
    response["Content-Security-Policy"] = "frame-ancestors " + " ".join(
        [_origin_of(registration.issuer), _origin_of(registration.auth_login_url)]
    )
    response.xframe_options_exempt = True
    return response


@staff_member_required
@never_cache
@_lti_errors
def setup(request: HttpRequest) -> HttpResponse:
    invite_url = ""
    if request.method == "POST":
        _invite, token = services.registration_invite_create(
            actor=request.user, label=request.POST.get("label", "")
        )
        invite_url = request.build_absolute_uri(reverse("lti-register", args=[token]))
    urls = _tool_urls(request)
    return render(
        request,
        "lti/setup.html",
        {
            "urls": urls,
            "invite_url": invite_url,
            "registrations": Registration.objects.prefetch_related("deployments").order_by("name"),
            "canvas_json": selectors.canvas_config_get(urls=urls),
            "lms_list": selectors.lms_setup_get(urls=urls),
        },
    )


@never_cache
@login_required
@_lti_errors
def context_link(request: HttpRequest, context_id: int) -> HttpResponse:
    """An instructor's first launch created a course; they may use one of the
    courses they already teach instead."""
    context = selectors.context_for_instructor(user=request.user, context_id=context_id)
    courses = selectors.courses_taught_get(user=request.user, exclude=context.course)
    if request.method == "POST":
        chosen = next((c for c in courses if str(c.pk) == request.POST.get("course")), None)
        if chosen is None:
            raise LtiError("Choose one of the courses you teach.", code="lti_invalid_course")
        services.context_course_relink(context=context, course=chosen, actor=request.user)
        return redirect("course-detail", course_id=chosen.pk)
    return render(request, "lti/context_link.html", {"context": context, "courses": courses})


@never_cache
@login_required
@_lti_errors
def context_services(request: HttpRequest, context_id: int) -> HttpResponse:
    """Staff page of an LMS course's services: roster sync (button, last
    results) and grade passback (what to send, what was sent, what failed)."""
    from lti import ags
    from lti.models import RosterSync
    from lti.tasks import enqueue, grades_push_task, roster_sync_task

    context = selectors.context_for_staff(user=request.user, context_id=context_id)
    setting = ags.gradebook_setting_get(context=context)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "sync":
            if not context.memberships_url:
                raise LtiError(
                    "The LMS did not give a memberships URL for this course.",
                    code="lti_no_nrps",
                    status=409,
                )
            queued = enqueue(roster_sync_task, context.pk, RosterSync.Trigger.STAFF)
        elif action in ("gradebook", "push"):
            if action == "gradebook":
                setting = ags.gradebook_setting_update(
                    context=context,
                    **{name: request.POST.get(name) == "on" for name in ags.SETTING_NAMES},
                )
            queued = enqueue(grades_push_task, context.pk) if context.lineitems_url else True
        else:
            raise LtiError("Unknown action.", code="lti_bad_action")
        if not queued:
            raise LtiError(
                "The job queue cannot be reached right now: try again in a minute.",
                code="lti_queue_unavailable",
                status=503,
            )
        return redirect("lti-context-services", context_id=context.pk)
    return render(
        request,
        "lti/context_services.html",
        {
            "context": context,
            "setting": setting,
            "syncs": selectors.roster_sync_list(context=context),
            "grades": selectors.grade_status_get(context=context),
            "review_available": ags.review_available(),
        },
    )


@never_cache
@login_required
@_lti_errors
def course_services(request: HttpRequest, course_id: int) -> HttpResponse:
    """The LMS services of a course: its LMS course's page (the first, when
    several LMS courses feed it, with links to the others)."""
    from courses.access import course_role_get
    from courses.models import Role

    contexts = selectors.contexts_of_course(course=course_id)
    if not contexts or course_role_get(user=request.user, course=course_id) not in (
        Role.INSTRUCTOR,
        Role.TA,
    ):
        raise LtiError(
            "This course is not linked to an LMS course you teach.",
            code="lti_not_course_staff",
            status=403,
        )
    return redirect("lti-context-services", context_id=contexts[0].pk)
