"""Failed console logins are counted per account and per IP in the cache (Redis in production); past the
limit the login form refuses before checking the password. Counters fail open if the cache is down (login
still works; the error is logged)."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core import context

logger = logging.getLogger(__name__)


def _keys(request: HttpRequest | None, login: str) -> list[tuple[str, int]]:
    limit = settings.CONSOLE_LOGIN_MAX_FAILURES
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"console:login-fail:acct:{digest}", limit)]
    ip = context.current().ip
    if ip:
        keys.append((f"console:login-fail:ip:{ip}", limit * 4))
    return keys


def login_locked(request: HttpRequest | None, login: str) -> bool:
    try:
        return any((cache.get(key) or 0) >= limit for key, limit in _keys(request, login))
    except Exception:
        logger.exception("console login throttle unavailable (failing open)")
        return False


def login_failed(request: HttpRequest | None, login: str) -> None:
    try:
        for key, _limit in _keys(request, login):
            cache.add(key, 0, settings.CONSOLE_LOGIN_LOCK_SECONDS)
            cache.incr(key)
    except Exception:
        logger.exception("console login throttle unavailable (failing open)")


def login_succeeded(request: HttpRequest | None, login: str) -> None:
    try:
        cache.delete(_keys(request, login)[0][0])
    except Exception:
        logger.exception("console login throttle unavailable (failing open)")
