"""Rate limits and login lockout, counted in the default Django cache (Redis in production).

Per-IP limits hook into Ninja's throttling (`throttle=ip_throttle("login_ip")` on an operation; Ninja runs it
before the body is parsed and config/api.py renders its `Throttled` as 429 `rate_limited` + Retry-After).
Per-address limits and the lockout need the parsed body or the resolved account, so services call `hit` and
the `lockout_*` functions. The counters themselves are written here rather than with Ninja's
SimpleRateThrottle, which keeps a read-modify-write list per key (concurrent workers lose counts), reads its
rate once at import (tests and operators cannot change it) and raises when the cache is down. See
docs/security.md.

Every cache call fails open: a cache outage logs an error and lets the request through, because the
database, not the cache, holds sessions and revocation.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from accounts import errors
from core import context
from core.errors import RateLimited

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
# Keys outlive their window a little so a slow request near the edge still finds its counter.
_FUDGE_SECONDS = 5


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int


@functools.lru_cache(maxsize=64)
def rate_parse(value: str) -> Rate:
    """ "10/min", "5/5min", "3/hour", "100/day" → Rate(limit, period in seconds)."""
    match = _RATE_RE.match(value.lower())
    if not match or match.group(3) not in _PERIODS:
        raise ValueError(f"Invalid rate {value!r}: use count/period, e.g. 10/min or 5/5min.")
    count, multiplier, unit = match.groups()
    return Rate(limit=int(count), period=int(multiplier or 1) * _PERIODS[unit])


def _digest(ident: str) -> str:
    # Addresses and logins never reach the cache in clear; letter case and spaces do not make new counters.
    return hashlib.sha256(ident.strip().lower().encode()).hexdigest()[:32]


# One atomic step on Redis: count, and give a new counter its expiry.
_COUNT_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _count(key: str, ttl: int) -> int:
    """Add one to the counter `key` (created with `ttl` seconds to live) and return its new value; atomic,
    so concurrent workers never lose counts. On Redis one round trip: a script that INCRs and, for a new
    counter, sets its expiry (Django's add + incr take three: SET NX, then EXISTS and INCR). The value is a
    plain integer, as Django's Redis cache stores ints, so cache.get reads it. Other caches: add, else
    incr."""
    script = _redis_count_script()
    if script is not None:
        # make_key, not make_and_validate_key: the key is ASCII without spaces and short by construction.
        return int(script(keys=[cache.make_key(key)], args=[ttl]))
    if cache.add(key, 1, ttl):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, ttl)
        return 1


def _redis_count_script() -> Any:
    """The counting script bound to the redis-py client behind Django's Redis cache, or None for any other
    cache. Built once per cache connection: Django's get_client() makes a new redis-py client per call,
    which costs more than the round trip (redis-py sends EVALSHA, and the script once if Redis lacks it)."""
    backend_client = getattr(cache, "_cache", None)
    if not isinstance(backend_client, RedisCacheClient):
        return None
    script = getattr(backend_client, "_custodian_count_script", None)
    if script is None:
        script = backend_client.get_client(write=True).register_script(_COUNT_LUA)
        backend_client._custodian_count_script = script  # type: ignore[attr-defined]
    return script


def consume(scope: str, ident: str) -> int | None:
    """Count one request of `ident` against `settings.RATE_LIMITS[scope]` (a fixed window aligned to the
    clock). Returns the seconds until the window ends if this request is over the limit, else None."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    rate = rate_parse(settings.RATE_LIMITS[scope])
    now = time.time()
    window = int(now // rate.period)
    key = f"rl:{scope}:{_digest(ident)}:{window}"
    try:
        count = _count(key, rate.period + _FUDGE_SECONDS)
    except Exception:
        logger.error("rate limiter: cache unavailable, failing open (scope=%s)", scope, exc_info=True)
        return None
    if count > rate.limit:
        return max(1, math.ceil((window + 1) * rate.period - now))
    return None


def hit(scope: str, ident: str) -> None:
    """Count one request; raise RateLimited (429 + Retry-After) when it is over the limit."""
    retry_after = consume(scope, ident)
    if retry_after is not None:
        raise RateLimited(retry_after)


def client_ip() -> str:
    """The client address config.middleware.client_ip derived (X-Forwarded-For only behind
    TRUSTED_PROXY_COUNT proxies), bound in the audit context for this request."""
    return context.current().ip or "unknown"


_throttle_wait: contextvars.ContextVar[int | None] = contextvars.ContextVar("ratelimit_wait", default=None)


class IpThrottle(BaseThrottle):
    """Ninja throttle: `scope` counted per client IP. The wait is kept per request context, not on the
    instance, because one instance serves every thread."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def allow_request(self, request: HttpRequest) -> bool:
        retry_after = consume(self.scope, client_ip())
        _throttle_wait.set(retry_after)
        return retry_after is None

    def wait(self) -> float | None:
        return _throttle_wait.get()


class AnonymousCeiling(BaseThrottle):
    """Ninja throttle: the per-IP ceiling (`anon_ip`) over every anonymous API request, on top of the
    operations' own limits. A request authenticated with a bearer token is not counted: Ninja runs
    throttles after authentication, so such a request has `request.auth` set by then (and an operation that
    needs a token never reaches its throttles without one). The NinjaAPI installs it for every operation;
    `ip_throttle` adds it to operations that bring their own limit."""

    anonymous_only = True
    scope = "anon_ip"
    counts_text = "every anonymous request counts"

    def allow_request(self, request: HttpRequest) -> bool:
        if getattr(request, "auth", None) is not None:
            _throttle_wait.set(None)
            return True
        retry_after = consume(self.scope, client_ip())
        _throttle_wait.set(retry_after)
        return retry_after is None

    def wait(self) -> float | None:
        return _throttle_wait.get()


class CredentialCeiling(AnonymousCeiling):
    """The anonymous ceiling for an operation whose JSON body carries its credential (`field`, the refresh
    token of POST /auth/token/refresh). A request whose body names one is not counted here: the operation
    counts it (`anonymous_hit`) only when the credential does not carry it through, before anything else
    is decided, so a refused caller still gets 429 before its request is looked at further. A request the
    credential carries through (a live token rotated) is then as uncounted as one with a bearer token,
    and the common refresh makes no cache round trip; every other request (no body, not JSON, no
    credential, a credential that does not verify, a spent or revoked one) is counted as by
    AnonymousCeiling. See docs/security.md."""

    counts_text = "counted unless the refresh token is rotated"

    def __init__(self, field: str) -> None:
        self.field = field

    def allow_request(self, request: HttpRequest) -> bool:
        try:
            data = json.loads(request.body)
        except (ValueError, RequestDataTooBig):  # the operation's parser answers these (400, 413)
            data = None
        if isinstance(data, dict) and isinstance(data.get(self.field), str) and data[self.field]:
            _throttle_wait.set(None)
            return True
        return super().allow_request(request)


def anonymous_hit() -> None:
    """Count this request against the anonymous ceiling (CredentialCeiling's deferred count); raise
    RateLimited when it is over."""
    hit(AnonymousCeiling.scope, client_ip())


anonymous_ceiling = AnonymousCeiling()


def ip_throttle(scope: str) -> list[BaseThrottle]:
    """An operation's own per-IP limit, with the anonymous ceiling (which an operation's own throttle
    would otherwise replace)."""
    return [anonymous_ceiling, IpThrottle(scope)]


# --- login lockout ---------------------------------------------------------------------------------------


def _lock_key(account: str) -> str:
    return f"rl:lock:{_digest(account)}"


def _fail_key(account: str) -> str:
    return f"rl:fail:{_digest(account)}"


def lockout_retry_after(account: str) -> int | None:
    """Seconds until `account` unlocks, or None when it is not locked. The lock stores its end time, so the
    answer is right even where the cache's own expiry lags."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    try:
        until = cache.get(_lock_key(account))
    except Exception:
        logger.error("rate limiter: cache unavailable, failing open (lockout check)", exc_info=True)
        return None
    now = time.time()
    if isinstance(until, (int, float)) and until > now:
        return max(1, math.ceil(until - now))
    return None


def lockout_state(account: str) -> tuple[float | None, int]:
    """(the lock's end as a Unix time, or None when not locked; the failures counted in the current window),
    for the console. A cache outage reads as (None, 0)."""
    if not settings.RATE_LIMIT_ENABLED:
        return None, 0
    try:
        values = cache.get_many([_lock_key(account), _fail_key(account)])
    except Exception:
        logger.error("rate limiter: cache unavailable (lockout state)", exc_info=True)
        return None, 0
    until, failures = values.get(_lock_key(account)), values.get(_fail_key(account))
    locked = until if isinstance(until, (int, float)) and until > time.time() else None
    return locked, failures if isinstance(failures, int) else 0


def lockout_check(account: str) -> None:
    retry_after = lockout_retry_after(account)
    if retry_after is not None:
        raise errors.AccountLocked(retry_after)


def lockout_failure(account: str) -> bool:
    """Count one failed password for `account`; True when this failure locked it. The count runs in a
    window that starts at the first failure; locking clears it, so the account gets a fresh allowance
    when the lock ends."""
    if not settings.RATE_LIMIT_ENABLED:
        return False
    window = settings.LOGIN_LOCKOUT_WINDOW_SECONDS
    key = _fail_key(account)
    try:
        count = _count(key, window)
        if count < settings.LOGIN_LOCKOUT_FAILURES:
            return False
        seconds = settings.LOGIN_LOCKOUT_SECONDS
        cache.set(_lock_key(account), time.time() + seconds, seconds + _FUDGE_SECONDS)
        cache.delete(key)
    except Exception:
        logger.error("rate limiter: cache unavailable, failing open (lockout count)", exc_info=True)
        return False
    return True


def lockout_reset(account: str) -> None:
    """A successful login (or a password reset) forgets the account's failures and lifts its lock."""
    if not settings.RATE_LIMIT_ENABLED:
        return
    try:
        cache.delete_many([_fail_key(account), _lock_key(account)])
    except Exception:
        logger.error("rate limiter: cache unavailable, failing open (lockout reset)", exc_info=True)


def settings_errors() -> list[str]:
    """Problems with the configured limits, for the system check (a bad rate must stop startup, not turn
    every login into a 500)."""
    problems = []
    for scope, value in settings.RATE_LIMITS.items():
        try:
            rate = rate_parse(value)
        except ValueError as exc:
            problems.append(f"RATE_LIMITS[{scope!r}]: {exc}")
            continue
        if rate.limit < 1:
            problems.append(f"RATE_LIMITS[{scope!r}]: the count must be at least 1.")
    for name in ("LOGIN_LOCKOUT_FAILURES", "LOGIN_LOCKOUT_WINDOW_SECONDS", "LOGIN_LOCKOUT_SECONDS"):
        if getattr(settings, name) < 1:
            problems.append(f"{name} must be at least 1.")
    return problems
