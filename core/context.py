"""Where the current piece of work comes from: client IP, user agent and request id, bound once per request
(config's middleware) or per outbox delivery (the relay), read by audit events, rate limits and mail; and, for
a request authenticated with an admin API key, that key (bound by the admin API's authentication), so that
audit events name the key that acted.

This module is the one source of the client IP. Behind TRUSTED_PROXY_COUNT proxies the address is taken from
X-Forwarded-For, whose hops are parsed and validated: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
`[2001:db8::1]:443`. A hop that is not an address (junk, an obfuscated `unknown`, a hostname) is never
trusted: the direct peer (REMOTE_ADDR) is used instead and the problem is logged once per process.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActingKey:
    """The admin API key a request is authenticated with. The key acts as its owner (the owner's permissions
    apply), and audit.services.record names the key as the actor of events whose actor is the owner."""

    id: uuid.UUID
    prefix: str
    owner_id: uuid.UUID


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    # Not carried into outbox deliveries (as_dict): what a handler does later is the system's work.
    api_key: ActingKey | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ip": self.ip, "user_agent": self.user_agent, "request_id": self.request_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RequestContext:
        data = data or {}
        return cls(
            ip=parse_ip(data.get("ip")),
            user_agent=str(data.get("user_agent") or "")[:512],
            request_id=str(data.get("request_id") or "")[:64],
        )


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "request_context",
    default=RequestContext(),  # noqa: B039 (frozen, so never mutated)
)


def bind(ctx: RequestContext) -> contextvars.Token[RequestContext]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)


def current() -> RequestContext:
    return _current.get()


def bind_api_key(key: ActingKey) -> None:
    """Mark the rest of the current request as done through `key`. The middleware's reset of its own binding
    at the end of the request discards this one too."""
    _current.set(replace(current(), api_key=key))


# --- client IP ------------------------------------------------------------------------------------------


def parse_ip(value: Any) -> str | None:
    """A canonical IP address from one address-like value, or None: accepts an optional port (`v4:port`,
    `[v6]:port`) and brackets; refuses anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1 :] and not _is_port(text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not _is_port(f":{port}"):
            return None
        text = host
    text = text.split("%", 1)[0]  # a zone id (fe80::1%eth0) names the peer's interface, not the peer
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _is_port(suffix: str) -> bool:
    return suffix.startswith(":") and suffix[1:].isdigit() and 0 < int(suffix[1:]) < 65536


_warned = False


def _warn_once(message: str, *args: Any) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(message + " (logged once per process)", *args)


def client_ip(meta: Mapping[str, Any], trusted_proxies: int) -> str | None:
    """The client address of a request (its META): REMOTE_ADDR, or, behind `trusted_proxies` proxies, the
    hop of X-Forwarded-For that the outermost trusted proxy saw."""
    remote = parse_ip(meta.get("REMOTE_ADDR"))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", "") or "")
    if trusted_proxies <= 0 or not forwarded:
        return remote
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if not hops:
        return remote
    hop = hops[-min(trusted_proxies, len(hops))]
    parsed = parse_ip(hop)
    if parsed is None:
        _warn_once("X-Forwarded-For hop %r is not an IP address; using REMOTE_ADDR instead", hop[:80])
        return remote
    return parsed
