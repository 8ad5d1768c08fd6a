"""Request parsing shared by every operation.

- A JSON body must be an object. Ninja validates a body schema whose fields are all optional from any
  value's attributes, so `[null, null]` sent to PATCH /me was a successful empty update.
- PostgreSQL cannot store or even compare text containing NUL (U+0000): such a value reaching a query is
  a 500 there (SQLite takes it, so tests on SQLite would pass). It is never meaningful input, so the API
  refuses it at the door: in a JSON body (400 bad_request), in query or form fields (422 on that field),
  and in the URL path (404, config.middleware.ApiErrorEnvelopeMiddleware).
- A query or form field that is not a list is given once (422 otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from ninja.errors import ValidationError
from ninja.parser import Parser

NUL_MESSAGE = _("NUL characters are not accepted.")
REPEATED_MESSAGE = _("Give this parameter once.")


class BodyNotAccepted(ValueError):
    """The body is valid JSON but not acceptable; its message becomes the 400 answer's message."""


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        # Ninja turns any exception here into HttpError(400); config/api.py keeps our message.
        try:
            data = json.loads(request.body)
        except ValueError as exc:  # malformed JSON, or not UTF-8: our message, in the request's language
            raise BodyNotAccepted(_("The request body is not valid JSON.")) from exc
        if not isinstance(data, dict):
            raise BodyNotAccepted(_("The request body must be a JSON object."))
        if has_nul(data):
            raise BodyNotAccepted(NUL_MESSAGE)
        return data

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest) -> Any:
        source = "query" if data is request.GET else "form"
        errors = []
        for key, values in data.lists():
            if has_nul(key) or has_nul(list(values)):
                errors.append({"loc": (source, key.replace("\x00", "")), "msg": NUL_MESSAGE})
            elif len(values) > 1 and key not in list_fields:
                # Found by fuzzing: `?limit=x&limit=5` was a 200 (the last value won, the others were
                # never validated). A single-valued parameter is given once.
                errors.append({"loc": (source, key), "msg": REPEATED_MESSAGE})
        if errors:
            raise ValidationError(errors)
        return super().parse_querydict(data, list_fields, request)
