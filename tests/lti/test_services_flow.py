"""Deep linking, Dynamic Registration, key rotation and service tokens against
the strict platform; the platform fetches our JWKS from a live server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from lti import services
from lti.errors import LtiError
from lti.models import Deployment, LtiContext, Registration, ToolKey
from lti.selectors import jwks_get, signing_key_get
from playback.models import Recording, RecordingStatus
from tests.factories import LiveSessionFactory, UserFactory
from tests.lti.conftest import INSTRUCTOR, LEARNER, run_launch
from tests.lti.platform import DL, form_fields

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@pytest.fixture
def tool_jwks(live_server, platform):
    platform.tool_jwks_url = live_server.url + "/lti/jwks/"
    return platform.tool_jwks_url


def _deep_link_claims(platform, **settings):
    claims = platform.base_claims(
        sub="teacher-1", roles=[INSTRUCTOR], message_type="LtiDeepLinkingRequest"
    )
    claims[DL + "deep_linking_settings"].update(settings)
    return claims


def _return_form(response) -> tuple[str, str]:
    html = response.content.decode()
    action = re.search(r'id="lti-return" method="post" action="([^"]+)"', html).group(1)
    return action, form_fields(html)["JWT"]


@pytest.mark.django_db(transaction=True)
def test_deep_link_picks_session_and_recording_with_gradebook_column(
    client, platform, registration, tool_jwks
):
    claims = _deep_link_claims(platform)
    data = claims[DL + "deep_linking_settings"]["data"]
    response, _ = run_launch(client, platform, claims)
    assert response.status_code == 302 and response["Location"].startswith("/lti/deep-link/")
    course = LtiContext.objects.get().course
    session = LiveSessionFactory(course=course, title="Week 1 seminar")
    recording = Recording.objects.create(
        course=course,
        title="Week 0 recording",
        status=RecordingStatus.READY,
        file="recordings/w0.webm",
        duration_ms=60_000,
    )
    page = client.get(response["Location"])
    assert b"Week 1 seminar" in page.content and b"Week 0 recording" in page.content
    chosen = client.post(
        response["Location"],
        {
            "item": [f"session:{session.pk}", f"recording:{recording.pk}", "home"],
            "gradebook": "on",
            "score_maximum": "10",
        },
    )
    assert chosen.status_code == 200
    action, token = _return_form(chosen)
    assert action == platform.url + "/deep-link-return"
    answer = requests.post(action, data={"JWT": token}, timeout=5)
    assert answer.status_code == 200, answer.text
    claims = platform.deep_link_responses[-1]
    assert claims[DL + "data"] == data
    items = claims[DL + "content_items"]
    assert [item["custom"] for item in items] == [
        {"roundtable_session_id": str(session.pk)},
        {"roundtable_recording_id": str(recording.pk)},
        {},
    ]
    assert items[0]["lineItem"] == {"scoreMaximum": 10.0, "label": "Week 1 seminar"}
    assert all(item["url"] == "http://testserver/lti/launch/" for item in items)
    # The selection is single-use.
    assert client.post(response["Location"], {"item": ["home"]}).status_code == 404
    # Launching the recording's link lands in its playback page.
    landed, _ = run_launch(
        client,
        platform,
        platform.base_claims(sub="teacher-1", roles=[INSTRUCTOR], custom=items[1]["custom"]),
    )
    assert landed["Location"] == f"/recordings/{recording.pk}/"


@pytest.mark.django_db
def test_deep_link_is_for_instructors_only(client, platform, registration):
    claims = platform.base_claims(
        sub="student-1", roles=[LEARNER], message_type="LtiDeepLinkingRequest"
    )
    response, _ = run_launch(client, platform, claims)
    assert response.status_code == 403 and b"lti_deep_link_forbidden" in response.content


@pytest.mark.django_db
def test_deep_link_single_item_platform_refuses_two(client, platform, registration):
    response, _ = run_launch(client, platform, _deep_link_claims(platform, accept_multiple=False))
    course = LtiContext.objects.get().course
    session = LiveSessionFactory(course=course)
    refused = client.post(response["Location"], {"item": ["home", f"session:{session.pk}"]})
    assert refused.status_code == 400 and b"lti_deep_link_multiple" in refused.content


@pytest.mark.django_db
def test_deep_link_bad_score_maximum_is_a_form_error(client, platform, registration):
    response, _ = run_launch(client, platform, _deep_link_claims(platform))
    refused = client.post(
        response["Location"], {"item": ["home"], "gradebook": "on", "score_maximum": "lots"}
    )
    assert refused.status_code == 400 and b"maximum score" in refused.content


# --- Dynamic Registration ----------------------------------------------------------------


def _invite(client) -> str:
    admin = UserFactory(is_staff=True)
    client.force_login(admin)
    page = client.post("/lti/setup/", {"label": "Moodle"})
    assert page.status_code == 200
    url = re.search(r'<pre id="invite-url">([^<]+)</pre>', page.content.decode()).group(1)
    client.logout()
    return url.replace("http://testserver", "")


@pytest.mark.django_db
def test_dynamic_registration_registers_once_and_closes_the_dialog(client, platform):
    url = _invite(client)
    params = {
        "openid_configuration": platform.config_url,
        "registration_token": platform.registration_token,
    }
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert b"org.imsglobal.lti.close" in response.content
    registration = Registration.objects.get(issuer=platform.issuer, client_id=platform.client_id)
    assert registration.auth_login_url == platform.auth_url
    assert registration.auth_token_url == platform.token_url
    assert registration.keyset_url == platform.jwks_url
    assert Deployment.objects.get(registration=registration).deployment_id == platform.deployment_id
    tool = platform.registrations[-1]
    assert tool["initiate_login_uri"] == "http://testserver/lti/login/"
    assert tool["redirect_uris"] == ["http://testserver/lti/launch/"]
    assert set(tool["scope"].split()) == set(registration.scopes)
    assert len(registration.scopes) == 4
    assert platform.url in response["Content-Security-Policy"]
    again = client.get(url, params)
    assert again.status_code == 403 and b"lti_invite_invalid" in again.content
    assert Registration.objects.count() == 1
    # The platform it registered launches at once.
    landed, _ = run_launch(
        client, platform, platform.base_claims(sub="teacher-dr", roles=[INSTRUCTOR])
    )
    assert landed.status_code == 302 and landed["Location"].startswith("/courses/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "code", "status"),
    [
        ("no_invite", "lti_invite_invalid", 403),
        ("issuer_not_prefix", "lti_dr_issuer", 400),
        ("issuer_prefix_of_the_host_only", "lti_dr_issuer", 400),
        ("bad_registration_token", "lti_platform_unreachable", 424),
        ("no_configuration", "lti_dr_invalid", 400),
    ],
)
def test_dynamic_registration_refusals(client, platform, case, code, status):
    url = "/lti/register/made-up-token/" if case == "no_invite" else _invite(client)
    params = {
        "openid_configuration": platform.config_url,
        "registration_token": platform.registration_token,
    }
    if case == "issuer_not_prefix":
        platform.issuer = "https://lms.elsewhere.example"
    if case == "issuer_prefix_of_the_host_only":
        # The configuration is served by http://127.0.0.1:<port>; an issuer of
        # http://127.0.0.1:<first digits of the port> is a string prefix only.
        platform.issuer = platform.url[:-1]
    if case == "bad_registration_token":
        params["registration_token"] = "wrong"
    if case == "no_configuration":
        params.pop("openid_configuration")
    response = client.get(url, params)
    assert response.status_code == status
    assert code.encode() in response.content
    assert not Registration.objects.exists()


@pytest.mark.django_db
def test_only_staff_reach_the_setup_page(client):
    assert client.get("/lti/setup/").status_code == 302
    client.force_login(UserFactory())
    assert client.get("/lti/setup/").status_code == 302
    client.force_login(UserFactory(is_staff=True))
    page = client.get("/lti/setup/")
    assert page.status_code == 200
    for text in (b"http://testserver/lti/login/", b"http://testserver/lti/jwks/", b"microphone"):
        assert text in page.content
    # Per LMS, its own form's fields with this server's values.
    html = page.content.decode()
    sections = re.split(r'<h3 id="setup-', html)[1:]
    assert [section.split('"', 1)[0] for section in sections] == [
        "canvas",
        "blackboard",
        "moodle",
        "brightspace",
        "sakai",
    ]
    for section in sections:
        section = section.split("</table>")[0] + (
            section.split("</pre>")[0] if section.startswith("canvas") else ""
        )
        for url in ("/lti/login/", "/lti/launch/", "/lti/jwks/"):
            assert f"http://testserver{url}" in section, (section[:40], url)
    assert "Initiate login URL</th><td><code>http://testserver/lti/login/" in html  # Moodle
    assert "OpenID Connect Login URL</th><td><code>http://testserver/lti/login/" in html
    assert "allow attribute" in html


# --- Keys -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_publishes_before_signing_and_keeps_the_old_key_until_expiry(client):
    first = services.tool_key_ensure()
    call_command("lti_rotate_keys", "--lead", "3600")
    new = ToolKey.objects.exclude(pk=first.pk).get()
    kids = [key["kid"] for key in client.get("/lti/jwks/").json()["keys"]]
    assert kids == [first.kid, new.kid]  # published before it is used
    assert signing_key_get() == first
    assert all("d" not in key for key in jwks_get()["keys"])  # public parts only
    # Once the lead time passed the new key signs; the old is still served
    # until the tokens it signed expired.
    ToolKey.objects.filter(pk=new.pk).update(use_after=timezone.now() - timedelta(seconds=1))
    ToolKey.objects.filter(pk=first.pk).update(
        retire_after=timezone.now() + services.TOKEN_LIFETIME
    )
    assert signing_key_get() == new
    assert first.kid in [key["kid"] for key in jwks_get()["keys"]]
    ToolKey.objects.filter(pk=first.pk).update(retire_after=timezone.now())
    assert [key["kid"] for key in jwks_get()["keys"]] == [new.kid]


@pytest.mark.django_db(transaction=True)
def test_service_token_with_signed_assertion(platform, registration, tool_jwks):
    token = services.service_token_get(registration=registration, scopes=[NRPS_SCOPE])
    assert token and platform.tokens_issued[-1]["iss"] == platform.client_id
    # A key the tool does not publish is refused by the platform.
    ToolKey.objects.all().update(
        public_jwk={"kty": "RSA", "kid": "hidden", "n": "AQAB", "e": "AQAB"}
    )
    with pytest.raises(LtiError) as error:  # uncached: a new token request
        services.service_token_answer(registration=registration, scopes=[NRPS_SCOPE])
    assert error.value.code == "lti_platform_unreachable"
    assert any("not in its JWKS" in message for message in platform.errors)


@pytest.mark.django_db
def test_deep_link_refuses_items_of_another_course(client, platform, registration):
    response, _ = run_launch(client, platform, _deep_link_claims(platform))
    foreign = LiveSessionFactory()
    refused = client.post(response["Location"], {"item": [f"session:{foreign.pk}"]})
    assert refused.status_code == 400 and b"Unknown item" in refused.content
    other = UserFactory()
    client.force_login(other)  # the selection belongs to the launching instructor only
    assert client.get(response["Location"]).status_code == 404


@pytest.mark.django_db
def test_manual_registration_in_the_admin(client, platform):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {
        "name": "Moodle",
        "issuer": platform.issuer,
        "client_id": "manual-1",
        "auth_login_url": platform.auth_url,
        "auth_token_url": platform.token_url,
        "auth_token_audience": "",
        "keyset_url": platform.jwks_url,
        "scopes": "[]",
        "product_family_code": "",
        "is_active": "on",
        "deployments-TOTAL_FORMS": "1",
        "deployments-INITIAL_FORMS": "0",
        "deployments-MIN_NUM_FORMS": "0",
        "deployments-MAX_NUM_FORMS": "1000",
        "deployments-0-deployment_id": "dep-manual",
        "deployments-0-name": "",
    }
    response = client.post("/admin/lti/registration/add/", form)
    assert response.status_code == 302, response.content[:2000]
    registration = Registration.objects.get(client_id="manual-1")
    assert list(registration.deployments.values_list("deployment_id", flat=True)) == ["dep-manual"]
    duplicate = client.post("/admin/lti/registration/add/", form)
    assert duplicate.status_code == 200  # the form shows the uniqueness error
    assert Registration.objects.filter(client_id="manual-1").count() == 1


@pytest.mark.django_db
def test_jwks_serves_public_keys_only(client):
    keys = client.get("/lti/jwks/").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


@pytest.mark.django_db
def test_no_usable_key_is_a_readable_refusal_and_jwks_still_serves(client):
    services.tool_key_rotate(lead=timedelta(hours=1))  # the first key is not yet usable
    assert client.get("/lti/jwks/").status_code == 200
    with pytest.raises(LtiError) as error:
        services.tool_key_ensure()
    assert error.value.code == "lti_no_key"
