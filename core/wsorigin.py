"""The WebSocket Origin check: scheme, host and port, as Django's CSRF check
compares them for a form post (docs/realtime.md).

A socket is accepted when its `Origin` is

- the origin of the page that opened it: the scheme of the request (`ws` is
  `http`, `wss` is `https`; behind a TLS proxy the `SECURE_PROXY_SSL_HEADER`
  Django trusts, or Daphne's `--proxy-headers` scheme), and the `Host` header
  (host and port), whose host is in `ALLOWED_HOSTS`; or
- one of `CSRF_TRUSTED_ORIGINS` (`https://*.example.org` for subdomains),
  with the same scheme, host and port.

Channels' `AllowedHostsOriginValidator` compared the host only: a page on
`http://roundtable.example.org:8081` (or plain http in production) could open
a socket on `https://roundtable.example.org`. Anything else (no Origin,
`null`, a port that differs) is refused at the handshake (HTTP 403)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin1")
    return None


def origin_parse(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or trusted-origin pattern, or None."""
    try:
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def request_scheme(scope) -> str:
    """http or https: what the browser used to reach us."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, secure_value = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, name)
        if value is not None:
            return "https" if value.split(",")[0].strip() == secure_value else "http"
    return _SCHEMES.get(str(scope.get("scheme") or "ws").lower(), "http")


def page_origin(scope) -> tuple[str, str, int] | None:
    """The origin of the page on this site that opened the socket, from the
    request's scheme and Host header; None without an allowed Host."""
    host_header = _header(scope, b"host")
    if not host_header:
        return None
    domain, port = split_domain_port(host_header.lower())
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = request_scheme(scope)
    try:
        number = int(port) if port else DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    # split_domain_port strips an IPv6 literal's brackets; urlsplit's hostname too.
    return scheme, domain.strip("[]"), number


def _trusted(origin: tuple[str, str, int]) -> bool:
    scheme, host, port = origin
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in pattern
        trusted = origin_parse(pattern.replace("://*.", "://", 1) if wildcard else pattern)
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(scope) -> bool:
    value = _header(scope, b"origin")
    if not value:
        return False
    origin = origin_parse(value)
    if origin is None:  # "null" (a sandboxed page, a file) and anything malformed
        return False
    return origin == page_origin(scope) or _trusted(origin)


class OriginCheck:
    """ASGI middleware for WebSocket routes: refuse a handshake whose Origin
    is not this site's page or a trusted origin."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("OriginCheck guards WebSocket connections only")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        # Closing before accepting is a 403 to the handshake. Not Channels'
        # WebsocketDenier: a consumer, it would wait on the channel layer
        # (a process-local channel) until Daphne's disconnect cancelled it,
        # and those cancelled receives held up the process's other
        # channel-layer readers: /healthz's round trip timed out (503) for
        # seconds after a few foreign-origin attempts (tests/faults/
        # test_connection_budget.py).
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close"})
