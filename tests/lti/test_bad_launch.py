"""Every bad launch: a readable 4xx, a log line, and nothing created."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from courses.models import Course, Enrollment
from lti.models import LtiContext, LtiIdentity
from tests.lti.conftest import INSTRUCTOR, login, platform_auth, run_launch
from tests.lti.platform import DL, LTI, _rsa_key

User = get_user_model()
pytestmark = pytest.mark.django_db


def _nothing_created():
    assert not User.objects.exists()
    assert not Enrollment.objects.exists()
    assert not Course.objects.exists()
    assert not LtiIdentity.objects.exists()
    assert not LtiContext.objects.exists()


def _claims(platform, **kw):
    return platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR], **kw)


def _without(platform, claim):
    claims = _claims(platform)
    claims.pop(claim)
    return claims


def _link_without_id(platform):
    claims = _claims(platform)
    claims[LTI + "resource_link"] = {"title": "no id"}
    return claims


def _deep_link_without_context(platform):
    claims = _claims(platform, message_type="LtiDeepLinkingRequest")
    claims.pop(LTI + "context")
    return claims


def _deep_link_without_return_url(platform):
    claims = _claims(platform, message_type="LtiDeepLinkingRequest")
    claims[DL + "deep_linking_settings"].pop("deep_link_return_url")
    return claims


def _unsigned(platform):
    import jwt

    return jwt.encode(
        {**_claims(platform), "iss": platform.issuer, "aud": platform.client_id},
        None,
        algorithm="none",
        headers={"kid": platform.kid},
    )


def _with(platform, claim, value):
    claims = _claims(platform)
    claims[claim] = value
    return claims


CASES = {
    "no_kid": (lambda p: ({}, {"headers": {}}), "lti_no_kid", 400),
    "unknown_kid": (lambda p: ({}, {"headers": {"kid": "nobody"}}), "lti_unknown_kid", 400),
    "signed_by_another_key": (lambda p: ({}, {"key": _rsa_key()}), "lti_bad_signature", 400),
    "not_a_jwt": (lambda p: ({}, {"token": "this.is-not.a-jwt"}), "lti_not_jwt", 400),
    "wrong_version": (
        lambda p: ({"claims": _with(p, LTI + "version", "1.1")}, {}),
        "lti_bad_version",
        400,
    ),
    "missing_version": (
        lambda p: ({"claims": _without(p, LTI + "version")}, {}),
        "lti_bad_version",
        400,
    ),
    "missing_message_type": (
        lambda p: ({"claims": _without(p, LTI + "message_type")}, {}),
        "lti_missing_claim",
        400,
    ),
    "unknown_message_type": (
        lambda p: ({"claims": _with(p, LTI + "message_type", "LtiSubmissionReviewRequest")}, {}),
        "lti_bad_message_type",
        400,
    ),
    "missing_roles": (
        lambda p: ({"claims": _without(p, LTI + "roles")}, {}),
        "lti_missing_claim",
        400,
    ),
    "missing_deployment_id": (
        lambda p: ({"claims": _without(p, LTI + "deployment_id")}, {}),
        "lti_missing_claim",
        400,
    ),
    "unknown_deployment_id": (
        lambda p: ({"claims": _with(p, LTI + "deployment_id", "dep-x")}, {}),
        "lti_unknown_deployment",
        403,
    ),
    "missing_resource_link_id": (
        lambda p: ({"claims": _link_without_id(p)}, {}),
        "lti_missing_claim",
        400,
    ),
    "missing_target_link_uri": (
        lambda p: ({"claims": _without(p, LTI + "target_link_uri")}, {}),
        "lti_missing_claim",
        400,
    ),
    "deep_linking_without_return_url": (
        lambda p: ({"claims": _deep_link_without_return_url(p)}, {}),
        "lti_missing_claim",
        400,
    ),
    # The certification's "Missing LTI Claims": a bare OIDC token.
    "missing_lti_claims": (
        lambda p: ({"claims": {"sub": "teacher-1", "name": "Ada"}}, {}),
        "lti_bad_version",
        400,
    ),
    "unsigned_alg_none": (
        lambda p: ({}, {"token": _unsigned(p)}),
        "lti_bad_alg",
        400,
    ),
    "missing_sub": (lambda p: ({"claims": _without(p, "sub")}, {}), "lti_missing_claim", 400),
    # A resource link without context is valid (tests/lti/test_launch.py,
    # the certification's "no context" launches); deep linking needs a course.
    "deep_linking_without_context": (
        lambda p: ({"claims": _deep_link_without_context(p)}, {}),
        "lti_no_context",
        400,
    ),
    "context_not_an_object": (
        lambda p: ({"claims": _with(p, LTI + "context", "ctx-1")}, {}),
        "lti_invalid_token",
        400,
    ),
    "expired": (lambda p: ({}, {"iat_offset": -3600}), "lti_bad_timestamps", 400),
    "issued_in_the_future": (lambda p: ({}, {"iat_offset": 600}), "lti_bad_timestamps", 400),
    "missing_exp": (lambda p: ({}, {"drop": ("exp",)}), "lti_missing_claim", 400),
    "missing_iat": (lambda p: ({}, {"drop": ("iat",)}), "lti_missing_claim", 400),
    "wrong_audience": (lambda p: ({}, {"aud": "someone-else"}), "lti_unknown_registration", 403),
    "several_audiences_without_azp": (
        lambda p: ({}, {"aud": [p.client_id, "other"]}),
        "lti_wrong_audience",
        403,
    ),
    "foreign_azp": (
        lambda p: ({}, {"aud": [p.client_id, "other"], "azp": "other"}),
        "lti_wrong_audience",
        403,
    ),
    "nonce_not_issued": (lambda p: ({}, {"nonce": "made-up-nonce"}), "lti_bad_nonce", 400),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_launch_is_refused_readably(client, platform, registration, case, caplog):
    build, code, status = CASES[case]
    overrides, plan = build(platform)
    claims = overrides.get("claims", _claims(platform))
    response, _ = run_launch(client, platform, claims, **plan)
    assert response.status_code == status, response.content[:500]
    assert code.encode() in response.content
    assert b"Go back to your course" in response.content
    assert any(code in record.getMessage() for record in caplog.records)
    _nothing_created()
    assert "_auth_user_id" not in client.session


def test_several_audiences_with_our_azp_are_accepted(client, platform, registration):
    response, _ = run_launch(
        client,
        platform,
        _claims(platform),
        aud=[platform.client_id, "other"],
        azp=platform.client_id,
    )
    assert response.status_code == 302


def test_replayed_id_token_is_refused(client, platform, registration):
    response, fields = run_launch(client, platform, _claims(platform))
    assert response.status_code == 302
    counts = (User.objects.count(), Enrollment.objects.count(), Course.objects.count())
    client.logout()
    again = client.post("/lti/launch/", fields)
    assert again.status_code == 400 and b"lti_replayed" in again.content
    assert (User.objects.count(), Enrollment.objects.count(), Course.objects.count()) == counts


def test_replayed_id_token_with_a_fresh_state_is_refused(client, platform, registration):
    _, fields = run_launch(client, platform, _claims(platform))
    client.logout()
    hint = platform.plan(_claims(platform))
    fresh = platform_auth(login(client, platform, hint)["Location"])
    response = client.post(
        "/lti/launch/", {"id_token": fields["id_token"], "state": fresh["state"]}
    )
    assert response.status_code == 400 and b"lti_bad_nonce" in response.content


def test_launch_with_unknown_state_is_refused(client, platform, registration):
    hint = platform.plan(_claims(platform))
    fields = platform_auth(login(client, platform, hint)["Location"])
    response = client.post("/lti/launch/", {"id_token": fields["id_token"], "state": "forged"})
    assert response.status_code == 400 and b"lti_unknown_state" in response.content
    _nothing_created()


def test_launch_without_anything_is_refused(client, db):
    response = client.post("/lti/launch/", {})
    assert response.status_code == 400
    assert client.get("/lti/launch/").status_code == 405


def test_token_from_another_issuer_is_refused(client, platform, registration):
    from tests.lti.platform import Platform

    stranger = Platform(client_id=platform.client_id).start()
    try:
        hint = platform.plan(_claims(platform))
        response = login(client, platform, hint)
        state = platform_auth(response["Location"])["state"]
        stranger.pending["x"] = {}
        token = stranger.sign(
            {
                **_claims(stranger),
                "iss": stranger.issuer,
                "aud": platform.client_id,
                "iat": 0,
                "exp": 2**31,
                "nonce": "n",
            }
        )
        refused = client.post("/lti/launch/", {"id_token": token, "state": state})
        assert refused.status_code == 403 and b"lti_unknown_registration" in refused.content
        _nothing_created()
    finally:
        stranger.stop()


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"iss": "https://unknown.example"}, "lti_unknown_registration", 403),
        ({"client_id": "unknown-client"}, "lti_unknown_registration", 403),
        ({"client_id": None}, "lti_login_no_client", 400),
        ({"login_hint": None}, "lti_login_invalid", 400),
        ({"lti_deployment_id": "dep-unknown"}, "lti_unknown_deployment", 403),
    ],
)
def test_bad_login_initiation_is_refused(client, platform, registration, params, code, status):
    args = platform.login_params("hint-x")
    args.update(params)
    response = client.get("/lti/login/", {k: v for k, v in args.items() if v is not None})
    assert response.status_code == status
    assert code.encode() in response.content
    _nothing_created()


def test_launch_without_state_cookie_offers_a_new_window(client, platform, registration):
    hint = platform.plan(_claims(platform))
    response = login(client, platform, hint)
    fields = platform_auth(response["Location"])
    client.cookies.clear()  # a browser that blocked the third-party cookie
    refused = client.post("/lti/launch/", fields)
    assert refused.status_code == 401
    assert b"Open in a new window" in refused.content
    _nothing_created()
    # The id_token is spent; the new window restarts the login top-level.
    assert client.post("/lti/launch/", fields).status_code == 400
    import re

    again = re.search(rb'href="(/lti/login/\?[^"]+)"', refused.content).group(1).decode()
    restart = client.get(again.replace("&amp;", "&"))
    assert restart.status_code == 302 and restart["Location"].startswith(platform.auth_url)


def test_platform_storage_flow_without_cookie(client, platform, registration):
    hint = platform.plan(_claims(platform))
    page = login(client, platform, hint, lti_storage_target="_parent")
    assert page.status_code == 200 and b"lti.put_data" in page.content
    auth_url = re.search(rb'id="lti-auth-url" type="application/json">"([^"]+)"', page.content)
    import json

    fields = platform_auth(json.loads(b'"' + auth_url.group(1) + b'"'))
    client.cookies.clear()
    check = client.post("/lti/launch/", fields)
    assert check.status_code == 200 and b"lti.get_data" in check.content
    _nothing_created()
    # A cross-site POST carrying the value (a login-CSRF attempt) is refused.
    forged = client.post(
        "/lti/launch/",
        {**fields, "lti_storage_state": fields["state"]},
        headers={"Origin": "https://attacker.example"},
    )
    assert forged.status_code == 401
    _nothing_created()


def test_platform_storage_flow_lands_when_the_value_matches(client, platform, registration):
    import json

    hint = platform.plan(_claims(platform))
    page = login(client, platform, hint, lti_storage_target="_parent")
    auth_url = re.search(rb'id="lti-auth-url" type="application/json">"([^"]+)"', page.content)
    fields = platform_auth(json.loads(b'"' + auth_url.group(1) + b'"'))
    client.cookies.clear()
    landed = client.post(
        "/lti/launch/",
        {**fields, "lti_storage_state": fields["state"]},
        headers={"Origin": "http://testserver"},
    )
    assert landed.status_code == 302 and landed["Location"].startswith("/courses/")


@pytest.mark.parametrize(
    ("keyset", "code"),
    [("/missing-jwks", "lti_platform_unreachable"), ("/probe-read", "lti_platform_unreachable")],
    ids=["404", "html"],
)
def test_platform_keyset_unusable_is_a_readable_424(client, platform, registration, keyset, code):
    """The platform's JWKS URL answers 404, or HTML: a 424 naming the cause, nothing created."""
    from lti.models import Registration

    Registration.objects.filter(pk=registration.pk).update(keyset_url=platform.url + keyset)
    response, _ = run_launch(client, platform, _claims(platform))
    assert response.status_code == 424 and code.encode() in response.content
    assert b"Go back to your course" in response.content
    _nothing_created()


def test_platform_keyset_that_is_not_a_key_set_is_refused(client, platform, registration):
    from lti.models import Registration

    platform.jwks_override = {"not": "a key set"}
    Registration.objects.filter(pk=registration.pk).update(keyset_url=platform.url + "/jwks")
    response, _ = run_launch(client, platform, _claims(platform))
    assert response.status_code == 424 and b"lti_platform_jwks_invalid" in response.content
    _nothing_created()
