"""HTTP client for the platform's LTI Advantage services (NRPS, AGS).

Access tokens come from the OAuth2 client-credentials grant with our signed
JWT assertion (lti.services.service_token_answer) and are cached in the database
per (issuer, client id, token URL, scopes) until TOKEN_EARLY_EXPIRY seconds
before they expire, so many calls share one token. Every call has timeouts;
429 and 5xx are retried with exponential backoff (a Retry-After header in
seconds is respected, capped); a 401 gets one retry with a fresh token.
Failures raise ServiceError (an LtiError, readable, status 424)."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from lti.errors import LtiError
from lti.models import Registration, ServiceToken

log = logging.getLogger("lti")

TOKEN_EARLY_EXPIRY = 60  # seconds before expiry a cached token is renewed
TOKEN_DEFAULT_LIFETIME = 3600  # when the platform's answer has no expires_in
RETRY_AFTER_MAX = 60.0


class ServiceError(LtiError):
    def __init__(
        self,
        reason: str,
        *,
        code: str = "lti_service_failed",
        status: int = 424,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason, code=code, status=status)
        self.http_status = http_status


def _setting(name: str, default):
    return getattr(settings, name, default)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _backoff(base: float, attempt: int) -> float:
    """Exponential backoff with up to 25 % jitter, capped at 30 s."""
    return min(base * 2 ** (attempt - 1), 30) * (1 + random.random() / 4)  # noqa: S311


def _token_key(registration: Registration, scopes: list[str]) -> str:
    raw = "\n".join(
        [
            registration.issuer,
            registration.client_id,
            registration.auth_token_url,
            " ".join(sorted(set(scopes))),
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def access_token_get(*, registration: Registration, scopes: list[str], fresh: bool = False) -> str:
    """A cached access token for these scopes, or a new one."""
    from lti.services import service_token_answer

    key = _token_key(registration, scopes)
    now = timezone.now()
    if not fresh:
        cached = ServiceToken.objects.filter(key=key, expires_at__gt=now).first()
        if cached is not None:
            return cached.token
    answer = service_token_answer(registration=registration, scopes=scopes)
    expires_in = answer.get("expires_in")
    lifetime = (
        expires_in
        if isinstance(expires_in, int | float) and expires_in > 0
        else (TOKEN_DEFAULT_LIFETIME)
    )
    expires_at = now + timedelta(seconds=max(0.0, float(lifetime) - TOKEN_EARLY_EXPIRY))
    token = answer["access_token"]
    if expires_at > now:
        try:
            with transaction.atomic():
                ServiceToken.objects.update_or_create(
                    key=key, defaults={"token": token, "expires_at": expires_at}
                )
        except IntegrityError:  # another worker stored one at the same moment
            pass
    return token


def token_forget(*, registration: Registration, scopes: list[str]) -> None:
    ServiceToken.objects.filter(key=_token_key(registration, scopes)).delete()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min((when - timezone.now()).total_seconds(), RETRY_AFTER_MAX))


@dataclass
class ServiceResponse:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    body: Any
    url: str


def service_request(
    *,
    registration: Registration,
    scopes: list[str],
    method: str,
    url: str,
    accept: str,
    content_type: str = "",
    payload: Any = None,
) -> ServiceResponse:
    """One service call with the caching, retry and refresh rules above.
    Returns the parsed JSON body (None for an empty one)."""
    attempts = _setting("LTI_SERVICE_RETRIES", 4)
    base = _setting("LTI_SERVICE_BACKOFF", 0.5)
    timeout = (_setting("LTI_HTTP_CONNECT_TIMEOUT", 3.0), _setting("LTI_HTTP_READ_TIMEOUT", 10.0))
    token = access_token_get(registration=registration, scopes=scopes)
    refreshed = False
    attempt = 0
    while True:
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        kwargs: dict[str, Any] = {"headers": headers}
        if payload is not None:
            headers["Content-Type"] = content_type
            kwargs["data"] = json.dumps(payload)
        try:
            response = requests.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            if attempt < attempts:
                attempt += 1
                _sleep(_backoff(base, attempt))
                continue
            raise ServiceError(
                f"{method} {url} failed: {error.__class__.__name__}",
                code="lti_platform_unreachable",
            ) from error
        status = response.status_code
        if status == 401 and not refreshed:
            refreshed = True
            token_forget(registration=registration, scopes=scopes)
            token = access_token_get(registration=registration, scopes=scopes, fresh=True)
            continue
        if (status == 429 or status >= 500) and attempt < attempts:
            attempt += 1
            wait = _retry_after(response)
            if wait is None:
                wait = _backoff(base, attempt)
            log.info(
                "lti: %s %s answered %s; retry %s in %.1fs", method, url, status, attempt, wait
            )
            _sleep(wait)
            continue
        if status >= 400:
            raise ServiceError(
                f"{method} {url} answered {status}: {response.text[:300]}",
                http_status=status,
            )
        body = None
        if response.content:
            try:
                body = response.json()
            except ValueError as error:
                raise ServiceError(f"{method} {url} did not answer JSON.") from error
        return ServiceResponse(status=status, headers=response.headers, body=body, url=response.url)
