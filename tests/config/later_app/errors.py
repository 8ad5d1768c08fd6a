"""An app's errors module as an app installed later would add it (used by tests/config/test_error_codes.py)."""

from core.errors import DomainError


class LaterError(DomainError):
    status = 418
    code = "later_code"
    message = "An app merged after this test was written."
