"""An app's errors module as an app installed later would add it (used by tests/config/test_error_codes.py)."""

CODES: dict[str, tuple[int, str]] = {"later_code": (418, "An app merged after this test was written.")}
