"""bin/fuzz reads the operations from the live schema: what it fuzzes in each pass and what it leaves out."""

from __future__ import annotations

from typing import Any

from tests.live.fuzz import select_operations

BEARER = [{"SessionBearer": []}]
API_KEY = [{"ApiKeyBearer": ["users:read"]}]


def _schema(*ops: tuple[str, str, str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, op_id, security in ops:
        paths.setdefault(path, {})[method] = {
            "operationId": op_id,
            **({"security": security} if security else {}),
        }
    return {"paths": paths}


def test_selection_of_the_passes() -> None:
    selection = select_operations(
        _schema(
            ("post", "/api/v1/auth/token", "auth_login", None),
            ("post", "/api/v1/auth/logout", "auth_logout", BEARER),
            ("get", "/api/v1/me", "me_get", BEARER),
            ("delete", "/api/v1/me", "me_delete", BEARER),
            ("post", "/api/v1/auth/social/{provider}", "auth_social_login", None),
            ("get", "/api/v1/me/social-accounts", "me_social_accounts_list", BEARER),
            ("post", "/api/v1/me/social-accounts/{provider}/link", "me_social_accounts_link", BEARER),
            ("get", "/api/v1/gdpr/requests", "gdpr_requests_list", BEARER),
            ("get", "/api/v1/admin/users", "admin_users_list", API_KEY),
            ("post", "/api/v1/admin/users/{user_id}/logout", "admin_user_logout", API_KEY),
        )
    )
    # Anonymously everything but the calls to outside providers (the others are only 401s there).
    assert selection.everything == [
        "auth_login",
        "auth_logout",
        "me_get",
        "me_delete",
        "me_social_accounts_list",
        "gdpr_requests_list",
        "admin_users_list",
        "admin_user_logout",
    ]
    # Logged in: bearer operations that do not end the fuzzer's session; routers merged later included.
    assert selection.bearer == ["me_get", "me_social_accounts_list", "gdpr_requests_list"]
    # With a key: the operations of the admin API's scheme (ending users' sessions cannot end a key).
    assert selection.admin == ["admin_users_list", "admin_user_logout"]
    assert set(selection.excluded) == {
        "auth_logout",
        "me_delete",
        "auth_social_login",
        "me_social_accounts_link",
    }
    assert "every pass" in selection.excluded["auth_social_login"]
    assert "logged-in" in selection.excluded["me_delete"]


def test_the_current_schema_excludes_what_docs_api_md_lists(api: Any) -> None:
    from pathlib import Path

    from django.conf import settings

    excluded = select_operations(api.get("/api/v1/openapi.json").json()).excluded
    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    for op_id in excluded:
        assert f"`{op_id}`" in text, f"docs/api.md does not list the fuzzing exclusion {op_id}"


def test_server_log_check_flags_5xx_and_errors_not_logged_400s() -> None:
    from tests.live.server import LiveServer

    server = LiveServer()
    server.log_path.write_text(
        "2026-11-21 10:22:20,243 WARNING django.request Bad Request: /api/v1/me/avatar\n"
        "Traceback (most recent call last):\n"
        "django.http.multipartparser.MultiPartParserError: Invalid boundary in multipart: None\n"
        '127.0.0.1 - - [21/Nov/2026:10:22:20 +0000] "POST /api/v1/me/avatar HTTP/1.1" 400 65 "-" "st"\n'
        '127.0.0.1 - - [21/Nov/2026:10:22:21 +0000] "GET /api/v1/me HTTP/1.1" 500 99 "-" "st"\n'
        "2026-11-21 10:22:21,000 ERROR django.request Internal Server Error: /api/v1/me\n"
        "[2026-11-21 10:22:22 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:8)\n"
    )
    try:
        assert len(server.server_errors()) == 3
    finally:
        server._tmp.cleanup()
