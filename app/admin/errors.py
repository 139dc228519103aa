"""JSON error bodies of the management API."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException


class AdminError(HTTPException):
    """An HTTP error whose JSON body is ``{"error": message, **fields}``."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> None:
        super().__init__(status_code=status_code, detail={"error": message, **fields}, headers=headers)
