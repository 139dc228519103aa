"""What the management API's OpenAPI document says about errors: what the API really answers.

Every admin error is a JSON body ``{"error": ..., "field": ...}``. A request FastAPI cannot validate is
answered 400 by ``app.main`` (not FastAPI's 422), so the document's 422 entries become 400 ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
    "required": ["error"],
}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


BAD_REQUEST = error_response("invalid value (the body names the field or parameter)")
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: BAD_REQUEST,
    401: error_response("admin credentials missing or wrong"),
    429: error_response("too many failed authentications from this address (see Retry-After)"),
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", BAD_REQUEST)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return spec


def use_admin_error_documentation(app: FastAPI) -> None:
    """Build the document once, on first request, with 400 in place of FastAPI's 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
