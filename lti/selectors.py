"""Reads of the LTI tool."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db.models import Q
from django.utils import timezone

from lti.models import Registration, ToolKey


def signing_key_get() -> ToolKey | None:
    """The most recently created key that may sign now."""
    now = timezone.now()
    return (
        ToolKey.objects.filter(use_after__lte=now)
        .filter(Q(retire_after__isnull=True) | Q(retire_after__gt=now))
        .order_by("-id")
        .first()
    )


def jwks_get() -> dict:
    """Our published public keys: every key not retired yet (a new key is
    published before it signs)."""
    now = timezone.now()
    keys = ToolKey.objects.filter(Q(retire_after__isnull=True) | Q(retire_after__gt=now)).order_by(
        "use_after", "id"
    )
    return {"keys": [key.public_jwk for key in keys]}


def platform_origins_get() -> list[str]:
    """Origins of every active registration (frame-ancestors of error pages,
    where the launch's platform may be unknown)."""
    origins: set[str] = set()
    for registration in Registration.objects.filter(is_active=True):
        origins.update(frame_origins_get(registration=registration, urls=[]))
    return sorted(origins)


def frame_origins_get(*, registration: Registration, urls: list) -> list[str]:
    """Origins that may frame this launch's pages (`frame-ancestors`): the
    platform's issuer and auth endpoint, and the LMS URLs its signed launch
    named (return URLs: a Canvas school's host differs from its issuer)."""
    origins: set[str] = set()
    for url in [registration.issuer, registration.auth_login_url, *urls]:
        if not isinstance(url, str):
            continue
        parts = urlsplit(url)
        if parts.scheme in ("https", "http") and parts.netloc and " " not in parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def recording_in_course(*, course, recording_id: int) -> bool:
    from playback.selectors import recording_list_get

    return any(
        row["recording"].pk == recording_id
        for row in recording_list_get(course=course, user=None, is_staff=True)
    )


def deep_link_choices_get(*, course, user) -> dict:
    from classroom.selectors import live_session_list
    from playback.selectors import recording_list_get

    return {
        "sessions": list(live_session_list(course=course)),
        "recordings": [
            row["recording"] for row in recording_list_get(course=course, user=user, is_staff=True)
        ],
    }


def canvas_config_get(*, urls: dict[str, str]) -> str:
    """The JSON to paste into a Canvas LTI developer key ("Paste JSON")."""
    import json

    from lti import claims as C

    placement = {
        "target_link_uri": urls["launch_url"],
        "message_type": C.DEEP_LINKING_REQUEST,
        "text": "Roundtable",
    }
    config = {
        "title": "Roundtable",
        "description": "Live classes at tables, recordings and playback rooms.",
        "oidc_initiation_url": urls["login_url"],
        "target_link_uri": urls["launch_url"],
        "public_jwk_url": urls["jwks_url"],
        "scopes": [C.SCOPE_NRPS, C.SCOPE_LINEITEM, C.SCOPE_SCORE, C.SCOPE_RESULT],
        "extensions": [
            {
                "domain": urls["domain"],
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "message_type": C.RESOURCE_LINK_REQUEST,
                            "target_link_uri": urls["launch_url"],
                            "text": "Roundtable",
                        },
                        {"placement": "link_selection", **placement},
                        {"placement": "assignment_selection", **placement},
                    ]
                },
            }
        ],
        "custom_fields": {},
    }
    return json.dumps(config, indent=2)


