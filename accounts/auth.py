"""Bearer authentication: a valid access token whose session and user are still live (one query)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts import errors, selectors, services, tokens
from accounts.models import Session
from core.security import QuietHttpBearer


class SessionBearer(QuietHttpBearer):
    # The 401 codes this check answers with besides `not_authenticated` (no bearer token); config/openapi.py
    # lists them on every operation behind it.
    error_types = (errors.TokenInvalid, errors.SessionRevoked)

    def authenticate(self, request: HttpRequest, token: str) -> Session:
        claims = tokens.access_decode(token)
        session = selectors.session_for_access(session_id=claims.session_id, user_id=claims.user_id)
        if session is None:
            raise errors.SessionRevoked()
        services.session_touch(session=session)
        request.user = session.user
        return session


session_auth = SessionBearer()
