"""Absolute links to the API itself (the export download), as opposed to mail.link's frontend pages.

The base is PUBLIC_API_URL. Unset, it is the scheme and host of the request being answered when there is
one (the caller passes `request_origin`; Django has checked the host against ALLOWED_HOSTS), and otherwise
(a mail built by a background job) the origin of FRONTEND_URL, whose host must then pass /api/ through to
this server. Production sets PUBLIC_API_URL, so both answer the same (a deploy check warns when unset).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def public_api_base(*, request_origin: str = "") -> str:
    if settings.PUBLIC_API_URL:
        return str(settings.PUBLIC_API_URL)
    if request_origin:
        return request_origin.rstrip("/")
    frontend = urlsplit(settings.FRONTEND_URL)
    return f"{frontend.scheme}://{frontend.netloc}"


def api_url(path: str, *, request_origin: str = "") -> str:
    """`path` (starting with /api/) on the API's public base."""
    return f"{public_api_base(request_origin=request_origin)}{path}"