def lms_setup_get(*, urls: dict[str, str]) -> list[dict]:
    """Per LMS: where to go, each field of its tool form with the value to
    paste (this server's URLs), and what to copy back into our registration."""
    login, launch, jwks = urls["login_url"], urls["launch_url"], urls["jwks_url"]
    domain, origin = urls["domain"], urls["origin"]
    return [
        {
            "name": "Canvas",
            "where": "Admin → Developer Keys → + Developer Key → + LTI Key → Method: Paste JSON "
            "(the JSON below); turn the key ON, then Settings → Apps → + App → By Client ID.",
            "fields": [
                ("Redirect URIs", launch),
                ("JSON (Paste JSON)", "below"),
            ],
            "back": "Issuer https://canvas.instructure.com; client id = the developer key's id; "
            "deployment id = shown by the app (Settings → Apps → ⚙ → Deployment Id); auth "
            "https://sso.canvaslms.com/api/lti/authorize_redirect; token "
            "https://sso.canvaslms.com/login/oauth2/token; keyset "
            "https://sso.canvaslms.com/api/lti/security/jwks.",
        },
        {
            "name": "Blackboard",
            "where": "Anthology Developer Portal → My Apps → + → Register LTI 1.3/Advantage "
            "Tool; then in Blackboard: System Admin → LTI Tool Providers → Register LTI "
            "1.3/Advantage Tool with the application id.",
            "fields": [
                ("Domain(s)", domain),
                ("Login Initiation URL", login),
                ("Tool Redirect URL(s)", launch),
                ("Tool JWKS URL", jwks),
                ("Signing Algorithm", "RS256"),
            ],
            "back": "Issuer https://blackboard.com; client id = the Application ID; deployment "
            "id = shown on the tool provider in Blackboard; auth, token and keyset URLs = the "
            "portal's OIDC auth request endpoint, Auth token endpoint and Public keyset URL.",
        },
        {
            "name": "Moodle",
            "where": "Site administration → Plugins → Activity modules → External tool → "
            "Manage tools: paste the one-time registration URL under Tool URL → Add LTI "
            "Advantage (Dynamic Registration); or configure a tool manually:",
            "fields": [
                ("Tool URL", launch),
                ("LTI version", "LTI 1.3"),
                ("Public key type", "Keyset URL"),
                ("Public keyset", jwks),
                ("Initiate login URL", login),
                ("Redirection URI(s)", launch),
                ("Supports Deep Linking (Content-Item Message)", "on"),
                ("Content Selection URL", launch),
                (
                    "IMS LTI Assignment and Grade Services",
                    "Use this service for grade sync and column management",
                ),
                (
                    "IMS LTI Names and Role Provisioning",
                    "Use this service to retrieve members' information as per privacy settings",
                ),
                (
                    "Share launcher's name / email with tool",
                    "Always (or never: Roundtable works without them)",
                ),
            ],
            "back": "The tool's View configuration details: Platform ID (issuer), Client ID, "
            "Deployment ID, Public keyset URL, Access token URL, Authentication request URL.",
        },
        {
            "name": "Brightspace",
            "where": "Admin Tools → Manage Extensibility → LTI Advantage → Register Tool: "
            "Dynamic (paste the one-time registration URL) or Standard:",
            "fields": [
                ("Domain", origin),
                ("Redirect URLs", launch),
                ("OpenID Connect Login URL", login),
                ("Target Link URI", launch),
                ("Keyset URL", jwks),
                (
                    "Extensions",
                    "Assignment and Grade Services, Deep Linking, Names and Role Provisioning Services",
                ),
            ],
            "back": "Issuer, Client Id, Brightspace Keyset URL, OAuth2 Access Token URL, OpenID "
            "Connect Authentication Endpoint and OAuth2 Audience (our token audience) from the "
            "registration; then View Deployments → New Deployment: its Deployment Id.",
        },
        {
            "name": "Sakai",
            "where": "Administration Workspace → External Tools → Install LTI 1.x Tool (or LTI "
            "Dynamic Registration with the one-time URL), LTI 1.3 on:",
            "fields": [
                ("Launch URL", launch),
                ("LTI 1.3 OpenID Connect Login Initiation URL", login),
                ("LTI 1.3 Tool Redirect Endpoint(s)", launch),
                ("LTI 1.3 Tool Keyset URL", jwks),
                ("Allow the tool to use Deep Linking / Assignments and Grades / Roster", "on"),
            ],
            "back": "The tool's LTI 1.3 page: Issuer, Client ID, Deployment ID, Keyset URL, "
            "Token URL, OIDC Authentication URL.",
        },
    ]


def context_for_instructor(*, user, context_id: int):
    """The LMS context, if the user is an instructor of its course; else an
    LtiError 404 (nothing is confirmed to others)."""
    from courses.access import course_role_get
    from courses.models import Role
    from lti.errors import LtiError
    from lti.models import LtiContext

    context = LtiContext.objects.select_related("course").filter(pk=context_id).first()
    if context is None or course_role_get(user=user, course=context.course) != Role.INSTRUCTOR:
        raise LtiError("LMS course not found.", code="lti_context_not_found", status=404)
    return context


def courses_taught_get(*, user, exclude) -> list:
    from courses.models import Role
    from courses.selectors import course_list_for_user

    return list(
        course_list_for_user(user=user).filter(viewer_role=Role.INSTRUCTOR).exclude(pk=exclude.pk)
    )


def context_for_staff(*, user, context_id: int):
    """The LMS context, if the user teaches its course (instructor or TA);
    else an LtiError 403 (learners, other courses, unknown ids alike)."""
    from courses.access import course_role_get
    from courses.models import Role
    from lti.errors import LtiError
    from lti.models import LtiContext

    context = (
        LtiContext.objects.select_related("course", "deployment__registration")
        .filter(pk=context_id)
        .first()
    )
    if context is None or course_role_get(user=user, course=context.course) not in (
        Role.INSTRUCTOR,
        Role.TA,
    ):
        raise LtiError(
            "Only the instructors and TAs of this LMS course can see its LMS services.",
            code="lti_not_course_staff",
            status=403,
        )
    return context


def contexts_of_course(*, course) -> list:
    from lti.models import LtiContext

    course_id = course if isinstance(course, int) else course.pk
    return list(LtiContext.objects.filter(course_id=course_id).order_by("id"))


def roster_sync_list(*, context, limit: int = 10) -> list:
    from lti.models import RosterSync

    return list(RosterSync.objects.filter(context=context)[:limit])


def grade_status_get(*, context, failed_limit: int = 50) -> dict:
    """What was sent to the LMS gradebook: per line item the counts by status
    and the last send; the latest failures with their reasons (three queries)."""
    from django.db.models import Count, Max, Q

    from lti.models import LineItem, ScoreSend

    items = list(
        LineItem.objects.filter(context=context)
        .annotate(
            sent=Count("scores", filter=Q(scores__status=ScoreSend.Status.SENT)),
            failed=Count("scores", filter=Q(scores__status=ScoreSend.Status.FAILED)),
            pending=Count("scores", filter=Q(scores__status=ScoreSend.Status.PENDING)),
            last_sent_at=Max("scores__sent_at"),
        )
        .order_by("kind", "object_id")
    )
    failures = list(
        ScoreSend.objects.filter(line_item__context=context, status=ScoreSend.Status.FAILED)
        .select_related("line_item", "user")
        .order_by("-updated_at")[:failed_limit]
    )
    recent = list(
        ScoreSend.objects.filter(line_item__context=context, status=ScoreSend.Status.SENT)
        .select_related("line_item", "user")
        .order_by("-sent_at")[:50]
    )
    return {"items": items, "failures": failures, "recent": recent}
