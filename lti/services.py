"""Every write of the LTI tool: keys, registrations, login states, launches,
deep linking, Dynamic Registration. docs/lms.md explains the flows."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from classroom.selectors import live_session_list, seat_map_get
from classroom.services.seating import seating_auto
from courses.models import Course, Role, User
from courses.services import course_create, enrollment_set, user_create
from lti import claims as C
from lti.errors import LtiError
from lti.models import (
    DeepLinkSession,
    Deployment,
    LoginState,
    LtiContext,
    LtiIdentity,
    LtiResourceLink,
    Registration,
    RegistrationInvite,
    ToolKey,
)
from lti.roles import role_map
from lti.selectors import recording_in_course, signing_key_get

log = logging.getLogger("lti")

LOGIN_STATE_TTL = timedelta(minutes=10)
DEEP_LINK_TTL = timedelta(minutes=30)
JWT_LEEWAY_SECONDS = 60
TOKEN_LIFETIME = timedelta(minutes=5)  # our deep-link responses and service assertions
JWKS_REFETCH_MIN_SECONDS = 30  # an unknown kid refetches at most this often


def _setting(name: str, default):
    return getattr(settings, name, default)


def http_timeout() -> tuple[float, float]:
    return (_setting("LTI_HTTP_CONNECT_TIMEOUT", 3.0), _setting("LTI_HTTP_READ_TIMEOUT", 5.0))


# --- Keys ------------------------------------------------------------------------------


def _key_new(*, use_after) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = uuid.uuid4().hex
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return ToolKey.objects.create(
        kid=kid, private_pem=pem, public_jwk=public_jwk, use_after=use_after
    )


def tool_key_first_create() -> None:
    """Create the very first key (usable at once) if there is no key at all."""
    # Two first requests at once may each create one: both are published and
    # valid, and the newer signs, which is harmless.
    if not ToolKey.objects.exists():
        _key_new(use_after=timezone.now())


def tool_key_ensure() -> ToolKey:
    """The key that signs now."""
    tool_key_first_create()
    key = signing_key_get()
    if key is None:
        raise LtiError(
            "No tool key may sign yet (a rotation's new key is still in its lead time and "
            "no older key is valid): run lti_rotate_keys --lead 0.",
            code="lti_no_key",
            status=409,
        )
    return key


def tool_key_rotate(*, lead: timedelta | None = None) -> ToolKey:
    """Publish a new key now; it signs after `lead` (platforms cache our JWKS);
    the keys it replaces stay published until the tokens they signed expired."""
    lead = lead if lead is not None else timedelta(seconds=_setting("LTI_KEY_PUBLISH_LEAD", 3600))
    with transaction.atomic():
        now = timezone.now()
        new = _key_new(use_after=now + lead)
        ToolKey.objects.exclude(pk=new.pk).filter(retire_after__isnull=True).update(
            retire_after=new.use_after + TOKEN_LIFETIME
        )
    return new


def tool_jwt_sign(payload: dict[str, Any]) -> str:
    key = tool_key_ensure()
    return jwt.encode(payload, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


# --- Registrations ---------------------------------------------------------------------


def registration_create(
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    keyset_url: str,
    auth_token_url: str = "",
    auth_token_audience: str = "",
    name: str = "",
    scopes: list[str] | None = None,
    deployment_ids: list[str] | None = None,
    product_family_code: str = "",
) -> Registration:
    with transaction.atomic():
        if Registration.objects.filter(issuer=issuer, client_id=client_id).exists():
            raise LtiError(
                "A registration with this issuer and client id exists already.",
                code="lti_registration_exists",
                status=409,
            )
        registration = Registration.objects.create(
            issuer=issuer,
            client_id=client_id,
            auth_login_url=auth_login_url,
            keyset_url=keyset_url,
            auth_token_url=auth_token_url,
            auth_token_audience=auth_token_audience,
            name=name,
            scopes=scopes or [],
            product_family_code=product_family_code,
        )
        for deployment_id in deployment_ids or []:
            deployment_add(registration=registration, deployment_id=deployment_id)
    return registration


def deployment_add(*, registration: Registration, deployment_id: str, name: str = "") -> Deployment:
    deployment, _ = Deployment.objects.get_or_create(
        registration=registration, deployment_id=deployment_id, defaults={"name": name}
    )
    return deployment


def _http_json(method: str, url: str, **kwargs) -> Any:
    try:
        response = requests.request(method, url, timeout=http_timeout(), **kwargs)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise LtiError(
            f"The platform did not answer {url} usefully ({error.__class__.__name__}).",
            code="lti_platform_unreachable",
            status=424,
        ) from error


def platform_key_get(*, registration: Registration, kid: str):
    """The platform's public key `kid`: from the cached JWKS while it is fresh;
    refetched (with timeouts) when stale, or once when `kid` is unknown (at most
    every JWKS_REFETCH_MIN_SECONDS, so unknown kids cannot make us hammer it)."""
    now = timezone.now()
    max_age = _setting("LTI_JWKS_CACHE_SECONDS", 3600)
    fetched = registration.jwks_fetched_at
    fresh = fetched is not None and (now - fetched).total_seconds() < max_age
    key = _jwk_find(registration.jwks_cache, kid)
    if key is not None and fresh:
        return key
    recently = fetched is not None and (now - fetched).total_seconds() < JWKS_REFETCH_MIN_SECONDS
    if not recently:
        jwks = _http_json("GET", registration.keyset_url)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise LtiError(
                "The platform's JWKS URL did not return a key set.",
                code="lti_platform_jwks_invalid",
                status=424,
            )
        Registration.objects.filter(pk=registration.pk).update(jwks_cache=jwks, jwks_fetched_at=now)
        registration.jwks_cache, registration.jwks_fetched_at = jwks, now
        key = _jwk_find(jwks, kid)
    if key is None:
        raise LtiError(
            f"The platform signed with key id {kid!r}, which its JWKS does not list.",
            code="lti_unknown_kid",
        )
    return key


def _jwk_find(jwks: dict, kid: str):
    for jwk in (jwks or {}).get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kid") == kid and jwk.get("kty") == "RSA":
            try:
                return jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError):
                return None
    return None


# --- OIDC login initiation -------------------------------------------------------------


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: LoginState
    storage_target: str


def login_start(*, params: dict[str, str], redirect_uri: str) -> LoginRedirect:
    """Check the login initiation, remember state and nonce, and build the
    platform's auth URL."""
    issuer = params.get("iss", "")
    client_id = params.get("client_id", "")
    login_hint = params.get("login_hint", "")
    if not issuer or not login_hint or not params.get("target_link_uri"):
        raise LtiError(
            "The login initiation lacks iss, login_hint or target_link_uri.",
            code="lti_login_invalid",
        )
    if not client_id:
        raise LtiError(
            "The login initiation has no client_id: Roundtable identifies a platform by issuer "
            "and client id together. Have the platform send client_id.",
            code="lti_login_no_client",
        )
    registration = Registration.objects.filter(
        issuer=issuer, client_id=client_id, is_active=True
    ).first()
    if registration is None:
        raise LtiError(
            f"No active registration for issuer {issuer!r} and client id {client_id!r}.",
            code="lti_unknown_registration",
            status=403,
        )
    deployment_id = params.get("lti_deployment_id", "")
    if deployment_id and not registration.deployments.filter(deployment_id=deployment_id).exists():
        raise LtiError(
            f"Deployment {deployment_id!r} is not known for this registration.",
            code="lti_unknown_deployment",
            status=403,
        )
    storage_target = params.get("lti_storage_target", "")[:100]
    kept = {
        k: params[k]
        for k in (
            "iss",
            "client_id",
            "login_hint",
            "lti_message_hint",
            "target_link_uri",
            "lti_deployment_id",
        )
        if params.get(k)
    }
    # Spent and expired states are kept a day (to name a replay), then dropped.
    LoginState.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    state = LoginState.objects.create(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        registration=registration,
        login_params=kept,
        storage_target=storage_target,
        expires_at=timezone.now() + LOGIN_STATE_TTL,
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state.state,
        "nonce": state.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    from urllib.parse import urlencode

    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginRedirect(
        url=registration.auth_login_url + separator + urlencode(query),
        state=state,
        storage_target=storage_target,
    )


# --- Launch validation -----------------------------------------------------------------


@dataclass
class Launch:
    registration: Registration
    deployment: Deployment
    claims: dict[str, Any]
    login_state: LoginState

    @property
    def message_type(self) -> str:
        return self.claims[C.MESSAGE_TYPE]


def login_state_for(*, state: str) -> LoginState:
    login_state = (
        LoginState.objects.select_related("registration").filter(state=state).first()
        if state
        else None
    )
    if login_state is None:
        raise LtiError(
            "The launch's state was not issued by Roundtable's login endpoint.",
            code="lti_unknown_state",
        )
    if login_state.consumed_at is not None:
        raise LtiError(
            "This launch was already used (the nonce is single-use): start it again from the LMS.",
            code="lti_replayed",
        )
    if login_state.expires_at <= timezone.now():
        raise LtiError("The login started too long ago.", code="lti_state_expired")
    return login_state


def launch_validate(*, id_token: str, login_state: LoginState) -> Launch:
    """Validate the id_token for this login state; every failure is an
    LtiError with the reason for the admin. Does not consume the nonce."""
    if not id_token:
        raise LtiError("The launch has no id_token.", code="lti_no_id_token")
    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise LtiError("The id_token is not a JWT.", code="lti_not_jwt") from error
    if header.get("alg") != "RS256":
        raise LtiError("The id_token must be signed with RS256.", code="lti_bad_alg")
    kid = header.get("kid")
    if not kid or not isinstance(kid, str):
        raise LtiError("The id_token's header has no kid.", code="lti_no_kid")
    issuer = unverified.get("iss")
    audience = unverified.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(issuer, str) or not isinstance(audiences, list) or not audiences:
        raise LtiError("The id_token lacks iss or aud.", code="lti_missing_claim")
    registration = login_state.registration
    known = Registration.objects.filter(
        issuer=issuer, client_id__in=[a for a in audiences if isinstance(a, str)], is_active=True
    ).exists()
    if not known:
        raise LtiError(
            f"No registration for issuer {issuer!r} and audience {audiences!r}.",
            code="lti_unknown_registration",
            status=403,
        )
    if registration.issuer != issuer or registration.client_id not in audiences:
        raise LtiError(
            "The id_token was issued for another registration than the login.",
            code="lti_wrong_audience",
            status=403,
        )
    azp = unverified.get("azp")
    if len(audiences) > 1 and azp is None:
        raise LtiError(
            "The id_token has several audiences and no azp.", code="lti_wrong_audience", status=403
        )
    if azp is not None and azp != registration.client_id:
        raise LtiError(
            f"The id_token's azp {azp!r} is not our client id.",
            code="lti_wrong_audience",
            status=403,
        )
    key = platform_key_get(registration=registration, kid=kid)
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=registration.client_id,
            issuer=registration.issuer,
            leeway=JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise LtiError("The id_token has expired.", code="lti_bad_timestamps") from error
    except jwt.ImmatureSignatureError as error:
        raise LtiError(
            "The id_token is issued in the future.", code="lti_bad_timestamps"
        ) from error
    except jwt.InvalidSignatureError as error:
        raise LtiError(
            "The id_token's signature does not match the platform key.", code="lti_bad_signature"
        ) from error
    except jwt.MissingRequiredClaimError as error:
        raise LtiError(
            f"The id_token lacks the {error.claim!r} claim.", code="lti_missing_claim"
        ) from error
    except jwt.PyJWTError as error:
        raise LtiError(f"The id_token is invalid: {error}.", code="lti_invalid_token") from error
    if not isinstance(claims.get("iat"), int | float) or not isinstance(
        claims.get("exp"), int | float
    ):
        raise LtiError("The id_token's iat and exp must be numbers.", code="lti_bad_timestamps")
    if not secrets.compare_digest(str(claims.get("nonce")), login_state.nonce):
        raise LtiError("The id_token's nonce was not issued for this login.", code="lti_bad_nonce")
    deployment = _claims_check(claims, registration)
    return Launch(
        registration=registration, deployment=deployment, claims=claims, login_state=login_state
    )


def _claims_check(claims: dict, registration: Registration) -> Deployment:
    def missing(name: str) -> LtiError:
        return LtiError(f"The launch lacks the {name} claim.", code="lti_missing_claim")

    if claims.get(C.VERSION) != "1.3.0":
        raise LtiError(
            f"LTI version {claims.get(C.VERSION)!r} is not 1.3.0.", code="lti_bad_version"
        )
    message_type = claims.get(C.MESSAGE_TYPE)
    if not message_type:
        raise missing("message_type")
    if message_type not in (C.RESOURCE_LINK_REQUEST, C.DEEP_LINKING_REQUEST):
        raise LtiError(
            f"Roundtable does not handle {message_type!r} messages.", code="lti_bad_message_type"
        )
    if not isinstance(claims.get(C.ROLES), list):
        raise missing("roles")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise missing("sub")
    deployment_id = claims.get(C.DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not deployment_id:
        raise missing("deployment_id")
    deployment = registration.deployments.filter(deployment_id=deployment_id).first()
    if deployment is None:
        raise LtiError(
            f"Deployment {deployment_id!r} is not registered for this platform.",
            code="lti_unknown_deployment",
            status=403,
        )
    if message_type == C.RESOURCE_LINK_REQUEST:
        link = claims.get(C.RESOURCE_LINK)
        if not isinstance(link, dict) or not link.get("id"):
            raise missing("resource_link.id")
        if not claims.get(C.TARGET_LINK_URI):
            raise missing("target_link_uri")
    else:
        dl = claims.get(C.DL_SETTINGS)
        if not isinstance(dl, dict) or not dl.get("deep_link_return_url"):
            raise missing("deep_linking_settings.deep_link_return_url")
    context = claims.get(C.CONTEXT)
    if message_type == C.DEEP_LINKING_REQUEST and (
        not isinstance(context, dict) or not context.get("id")
    ):
        # Content is added to a course: without one there is nothing to pick
        # from. A resource link without a context is valid (the certification's
        # "without context" launches): it signs the user in, see launch_apply.
        raise LtiError(
            "Adding Roundtable content needs a course: open the content dialog inside a course.",
            code="lti_no_context",
        )
    if context is not None and not isinstance(context, dict):
        raise LtiError("The context claim must be an object.", code="lti_invalid_token")
    custom = claims.get(C.CUSTOM, {})
    if not isinstance(custom, dict):
        raise LtiError("The custom claim must be an object.", code="lti_invalid_token")
    return deployment


def login_state_consume(*, login_state: LoginState) -> None:
    """Single use: the first consumer wins; a replayed id_token is refused."""
    updated = LoginState.objects.filter(pk=login_state.pk, consumed_at__isnull=True).update(
        consumed_at=timezone.now()
    )
    if updated != 1:
        raise LtiError(
            "This launch was already used (the nonce is single-use): start it again from the LMS.",
            code="lti_replayed",
        )


# --- Provisioning ------------------------------------------------------------------------


@dataclass
class LaunchResult:
    user: User
    course: Course | None
    role: str
    redirect_url: str
    created: dict[str, bool] = field(default_factory=dict)


_USERNAME_SAFE = re.compile(r"[^\w.@+-]")


def _claims_name(claims: dict) -> str:
    return (
        " ".join(
            str(claims.get(k, "")).strip() for k in ("given_name", "family_name") if claims.get(k)
        )
        or str(claims.get("name", "")).strip()
    )[:150]


def _claims_email(claims: dict, *, user: User | None = None) -> str:
    """The launch's email if valid and no other account has it (never link
    to an existing account by email alone: takeover risk)."""
    email = str(claims.get("email", "")).strip()[:254]
    try:
        validate_email(email)
    except DjangoValidationError:
        return ""
    others = User.objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    return "" if others.exists() else email


def _identity_user(*, launch: Launch) -> tuple[User, bool]:
    claims = launch.claims
    issuer, sub = launch.registration.issuer, claims["sub"]
    identity = LtiIdentity.objects.select_related("user").filter(issuer=issuer, sub=sub).first()
    if identity is not None:
        # The LMS is the source of the name and email: a later launch carries
        # a changed one (a corrected name, a new address) into Roundtable.
        user = identity.user
        changed = []
        name = _claims_name(claims)
        if name and name != user.display_name:
            user.display_name = name
            changed.append("display_name")
        email = _claims_email(claims, user=user) if claims.get("email") else ""
        if email and email.lower() != user.email.lower():
            user.email = email
            changed.append("email")
        if changed:
            user.save(update_fields=changed)
        return user, False
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:12]
    user = user_create(
        username=f"lti-{digest}",
        email=_claims_email(claims),
        display_name=_claims_name(claims) or f"LMS user {digest[:6]}",
    )
    LtiIdentity.objects.create(issuer=issuer, sub=sub, user=user, registration=launch.registration)
    return user, True


def _course_code(label: str, context_id: str, deployment: Deployment) -> str:
    """`<label>-<hash>`: the hash covers the platform, the deployment and the
    context id, so the same context id from another deployment or another
    customer of the same LMS (one Canvas issuer for all) gets its own code."""
    base = _USERNAME_SAFE.sub("-", (label or "LTI").strip())[:30] or "LTI"
    scope = f"{deployment.registration.issuer}\n{deployment.registration.client_id}\n"
    scope += f"{deployment.deployment_id}\n{context_id}"
    return f"{base}-{hashlib.sha256(scope.encode()).hexdigest()[:8]}"[:50]


def launch_apply(*, launch: Launch, url_for_target) -> LaunchResult:
    """Link the user, map the context to a course, enrol with the mapped role,
    seat a new learner, remember the link; all in one transaction."""
    claims = launch.claims
    role = role_map(claims.get(C.ROLES, []))
    context_claim = _object(claims.get(C.CONTEXT))
    if not context_claim.get("id"):
        return _launch_without_context(launch=launch, role=role)
    context_id = str(context_claim["id"])
    is_deep_link = launch.message_type == C.DEEP_LINKING_REQUEST
    if is_deep_link and role != Role.INSTRUCTOR:
        raise LtiError(
            "Only instructors can add Roundtable content.",
            code="lti_deep_link_forbidden",
            status=403,
        )
    created: dict[str, bool] = {}
    with transaction.atomic():
        context = (
            LtiContext.objects.select_for_update()
            .select_related("course")
            .filter(deployment=launch.deployment, context_id=context_id)
            .first()
        )
        if context is None and role != Role.INSTRUCTOR:
            raise LtiError(
                "This LMS course is not set up in Roundtable yet: an instructor must open "
                "Roundtable from it first.",
                code="lti_course_not_set_up",
                status=403,
            )
        user, created["user"] = _identity_user(launch=launch)
        if context is None:
            title = str(context_claim.get("title") or context_claim.get("label") or "LMS course")
            course = course_create(
                title=title[:200],
                code=_course_code(
                    str(context_claim.get("label", "")), context_id, launch.deployment
                ),
            )
            context = LtiContext.objects.create(
                deployment=launch.deployment,
                context_id=context_id,
                course=course,
                title=title[:255],
                label=str(context_claim.get("label", ""))[:255],
            )
            created["course"] = True
        course = context.course
        _context_services_update(context=context, claims=claims)
        if role in (Role.INSTRUCTOR, Role.LEARNER, Role.TA):
            from lti.nrps import roster_sync_on_launch

            roster_sync_on_launch(context=context)
        _, created["enrollment"] = enrollment_set(user=user, course=course, role=role)
        if role == Role.LEARNER and seat_map_get(course_id=course.pk):
            seating_auto(course=course, method="auto_fill", actor=None)
        custom = claims.get(C.CUSTOM) or {}
        if not is_deep_link:
            link_claim = claims[C.RESOURCE_LINK]
            ags = _object(claims.get(C.AGS))
            LtiResourceLink.objects.update_or_create(
                context=context,
                resource_link_id=str(link_claim["id"])[:255],
                defaults={
                    "title": str(link_claim.get("title", ""))[:255],
                    "custom": custom,
                    "lineitem_url": _url(ags.get("lineitem")),
                },
            )
            redirect_url = url_for_target(course=course, custom=custom)
            if created.get("course") and _teaches_elsewhere(user=user, course=course):
                # Offer to use one of their existing courses instead.
                redirect_url = reverse("lti-context-link", args=[context.pk])
        else:
            deep_link = DeepLinkSession.objects.create(
                token=secrets.token_urlsafe(32),
                user=user,
                deployment=launch.deployment,
                course=course,
                settings=claims[C.DL_SETTINGS],
                expires_at=timezone.now() + DEEP_LINK_TTL,
            )
            redirect_url = reverse("lti-deep-link", args=[deep_link.token])
    return LaunchResult(
        user=user, course=course, role=role, redirect_url=redirect_url, created=created
    )


def _launch_without_context(*, launch: Launch, role: str) -> LaunchResult:
    """A resource link placed outside any course (a user menu, an account
    page; the certification's "without context" launches): the user is linked
    and signed in, no course is created or joined, and they land on their
    Roundtable home (the courses they already have)."""
    with transaction.atomic():
        user, created_user = _identity_user(launch=launch)
    return LaunchResult(
        user=user,
        course=None,
        role=role,
        redirect_url=reverse("home"),
        created={"user": created_user},
    )


def _teaches_elsewhere(*, user: User, course: Course) -> bool:
    from courses.selectors import course_list_for_user

    return (
        course_list_for_user(user=user)
        .filter(viewer_role=Role.INSTRUCTOR)
        .exclude(pk=course.pk)
        .exists()
    )


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _url(value) -> str:
    return (
        value[:500] if isinstance(value, str) and value.startswith(("https://", "http://")) else ""
    )


def deep_link_return_url(claims: dict) -> str:
    return _url(_object(claims.get(C.DL_SETTINGS)).get("deep_link_return_url"))


def _context_services_update(*, context: LtiContext, claims: dict) -> None:
    nrps = _object(claims.get(C.NRPS))
    ags = _object(claims.get(C.AGS))
    scopes = ags.get("scope")
    values = {
        "memberships_url": _url(nrps.get("context_memberships_url")),
        "lineitems_url": _url(ags.get("lineitems")),
        "ags_scopes": [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
    }
    changed = [k for k, v in values.items() if v and getattr(context, k) != v]
    for k in changed:
        setattr(context, k, values[k])
    if changed:
        context.save(update_fields=[*changed, "updated_at"])


def target_url(*, course: Course, custom: dict) -> str:
    """Where a resource-link launch lands: the deep-linked session or recording
    of this course, else the course page."""
    session_id = str(custom.get("roundtable_session_id", ""))
    if session_id.isdigit():
        if live_session_list(course=course).filter(pk=int(session_id)).exists():
            return reverse("session-live", args=[int(session_id)])
    recording_id = str(custom.get("roundtable_recording_id", ""))
    if recording_id.isdigit() and recording_in_course(
        course=course, recording_id=int(recording_id)
    ):
        return reverse("recording-detail", args=[int(recording_id)])
    return reverse("course-detail", args=[course.pk])


def context_course_relink(*, context: LtiContext, course: Course, actor: User) -> LtiContext:
    """Point an LMS context at another course the actor teaches as instructor."""
    from courses.access import course_role_get

    if course_role_get(user=actor, course=course) != Role.INSTRUCTOR:
        raise LtiError(
            "You can only link courses you teach.", code="lti_not_instructor", status=403
        )
    if course_role_get(user=actor, course=context.course) != Role.INSTRUCTOR:
        raise LtiError(
            "Only an instructor of this LMS course can relink it.",
            code="lti_not_instructor",
            status=403,
        )
    with transaction.atomic():
        context.course = course
        context.save(update_fields=["course", "updated_at"])
        enrollment_set(user=actor, course=course, role=Role.INSTRUCTOR, actor=actor)
    return context


# --- Deep linking --------------------------------------------------------------------------


def deep_link_session_take(*, token: str, user: User) -> DeepLinkSession:
    session = (
        DeepLinkSession.objects.select_related("deployment__registration", "course")
        .filter(token=token, user=user)
        .first()
    )
    if session is None or session.used_at is not None or session.expires_at <= timezone.now():
        raise LtiError(
            "This content selection has expired or was used: open it again from the LMS.",
            code="lti_deep_link_expired",
            status=404,
        )
    return session


def deep_link_respond(
    *, session: DeepLinkSession, items: list[dict[str, Any]], launch_url: str
) -> tuple[str, str]:
    """Sign the deep-linking response; returns (return URL, JWT). `items` are
    {"title", "custom", "line_item": {"label", "score_maximum"} | None}."""
    dl = session.settings
    accept_types = dl.get("accept_types") or ["ltiResourceLink"]
    if items and "ltiResourceLink" not in accept_types:
        raise LtiError(
            "The platform does not accept links here.", code="lti_deep_link_type", status=400
        )
    if len(items) > 1 and dl.get("accept_multiple") is False:
        raise LtiError("The platform accepts only one item here.", code="lti_deep_link_multiple")
    registration = session.deployment.registration
    content = []
    for item in items:
        entry: dict[str, Any] = {
            "type": "ltiResourceLink",
            "title": item["title"],
            "url": launch_url,
            "custom": item["custom"],
        }
        line = item.get("line_item")
        if line:
            entry["lineItem"] = {"scoreMaximum": line["score_maximum"], "label": line["label"]}
        content.append(entry)
    now = timezone.now()
    payload = {
        "iss": registration.client_id,
        "aud": [registration.issuer],
        "azp": registration.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + TOKEN_LIFETIME).timestamp()),
        "nonce": secrets.token_urlsafe(16),
        C.MESSAGE_TYPE: C.DEEP_LINKING_RESPONSE,
        C.VERSION: "1.3.0",
        C.DEPLOYMENT_ID: session.deployment.deployment_id,
        C.DL_CONTENT_ITEMS: content,
    }
    if dl.get("data"):
        payload[C.DL_DATA] = dl["data"]
    with transaction.atomic():
        updated = DeepLinkSession.objects.filter(pk=session.pk, used_at__isnull=True).update(
            used_at=now
        )
        if updated != 1:
            raise LtiError("This content selection was used already.", code="lti_deep_link_expired")
    return dl["deep_link_return_url"], tool_jwt_sign(payload)


