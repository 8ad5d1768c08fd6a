"""Outbound HTTP for webhooks: the URL rules (http(s) only, no credentials, no private addresses) and one
POST that connects to exactly the addresses it checked.

SSRF: a URL is resolved and refused if any address it resolves to is not a public unicast address
(loopback, private, link-local, shared, reserved, multicast, unspecified, or an IPv4-mapped form of those),
unless WEBHOOKS_ALLOW_PRIVATE is set. The check runs when an endpoint is saved and again before every
attempt, and the connection goes to the address that was checked (the host name still serves as the Host
header, TLS SNI and certificate name), so a DNS answer that changes between check and connect (DNS
rebinding) cannot redirect the request. http.client is used directly: it follows no redirects and reads no
proxy settings from the environment.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "Custodian-Webhooks/1"
MAX_URL_LENGTH = 2000
_READ_CHUNK = 8192


class UrlRefused(Exception):
    """The URL is malformed, not http(s), carries credentials, or reaches a non-public address."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def url_parse(url: str) -> tuple[str, str, int, str]:
    """Syntax only: (scheme, host, port, path with query). Raises UrlRefused."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise UrlRefused("Enter an http:// or https:// URL of at most 2000 characters.")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        # What goes on the request line must be ASCII: a punycode host, a percent-encoded path.
        raise UrlRefused("The URL may contain only printable ASCII without spaces (percent-encode the rest).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("This is not a valid URL.")
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs are allowed.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Credentials in the URL are not allowed; the signature authenticates Custodian.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    if parts.fragment:
        raise UrlRefused("The URL may not have a #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def url_resolve(url: str) -> Target:
    """Parse, resolve and check a URL. Raises UrlRefused (a DNS failure included)."""
    scheme, host, port, path = url_parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host {host!r} does not resolve.")
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UrlRefused(f"The host {host!r} does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        blocked = [a for a in addresses if _forbidden(a)]
        if blocked:
            raise UrlRefused(
                f"The host {host!r} resolves to a private, loopback or otherwise non-public address "
                f"({', '.join(blocked)}); such URLs are refused unless WEBHOOKS_ALLOW_PRIVATE is set."
            )
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=connect_timeout)
        self._addresses = target.addresses
        self._read_timeout = read_timeout

    def _open(self) -> socket.socket:
        """Connect to the first of the checked addresses that answers (never to a fresh DNS answer)."""
        error: OSError = OSError("no address to connect to")
        for address in self._addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
                continue
            sock.settimeout(self._read_timeout)
            return sock
        raise error

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def connect(self) -> None:
        # Certificate and host name are verified against the URL's host, not the pinned address.
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self._open(), server_hostname=self.host)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(target: Target, *, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST once. Connect and read timeouts from settings; at most WEBHOOKS_MAX_RESPONSE_BYTES of the answer
    are read (only its status counts), all within the read timeout; a redirect is just a non-2xx status."""
    connect_timeout = float(settings.WEBHOOKS_CONNECT_TIMEOUT_SECONDS)
    read_timeout = float(settings.WEBHOOKS_READ_TIMEOUT_SECONDS)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    connection = cls(target, connect_timeout, read_timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return Outcome(status_code=None, latency_ms=elapsed_ms(), error=f"{type(exc).__name__}: {exc}"[:500])
    status, latency = response.status, elapsed_ms()
    try:
        _drain(response, deadline=started + connect_timeout + read_timeout)
    except (OSError, http.client.HTTPException):
        pass  # the status has been received; what follows it does not change the outcome
    finally:
        connection.close()
    error = "" if 200 <= status < 300 else f"HTTP {status} {response.reason}".strip()[:500]
    return Outcome(status_code=status, latency_ms=latency, error=error)


def _drain(response: http.client.HTTPResponse, *, deadline: float) -> None:
    """Read (and drop) at most WEBHOOKS_MAX_RESPONSE_BYTES of the body, until the deadline."""
    left = int(settings.WEBHOOKS_MAX_RESPONSE_BYTES)
    while left > 0 and time.monotonic() < deadline:
        chunk = response.read(min(_READ_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
