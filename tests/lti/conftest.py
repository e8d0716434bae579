from __future__ import annotations

import pytest
import requests

from lti.services import registration_create
from tests.lti.platform import Platform, form_fields

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@pytest.fixture
def platform():
    instance = Platform().start()
    instance.redirect_uris = ["http://testserver/lti/launch/"]
    yield instance
    instance.stop()


@pytest.fixture
def registration(db, platform):
    return registration_create(
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_url,
        keyset_url=platform.jwks_url,
        auth_token_url=platform.token_url,
        name="Strict platform",
        deployment_ids=[platform.deployment_id],
    )


def login(client, platform, hint, method="get", **extra):
    params = platform.login_params(hint, **extra)
    return getattr(client, method)("/lti/login/", params)


def platform_auth(url: str) -> dict[str, str]:
    """Follow the tool's redirect to the platform's auth endpoint over HTTP;
    the platform answers its form_post form."""
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    return form_fields(answer.text)


def run_launch(client, platform, claims=None, **plan):
    """login → platform auth → launch; returns (launch response, posted fields)."""
    hint = platform.plan(claims if claims is not None else platform.base_claims(), **plan)
    response = login(client, platform, hint)
    assert response.status_code == 302, response.content
    fields = platform_auth(response["Location"])
    return client.post("/lti/launch/", fields), fields