# --- Dynamic Registration ---------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def registration_invite_create(
    *, actor: User, label: str = "", ttl: timedelta = timedelta(days=7)
) -> tuple[RegistrationInvite, str]:
    if not (actor.is_staff or actor.is_superuser):
        raise LtiError("Only platform admins can register platforms.", code="forbidden", status=403)
    token = secrets.token_urlsafe(32)
    invite = RegistrationInvite.objects.create(
        token_hash=_token_hash(token),
        label=label[:200],
        created_by=actor,
        expires_at=timezone.now() + ttl,
    )
    return invite, token


def registration_invite_check(*, token: str) -> RegistrationInvite:
    invite = RegistrationInvite.objects.filter(token_hash=_token_hash(token or "")).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= timezone.now():
        raise LtiError(
            "This registration link is unknown, expired or already used: ask a Roundtable "
            "admin for a new one.",
            code="lti_invite_invalid",
            status=403,
        )
    return invite


def _issuer_prefixes(issuer: str, url: str) -> bool:
    """The issuer is a prefix of the configuration URL (LTI DR 1.0 §3.5.1),
    ending at a path boundary: https://lms.example is not a prefix of
    https://lms.example.evil.test/... nor of https://lms.example2/..."""
    parts = urlsplit(issuer)
    if not issuer or parts.scheme not in ("https", "http") or not parts.netloc:
        return False
    if not url.startswith(issuer):
        return False
    rest = url[len(issuer) :]
    return issuer.endswith("/") or rest == "" or rest[0] in "/?#"


