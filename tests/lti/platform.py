"""A strict LTI 1.3 platform for the tests, served over real HTTP on loopback.

It is written from the specs, not from lti/: its own RSA keys and JWKS, an
OIDC auth endpoint that checks the tool's authentication request, a token
endpoint (client_credentials with a JWT assertion, checked against the tool's
JWKS), a Dynamic Registration endpoint that checks the tool's registration,
and a deep-linking return endpoint that checks the tool's response JWT.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
]


class PlatformError(AssertionError):
    """The tool broke a rule of the spec."""


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Platform:
    def __init__(self, *, client_id: str = "tool-client-1", deployment_id: str = "dep-1"):
        self.key = _rsa_key()
        self.kid = "platform-" + uuid.uuid4().hex[:8]
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.redirect_uris: list[str] = []
        self.tool_jwks_url = ""
        self.registration_token = "reg-" + secrets.token_hex(8)
        self.pending: dict[str, dict[str, Any]] = {}  # login_hint -> launch plan
        self.deep_link_responses: list[dict] = []
        self.registrations: list[dict] = []
        self.tokens_issued: list[dict] = []
        self.jwks_hits = 0
        self.errors: list[str] = []
        self.probe_cookies: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> Platform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def config_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    # --- launches ---------------------------------------------------------------

    def base_claims(
        self,
        *,
        sub: str = "user-1",
        roles: list[str] | None = None,
        context_id: str = "ctx-1",
        message_type: str = "LtiResourceLinkRequest",
        custom: dict | None = None,
    ) -> dict:
        claims: dict[str, Any] = {
            "sub": sub,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "https://tool.example/lti/launch/",
            LTI + "roles": roles
            if roles is not None
            else ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            LTI + "context": {"id": context_id, "label": "BIO101", "title": "Biology 101"},
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": f"{sub}@lms.example",
            LTI + "launch_presentation": {"return_url": self.url + "/course/1"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.url + "/nrps/ctx-1",
                "service_versions": ["2.0"],
            },
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": SCOPES[1:],
                "lineitems": self.url + "/ags/ctx-1/lineitems",
            },
        }
        if message_type == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": "link-1", "title": "Roundtable"}
        else:
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": "opaque-" + secrets.token_hex(4),
            }
        if custom:
            claims[LTI + "custom"] = custom
        return claims

    def plan(
        self,
        claims: dict,
        *,
        drop: tuple[str, ...] = (),
        token: str | None = None,
        headers: dict | None = None,
        key=None,
        nonce: str | None = None,
        lifetime: int = 300,
        iat_offset: int = 0,
        aud: Any = None,
        azp: str | None = None,
    ) -> str:
        """Register what the auth endpoint answers for a new login_hint."""
        hint = "hint-" + secrets.token_hex(6)
        self.pending[hint] = {
            "claims": claims,
            "drop": drop,
            "token": token,
            "headers": headers,
            "key": key,
            "nonce": nonce,
            "lifetime": lifetime,
            "iat_offset": iat_offset,
            "aud": aud,
            "azp": azp,
        }
        return hint

    def login_params(self, hint: str, **extra) -> dict:
        params = {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": "https://tool.example/lti/launch/",
            "lti_message_hint": "msg-" + hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        params.update(extra)
        return {k: v for k, v in params.items() if v is not None}

    def sign(self, payload: dict, *, headers: dict | None = None, key=None) -> str:
        head = {"kid": self.kid}
        if headers is not None:
            head = headers
        return jwt.encode(payload, _pem(key or self.key), algorithm="RS256", headers=head)

    def _authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The OIDC authentication request of the tool (LTI core 5.1.1.2)."""
        required = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.client_id,
        }
        for name, value in required.items():
            if query.get(name) != value:
                raise PlatformError(f"auth request: {name}={query.get(name)!r}, want {value!r}")
        for name in ("redirect_uri", "login_hint", "state", "nonce"):
            if not query.get(name):
                raise PlatformError(f"auth request lacks {name}")
        if self.redirect_uris and query["redirect_uri"] not in self.redirect_uris:
            raise PlatformError(f"redirect_uri {query['redirect_uri']} is not registered")
        plan = self.pending.pop(query["login_hint"], None)
        if plan is not None:
            self.last_hint, self.last_plan = query["login_hint"], plan
        if plan is None:
            raise PlatformError("unknown login_hint")
        if query.get("lti_message_hint") != "msg-" + query["login_hint"]:
            raise PlatformError("lti_message_hint not echoed")
        if plan["token"] is not None:
            token = plan["token"]
        else:
            now = int(time.time()) + plan["iat_offset"]
            payload = dict(plan["claims"])
            payload.update(
                {
                    "iss": self.issuer,
                    "aud": plan["aud"] if plan["aud"] is not None else self.client_id,
                    "iat": now,
                    "exp": now + plan["lifetime"],
                    "nonce": plan["nonce"] or query["nonce"],
                }
            )
            if plan["azp"] is not None:
                payload["azp"] = plan["azp"]
            for name in plan["drop"]:
                payload.pop(name, None)
            token = self.sign(payload, headers=plan["headers"], key=plan["key"])
        form = (
            f'<form method="post" action="{query["redirect_uri"]}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{query["state"]}"></form>'
            "<script>document.forms[0].submit()</script>"
        )
        return 200, form

    def course_page(self, tool_url: str) -> str:
        """An LMS course page that embeds the tool and offers platform storage
        (LTI client-side postMessages: lti.put_data / lti.get_data)."""
        return f"""<!doctype html><title>LMS course</title><h1>LMS course</h1>
<iframe id="tool" src="{html.escape(tool_url)}" width="1000" height="700"
 allow="camera; microphone"></iframe>
<script>
const store = {{}};
window.addEventListener("message", (event) => {{
  const data = event.data || {{}};
  if (data.subject === "lti.put_data") {{
    store[data.key] = data.value;
    event.source.postMessage({{subject: "lti.put_data.response", message_id: data.message_id,
      key: data.key, value: data.value}}, event.origin);
  }} else if (data.subject === "lti.get_data") {{
    event.source.postMessage({{subject: "lti.get_data.response", message_id: data.message_id,
      key: data.key, value: store[data.key]}}, event.origin);
  }}
}});
</script>"""

    # --- tool's JWTs ------------------------------------------------------------------

    def _tool_key(self, token: str):
        if not self.tool_jwks_url:
            raise PlatformError("no tool JWKS URL configured")
        kid = jwt.get_unverified_header(token).get("kid")
        if not kid:
            raise PlatformError("tool JWT has no kid")
        keys = requests.get(self.tool_jwks_url, timeout=5).json()["keys"]
        for jwk in keys:
            if jwk.get("kid") == kid:
                return jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        raise PlatformError(f"tool kid {kid} not in its JWKS")

    def _deep_link_return(self, form: dict[str, str]) -> tuple[int, str]:
        token = form.get("JWT")
        if not token:
            raise PlatformError("deep-link return without JWT")
        claims = jwt.decode(
            token,
            self._tool_key(token),
            algorithms=["RS256"],
            audience=self.issuer,
            issuer=self.client_id,
            options={"require": ["exp", "iat", "nonce", "iss", "aud"]},
        )
        if claims.get(LTI + "message_type") != "LtiDeepLinkingResponse":
            raise PlatformError("message_type is not LtiDeepLinkingResponse")
        if claims.get(LTI + "version") != "1.3.0":
            raise PlatformError("version is not 1.3.0")
        if claims.get(LTI + "deployment_id") != self.deployment_id:
            raise PlatformError("deployment_id does not match")
        items = claims.get(DL + "content_items")
        if not isinstance(items, list):
            raise PlatformError("content_items is not a list")
        for item in items:
            if item.get("type") != "ltiResourceLink":
                raise PlatformError(f"unexpected content type {item.get('type')}")
            if not urlsplit(item.get("url", "")).scheme.startswith("http"):
                raise PlatformError("content item url is not an http(s) URL")
            line = item.get("lineItem")
            if line is not None:
                maximum = line.get("scoreMaximum")
                if not isinstance(maximum, int | float) or maximum <= 0:
                    raise PlatformError("lineItem.scoreMaximum must be a positive number")
                if not line.get("label"):
                    raise PlatformError("lineItem.label is required")
            custom = item.get("custom", {})
            if any(not isinstance(v, str) for v in custom.values()):
                raise PlatformError("custom values must be strings")
        self.deep_link_responses.append(claims)
        return 200, "<p>Content added.</p>"

    def _token(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return 400, {"error": "invalid_request"}
        assertion = form.get("client_assertion", "")
        try:
            claims = jwt.decode(
                assertion,
                self._tool_key(assertion),
                algorithms=["RS256"],
                audience=self.token_url,
                options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]},
            )
        except (jwt.PyJWTError, PlatformError) as error:
            self.errors.append(f"token: {error}")
            return 401, {"error": "invalid_client"}
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return 401, {"error": "invalid_client"}
        asked = form.get("scope", "").split()
        if not asked or any(s not in SCOPES for s in asked):
            return 400, {"error": "invalid_scope"}
        self.tokens_issued.append(claims)
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": " ".join(asked),
        }

    # --- Dynamic Registration -------------------------------------------------------

    def openid_configuration(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_url,
            "token_endpoint": self.token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.jwks_url,
            "registration_endpoint": self.url + "/register",
            "scopes_supported": ["openid", *SCOPES],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "strict-test-platform",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }

    def _register(self, headers, body: bytes) -> tuple[int, dict]:
        if headers.get("Authorization") != f"Bearer {self.registration_token}":
            return 401, {"error": "invalid registration token"}
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 400, {"error": "content type must be application/json"}
        tool = json.loads(body)
        problems = []
        if tool.get("application_type") != "web":
            problems.append("application_type")
        if tool.get("response_types") != ["id_token"]:
            problems.append("response_types")
        if set(tool.get("grant_types", [])) != {"implicit", "client_credentials"}:
            problems.append("grant_types")
        if tool.get("token_endpoint_auth_method") != "private_key_jwt":
            problems.append("token_endpoint_auth_method")
        for name in ("initiate_login_uri", "jwks_uri", "client_name"):
            if not tool.get(name):
                problems.append(name)
        if not tool.get("redirect_uris"):
            problems.append("redirect_uris")
        asked = tool.get("scope", "").split()
        if any(s not in SCOPES for s in asked):
            problems.append("scope")
        config = tool.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        if not config.get("domain") or not config.get("target_link_uri"):
            problems.append("lti-tool-configuration domain/target_link_uri")
        types = {m.get("type") for m in config.get("messages", [])}
        if not {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"} <= types:
            problems.append("messages")
        if problems:
            return 400, {"error": "invalid_client_metadata", "fields": problems}
        self.registrations.append(tool)
        self.redirect_uris = list(tool["redirect_uris"])
        self.tool_jwks_url = tool["jwks_uri"]
        answer = dict(tool)
        answer["client_id"] = self.client_id
        answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = {
            **config,
            "deployment_id": self.deployment_id,
        }
        return 200, answer

    # --- HTTP ----------------------------------------------------------------------------

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body, content_type: str = "application/json"):
                data = body if isinstance(body, str) else json.dumps(body)
                raw = data.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _run(self, fn):
                try:
                    fn()
                except (PlatformError, jwt.PyJWTError) as error:
                    platform.errors.append(str(error))
                    self._send(400, {"error": str(error)})

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}

                def run():
                    if parts.path == "/jwks":
                        platform.jwks_hits += 1
                        self._send(200, platform.jwks())
                    elif parts.path == "/.well-known/openid-configuration":
                        self._send(200, platform.openid_configuration())
                    elif parts.path == "/probe-set":  # for the cookie-blocking check
                        self.send_response(200)
                        self.send_header("Set-Cookie", "probe=1; SameSite=None; Secure; Path=/")
                        self.send_header("Content-Length", "3")
                        self.end_headers()
                        self.wfile.write(b"set")
                    elif parts.path == "/probe-read":
                        platform.probe_cookies.append(self.headers.get("Cookie", ""))
                        self._send(200, "read", "text/html")
                    elif parts.path == "/course":
                        self._send(200, platform.course_page(query.get("tool", "")), "text/html")
                    elif parts.path == "/auth":
                        status, html = platform._authorize(query)
                        self._send(status, html, "text/html")
                    else:
                        self._send(404, {"error": "not found"})

                self._run(run)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)

                def run():
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    if self.path == "/token":
                        self._send(*platform._token(form))
                    elif self.path == "/register":
                        self._send(*platform._register(self.headers, body))
                    elif self.path == "/deep-link-return":
                        status, html = platform._deep_link_return(form)
                        self._send(status, html, "text/html")
                    else:
                        self._send(404, {"error": "not found"})

                self._run(run)

        return Handler


def auth_url_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def form_fields(html: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))


def with_query(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)
