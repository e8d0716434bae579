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
        self.jwks_override: Any = None  # served instead of the key set (a broken platform)
        self.errors: list[str] = []
        self.probe_cookies: list[str] = []
        # LTI Advantage services (NRPS, AGS): see the "services" section below.
        self.token_lifetime = 3600
        self.access_tokens: dict[str, tuple[set[str], float]] = {}
        self.rosters: dict[str, dict[str, dict]] = {}
        self.roster_log: dict[str, list[tuple[int, str]]] = {}
        self.roster_version = 0
        self.page_size = 50
        self.link_style = "quoted"  # quoted | bare | relative | combined
        self.offer_differences = True
        self.faults: list[tuple[str, int, dict]] = []  # (path prefix, status, headers)
        self.service_log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.line_items: dict[str, dict[str, dict]] = {}  # context → id → line item
        self.scores: dict[str, list[dict]] = {}  # line item id → accepted scores
        self._next_item = 0
        self.score_stall = 0.0  # seconds the next accepted score's answer is held back
        self._lock = threading.Lock()
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
        if self.jwks_override is not None:
            return self.jwks_override
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
        token = secrets.token_urlsafe(16)
        self.access_tokens[token] = (set(asked), time.time() + self.token_lifetime)
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
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

    # --- LTI Advantage services: NRPS 2.0, AGS 2.0 ----------------------------------

    def member_put(self, context_id: str, member: dict) -> None:
        """Add or change a member of a context's roster (logged for differences)."""
        with self._lock:
            self.rosters.setdefault(context_id, {})[member["user_id"]] = dict(member)
            self.roster_version += 1
            self.roster_log.setdefault(context_id, []).append(
                (self.roster_version, member["user_id"])
            )

    def member_remove(self, context_id: str, user_id: str) -> None:
        with self._lock:
            self.rosters.get(context_id, {}).pop(user_id, None)
            self.roster_version += 1
            self.roster_log.setdefault(context_id, []).append((self.roster_version, user_id))

    def fault(self, path_prefix: str, status: int, **headers: str) -> None:
        """The next request under path_prefix answers `status` (once)."""
        self.faults.append((path_prefix, status, headers))

    def _bearer(self, headers, scope: str) -> tuple[int, dict] | None:
        """None when the bearer token is valid and has `scope`, else the error."""
        value = headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return 401, {"error": "invalid_token", "reason": "no bearer token"}
        granted = self.access_tokens.get(value[7:])
        if granted is None or granted[1] < time.time():
            return 401, {"error": "invalid_token", "reason": "unknown or expired token"}
        if scope not in granted[0]:
            return 403, {"error": "insufficient_scope", "scope": scope}
        return None

    def _member_view(self, member: dict, *, deleted: bool = False) -> dict:
        if deleted:
            return {"user_id": member["user_id"], "status": "Deleted", "roles": []}
        view = {"status": "Active", **member}
        return view

    def _nrps(self, path: str, query: dict, headers) -> tuple[int, Any, dict]:
        accept = headers.get("Accept", "")
        if "application/vnd.ims.lti-nrps.v2.membershipcontainer+json" not in accept:
            raise PlatformError(f"NRPS Accept header is {accept!r}")
        denied = self._bearer(headers, SCOPES[0])
        if denied:
            return (*denied, {})
        context_id = path.rsplit("/", 1)[1]
        if context_id not in self.rosters:
            return 404, {"error": "unknown context"}, {}
        with self._lock:
            roster = self.rosters[context_id]
            version = self.roster_version
            if "since" in query:
                since = int(query["since"])
                changed = []
                for v, user_id in self.roster_log.get(context_id, []):
                    if v > since and user_id not in changed:
                        changed.append(user_id)
                members = [
                    self._member_view(roster[u])
                    if u in roster
                    else self._member_view({"user_id": u}, deleted=True)
                    for u in changed
                ]
            else:
                members = [self._member_view(m) for m in roster.values()]
        offset = int(query.get("offset", 0))
        page = members[offset : offset + self.page_size]
        links = []
        base_query = {k: v for k, v in query.items() if k != "offset"}
        if offset + self.page_size < len(members):
            next_query = urlencode({**base_query, "offset": offset + self.page_size})
            relative = f"{path}?{next_query}"
            if self.link_style == "bare":
                links.append(f"<{self.url}{relative}>; rel=next")
            elif self.link_style == "relative":
                links.append(f'<{relative}>; rel="next"')
            elif self.link_style == "combined":
                links.append(f'<{self.url}/x>; rel="prev", <{self.url}{relative}>; rel="next last"')
            else:
                links.append(f'<{self.url}{relative}>; rel="next"')
        elif self.offer_differences:
            links.append(f'<{self.url}{path}?since={version}>; rel="differences"')
        body = {
            "id": self.url + path,
            "context": {"id": context_id, "label": "BIO101", "title": "Biology 101"},
            "members": page,
        }
        extra = {"Link": ", ".join(links)} if links else {}
        return 200, body, extra

    def _json_body(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as error:
            raise PlatformError("body is not JSON") from error

    def _line_item_check(self, item: Any) -> None:
        if not isinstance(item, dict):
            raise PlatformError("line item is not an object")
        maximum = item.get("scoreMaximum")
        if not isinstance(maximum, int | float) or isinstance(maximum, bool) or maximum <= 0:
            raise PlatformError("lineItem.scoreMaximum must be a positive number")
        if not isinstance(item.get("label"), str) or not item["label"].strip():
            raise PlatformError("lineItem.label is required")

    def _ags(self, method: str, path: str, headers, body: bytes) -> tuple[int, Any, dict]:
        # /ags/<ctx>/lineitems[/<n>[/scores]]
        parts = path.strip("/").split("/")
        context_id = parts[1]
        items = self.line_items.setdefault(context_id, {})
        container = self.url + f"/ags/{context_id}/lineitems"
        if len(parts) == 3:  # the container
            if method == "GET":
                if "application/vnd.ims.lis.v2.lineitemcontainer+json" not in headers.get(
                    "Accept", ""
                ):
                    raise PlatformError("line item container Accept header")
                denied = self._bearer(headers, SCOPES[1])
                return (*denied, {}) if denied else (200, list(items.values()), {})
            if method != "POST":
                return 405, {"error": "method"}, {}
            if headers.get("Content-Type") != "application/vnd.ims.lis.v2.lineitem+json":
                raise PlatformError(f"line item Content-Type {headers.get('Content-Type')!r}")
            denied = self._bearer(headers, SCOPES[1])
            if denied:
                return (*denied, {})
            item = self._json_body(body)
            self._line_item_check(item)
            with self._lock:
                self._next_item += 1
                item_id = f"{container}/{self._next_item}"
            item = {**item, "id": item_id}
            items[item_id] = item
            return 201, item, {"Content-Type": "application/vnd.ims.lis.v2.lineitem+json"}
        item_id = f"{container}/{parts[3]}"
        if item_id not in items:
            return 404, {"error": "no such line item"}, {}
        if len(parts) == 4:
            denied = self._bearer(headers, SCOPES[1])
            if denied:
                return (*denied, {})
            if method == "GET":
                return 200, items[item_id], {}
            if method == "DELETE":
                del items[item_id]
                return 204, "", {}
            if method == "PUT":
                if headers.get("Content-Type") != "application/vnd.ims.lis.v2.lineitem+json":
                    raise PlatformError("line item PUT Content-Type")
                item = self._json_body(body)
                self._line_item_check(item)
                items[item_id] = {**item, "id": item_id}
                return 200, items[item_id], {}
            return 405, {"error": "method"}, {}
        if len(parts) == 5 and parts[4] == "scores" and method == "POST":
            if headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                raise PlatformError(f"score Content-Type {headers.get('Content-Type')!r}")
            denied = self._bearer(headers, SCOPES[2])
            if denied:
                return (*denied, {})
            score = self._json_body(body)
            return self._score(item_id, score)
        return 404, {"error": "not found"}, {}

    def _score(self, item_id: str, score: Any) -> tuple[int, Any, dict]:
        from datetime import datetime

        if not isinstance(score, dict) or not isinstance(score.get("userId"), str):
            raise PlatformError("score without userId")
        if score.get("activityProgress") not in (
            "Initialized",
            "Started",
            "InProgress",
            "Submitted",
            "Completed",
        ):
            raise PlatformError("score activityProgress invalid")
        if score.get("gradingProgress") not in (
            "FullyGraded",
            "Pending",
            "PendingManual",
            "Failed",
            "NotReady",
        ):
            raise PlatformError("score gradingProgress invalid")
        given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
        if given is not None:
            if not isinstance(given, int | float) or isinstance(given, bool) or given < 0:
                raise PlatformError("scoreGiven must be a number ≥ 0")
            if not isinstance(maximum, int | float) or maximum <= 0:
                raise PlatformError("scoreMaximum must be a positive number with scoreGiven")
        try:
            stamp = datetime.fromisoformat(str(score.get("timestamp")).replace("Z", "+00:00"))
        except ValueError as error:
            raise PlatformError("score timestamp is not ISO 8601") from error
        if stamp.tzinfo is None:
            raise PlatformError("score timestamp has no time zone")
        with self._lock:
            history = self.scores.setdefault(item_id, [])
            previous = [s for s in history if s["userId"] == score["userId"]]
            if previous and stamp <= previous[-1]["_stamp"]:
                return 409, {"error": "timestamp not after the last score's"}, {}
            history.append({**score, "_stamp": stamp})
            stall, self.score_stall = self.score_stall, 0.0
        if stall:
            time.sleep(stall)  # accepted, the answer not sent yet (a worker may die now)
        return 204, "", {}

    def _service(self, method: str, path: str, query: dict, headers, body: bytes):
        """Fault injection, then NRPS or AGS; (status, body, headers)."""
        target = path + ("?" + urlencode(query) if query else "")
        for index, (prefix, status, extra) in enumerate(self.faults):
            if target.startswith(prefix):
                del self.faults[index]
                if status == 401:
                    value = headers.get("Authorization", "")
                    self.access_tokens.pop(value[7:], None)  # the token is revoked
                return status, {"error": f"injected {status}"}, extra
        if path.startswith("/nrps/") and method == "GET":
            return self._nrps(path, query, headers)
        if path.startswith("/ags/"):
            return self._ags(method, path, headers, body)
        return 404, {"error": "not found"}, {}

    # --- HTTP ----------------------------------------------------------------------------

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(
                self,
                status: int,
                body,
                content_type: str = "application/json",
                headers: dict | None = None,
            ):
                data = body if isinstance(body, str) else json.dumps(body)
                raw = data.encode()
                headers = dict(headers or {})
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", content_type))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _service(self, method: str):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(length) if length else b""

                def run():
                    status, answer, extra = platform._service(
                        method, parts.path, query, self.headers, body
                    )
                    platform.service_log.append((method, self.path, status))
                    self._send(status, answer, headers=extra)

                try:
                    run()
                except PlatformError as error:
                    platform.errors.append(str(error))
                    platform.service_log.append((method, self.path, 400))
                    self._send(400, {"error": str(error)})

            def do_PUT(self):  # noqa: N802
                self._service("PUT")

            def do_DELETE(self):  # noqa: N802
                self._service("DELETE")

            def _run(self, fn):
                try:
                    fn()
                except (PlatformError, jwt.PyJWTError) as error:
                    platform.errors.append(str(error))
                    self._send(400, {"error": str(error)})

            def do_GET(self):  # noqa: N802
                if self.path.startswith(("/nrps/", "/ags/")):
                    return self._service("GET")
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
                if self.path.startswith(("/nrps/", "/ags/")):
                    return self._service("POST")
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
