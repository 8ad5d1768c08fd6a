"""docs/api.md's error codes table lists every code the API can answer with (core.errors.all_codes():
GENERIC_CODES and every DomainError subclass of the local apps), with its status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from config import api as config_api
from config import middleware
from core.errors import GENERIC_CODES, all_codes

API_MD = Path(settings.BASE_DIR) / "docs" / "api.md"
ROW = re.compile(
    r"^\|\s*`(?P<code>[a-z0-9_]+)`\s*\|\s*(?P<statuses>[0-9, ]+)\s*\|\s*(?P<meaning>.*?)\s*\|\s*$"
)


def documented_codes(text: str) -> dict[str, set[int]]:
    """Rows `| `code` | status[, status] | meaning |` of the "Error codes" section."""
    section = text.split("\n## Error codes", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[int]] = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match and match["meaning"]:
            statuses = {int(s) for s in match["statuses"].replace(" ", "").split(",") if s}
            rows.setdefault(match["code"], set()).update(statuses)
    return rows


def _missing_rows(codes: dict[str, dict[int, str]], documented: dict[str, set[int]]) -> list[str]:
    return [
        f"| `{code}` | {', '.join(str(s) for s in sorted(statuses))} | {next(iter(statuses.values()))} |"
        for code, statuses in sorted(codes.items())
        if not set(statuses) <= documented.get(code, set())
    ]


def test_every_code_in_the_code_is_in_the_table() -> None:
    missing = _missing_rows(all_codes(), documented_codes(API_MD.read_text()))
    assert missing == [], "add these rows to the error codes table of docs/api.md:\n" + "\n".join(missing)


def test_every_code_in_the_table_exists_in_the_code() -> None:
    codes = all_codes()
    stale = {
        code: statuses
        for code, statuses in documented_codes(API_MD.read_text()).items()
        if not statuses <= set(codes.get(code, {}))
    }
    assert stale == {}, "docs/api.md lists codes (or statuses) the API does not answer with"


def test_codes_of_the_generic_handlers_are_generic_codes() -> None:
    handler_codes = set(config_api.STATUS_CODES.values()) | {code for code, _ in middleware._STATUS.values()}
    assert handler_codes <= set(GENERIC_CODES)


def test_the_collector_finds_codes_of_apps_merged_later() -> None:
    """An app that did not exist when the table was written is still checked: its error classes are found."""
    apps = [*settings.INSTALLED_APPS, "tests.config.later_app"]
    with override_settings(INSTALLED_APPS=apps):
        codes = all_codes()
    assert codes["later_code"] == {418: "An app merged after this test was written."}
    assert "later_code" not in all_codes()
    missing = _missing_rows(codes, documented_codes(API_MD.read_text()))
    assert "| `later_code` | 418 | An app merged after this test was written. |" in missing


def test_table_parser_reads_multi_status_rows() -> None:
    text = "# x\n\n## Error codes\n\n| code | status | meaning |\n| --- | --- | --- |\n| `a_b` | 400, 401 | m |\n\n## Next\n| `c` | 500 | n |\n"
    assert documented_codes(text) == {"a_b": {400, 401}}


@pytest.mark.parametrize("code", ["validation_error", "invalid_credentials", "token_reused", "rate_limited"])
def test_known_codes_are_collected(code: str) -> None:
    assert code in all_codes()


def test_every_code_the_document_lists_is_registered_with_its_status() -> None:
    """The `code` enums of the OpenAPI document name registered codes only, each under a status it has in
    the registry (and so in the table above)."""
    import json

    from config import openapi
    from config.api import api as ninja_api

    document = json.loads(openapi.render(ninja_api))
    codes = all_codes()
    wrong = sorted(
        f"{op['operationId']} {status} {code}"
        for _method, _path, op in openapi.operations(document)
        for status, answer in op["responses"].items()
        if status[0] in "45"
        for code in document["components"]["schemas"][
            answer["content"]["application/json"]["schema"]["$ref"].removeprefix(openapi.REF_PREFIX)
        ]["properties"]["code"]["enum"]
        if int(status) not in codes.get(code, {})
    )
    assert wrong == []
