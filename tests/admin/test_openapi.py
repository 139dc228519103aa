"""The admin OpenAPI document promises what the API answers: 400 and 401 JSON errors, never FastAPI's 422."""

from __future__ import annotations

import httpx

from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, Bridge


def test_every_admin_operation_documents_400_and_401_and_no_422(bridge: Bridge) -> None:
    with bridge.client() as anonymous:
        document = anonymous.get("/api/admin/openapi.json").json()
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 8
    for path, method, operation in operations:
        codes = set(operation["responses"])
        assert "422" not in codes, (method, path)
        assert {"400", "401"} <= codes, (method, path)
        error_schema = operation["responses"]["400"]["content"]["application/json"]["schema"]
        assert error_schema["required"] == ["error"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_an_invalid_query_parameter_is_the_documented_400(bridge: Bridge) -> None:
    with bridge.client(auth=httpx.BasicAuth(ADMIN_USER, ADMIN_PASSWORD)) as admin:
        response = admin.get("/api/admin/configuration/v1/sip_credential/", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid value for limit", "field": "limit"}
