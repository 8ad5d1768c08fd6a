"""bin/fuzz reads the operations from the live schema: what it fuzzes in each pass and what it leaves out."""

from __future__ import annotations

from typing import Any

from tests.live.fuzz import select_operations

BEARER = [{"SessionBearer": []}]


def _schema(*ops: tuple[str, str, str, bool]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, op_id, bearer in ops:
        paths.setdefault(path, {})[method] = {
            "operationId": op_id,
            **({"security": BEARER} if bearer else {}),
        }
    return {"paths": paths}


def test_selection_of_the_passes() -> None:
    everything, bearer, excluded = select_operations(
        _schema(
            ("post", "/api/v1/auth/token", "auth_login", False),
            ("post", "/api/v1/auth/logout", "auth_logout", True),
            ("get", "/api/v1/me", "me_get", True),
            ("delete", "/api/v1/me", "me_delete", True),
            ("post", "/api/v1/auth/social/{provider}", "auth_social_login", False),
            ("get", "/api/v1/me/social-accounts", "me_social_accounts_list", True),
            ("post", "/api/v1/me/social-accounts/{provider}", "me_social_accounts_link", True),
            ("get", "/api/v1/gdpr/requests", "gdpr_requests_list", True),
        )
    )
    # Anonymously everything but the calls to outside providers (the others are only 401s there).
    assert everything == [
        "auth_login",
        "auth_logout",
        "me_get",
        "me_delete",
        "me_social_accounts_list",
        "gdpr_requests_list",
    ]
    # Logged in: bearer operations that do not end the fuzzer's session; routers merged later included.
    assert bearer == ["me_get", "me_social_accounts_list", "gdpr_requests_list"]
    assert set(excluded) == {"auth_logout", "me_delete", "auth_social_login", "me_social_accounts_link"}
    assert "every pass" in excluded["auth_social_login"]
    assert "logged-in" in excluded["me_delete"]


def test_the_current_schema_excludes_what_docs_api_md_lists(api: Any) -> None:
    from pathlib import Path

    from django.conf import settings

    _, _, excluded = select_operations(api.get("/api/v1/openapi.json").json())
    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    for op_id in excluded:
        assert f"`{op_id}`" in text, f"docs/api.md does not list the fuzzing exclusion {op_id}"
