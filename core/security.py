"""The base of the API's bearer schemes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer


class QuietHttpBearer(HttpBearer):
    """Ninja's HttpBearer, except that it never logs the Authorization header: ninja's logs a header whose
    scheme is not Bearer when DEBUG is on, and such a header is usually a credential sent the wrong way."""

    def __call__(self, request: HttpRequest) -> Any:
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            return None
        return self.authenticate(request, token.strip())
