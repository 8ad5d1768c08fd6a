from __future__ import annotations

from config.api import api

EXPECTED = {
    ("post", "/api/v1/gdpr/requests"): ("gdpr_requests_create", {202, 400, 401, 409, 422, 429}),
    ("get", "/api/v1/gdpr/requests"): ("gdpr_requests_list", {200, 401, 422}),
    ("get", "/api/v1/gdpr/requests/{request_id}"): ("gdpr_requests_get", {200, 401, 404, 422}),
    ("post", "/api/v1/gdpr/requests/{request_id}/cancel"): (
        "gdpr_requests_cancel",
        {200, 401, 404, 409, 422},
    ),
    ("get", "/api/v1/gdpr/exports/{token}"): ("gdpr_export_download", {200, 404, 410, 429}),
    ("head", "/api/v1/gdpr/exports/{token}"): ("gdpr_export_check", {200, 404, 410, 429}),
    ("get", "/api/v1/me/consents"): ("me_consents_list", {200, 401}),
    ("put", "/api/v1/me/consents/{purpose}"): ("me_consents_update", {200, 400, 401, 404, 422}),
    ("get", "/api/v1/me/consents/history"): ("me_consents_history", {200, 401, 422}),
}


def test_gdpr_operations_in_the_schema():
    schema = api.get_openapi_schema()
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    for (method, path), (operation_id, statuses) in EXPECTED.items():
        operation = schema["paths"][path][method]
        assert operation["operationId"] == operation_id
        # every operation may answer 500 (ErrorOut); those with a body also 413 (config/openapi.py adds them)
        framework = {500} | ({413} if "requestBody" in operation else set())
        assert {int(s) for s in operation["responses"]} == statuses | framework, operation_id
        assert operation["summary"]
        assert operation["tags"] == (["consents"] if "consents" in path else ["gdpr"])
        needs_bearer = "exports" not in path
        assert bool(operation.get("security")) == needs_bearer, operation_id
    download = schema["paths"]["/api/v1/gdpr/exports/{token}"]["get"]["responses"]
    assert "application/zip" in download["200"]["content"]