def dynamic_registration_run(
    *,
    token: str,
    openid_configuration: str,
    registration_token: str,
    tool: dict[str, str],
) -> Registration:
    """LTI Dynamic Registration 1.0: fetch the platform's configuration, post
    ours, store the registration and its deployment; the invite is used once."""
    registration_invite_check(token=token)
    config_url = openid_configuration
    if urlsplit(config_url).scheme not in ("https", "http") or not config_url:
        raise LtiError("openid_configuration must be a URL.", code="lti_dr_invalid")
    config = _http_json("GET", config_url)
    if not isinstance(config, dict):
        raise LtiError("The platform configuration is not an object.", code="lti_dr_invalid")
    issuer = config.get("issuer")
    if not isinstance(issuer, str) or not _issuer_prefixes(issuer, config_url):
        raise LtiError(
            f"The configuration's issuer {issuer!r} is not a prefix of its URL {config_url!r}.",
            code="lti_dr_issuer",
        )
    for name in ("authorization_endpoint", "jwks_uri", "registration_endpoint", "token_endpoint"):
        if not isinstance(config.get(name), str) or not config[name]:
            raise LtiError(f"The platform configuration lacks {name}.", code="lti_dr_invalid")
    platform = config.get(C.PLATFORM_CONFIGURATION) or {}
    supported_scopes = set(config.get("scopes_supported") or [])
    wanted_scopes = [C.SCOPE_NRPS, C.SCOPE_LINEITEM, C.SCOPE_SCORE, C.SCOPE_RESULT]
    scopes = [s for s in wanted_scopes if not supported_scopes or s in supported_scopes]
    tool_config = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool["login_url"],
        "redirect_uris": [tool["launch_url"]],
        "client_name": "Roundtable",
        "jwks_uri": tool["jwks_url"],
        "logo_uri": tool.get("logo_url", ""),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        C.TOOL_CONFIGURATION: {
            "domain": urlsplit(tool["launch_url"]).netloc,
            "description": "Roundtable: live classes at tables, recordings, playback rooms.",
            "target_link_uri": tool["launch_url"],
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": C.RESOURCE_LINK_REQUEST},
                {
                    "type": C.DEEP_LINKING_REQUEST,
                    "target_link_uri": tool["launch_url"],
                    "label": "Roundtable",
                    "placements": ["ContentArea", "link_selection", "assignment_selection"],
                    "supported_types": ["ltiResourceLink"],
                },
            ],
        },
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    answer = _http_json("POST", config["registration_endpoint"], json=tool_config, headers=headers)
    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise LtiError(
            "The platform's registration answer has no client_id.", code="lti_dr_invalid"
        )
    granted = answer.get("scope", "")
    deployment_id = (answer.get(C.TOOL_CONFIGURATION) or {}).get("deployment_id")
    with transaction.atomic():
        invite = RegistrationInvite.objects.select_for_update().get(token_hash=_token_hash(token))
        if invite.used_at is not None:
            raise LtiError("This registration link was used already.", code="lti_invite_invalid")
        registration = registration_create(
            issuer=issuer,
            client_id=client_id,
            auth_login_url=config["authorization_endpoint"],
            keyset_url=config["jwks_uri"],
            auth_token_url=config["token_endpoint"],
            auth_token_audience=str(config.get("authorization_server") or ""),
            name=str(platform.get("product_family_code") or issuer)[:200],
            scopes=granted.split() if isinstance(granted, str) else [],
            deployment_ids=[str(deployment_id)] if deployment_id else [],
            product_family_code=str(platform.get("product_family_code", ""))[:100],
        )
        invite.used_at = timezone.now()
        invite.registration = registration
        invite.save(update_fields=["used_at", "registration"])
    log.info("lti: registered %s client %s by dynamic registration", issuer, client_id)
    return registration


# --- Service tokens (for NRPS / AGS) ---------------------------------------------------


def service_token_answer(*, registration: Registration, scopes: list[str]) -> dict:
    """The platform's token answer (client_credentials with our signed JWT
    assertion, RFC 7523): a dict with `access_token` and maybe `expires_in`.
    Uncached; lti.client.access_token_get caches it."""
    if not registration.auth_token_url:
        raise LtiError("The registration has no token URL.", code="lti_no_token_url", status=424)
    now = timezone.now()
    assertion = tool_jwt_sign(
        {
            "iss": registration.client_id,
            "sub": registration.client_id,
            "aud": registration.auth_token_audience or registration.auth_token_url,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
    )
    answer = _http_json(
        "POST",
        registration.auth_token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        },
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise LtiError("The platform's token answer has no access_token.", code="lti_token_invalid")
    return answer


def service_token_get(*, registration: Registration, scopes: list[str]) -> str:
    """An access token for these scopes, cached until shortly before it expires
    (lti.client.access_token_get)."""
    from lti.client import access_token_get

    return access_token_get(registration=registration, scopes=scopes)
