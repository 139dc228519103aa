"""Checks of the writable global settings; shared by the JSON API and the console. Messages never hold the value."""

from __future__ import annotations

from typing import Any, Final

from app.runtime_settings.models import PASSWORD_MAX, USERNAME_MAX
from app.sip_credentials.validation import InvalidField, check_field

WRITABLE: Final = ("legacy_api_username", "legacy_api_password", "legacy_api_http")


class InvalidSetting(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _text(field: str, value: Any, rule: str, maximum: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSetting(field, "must be a string (or null to unset)")
    if len(value) > maximum:
        raise InvalidSetting(field, f"must be at most {maximum} characters")
    try:
        return check_field(rule, value)
    except InvalidField as exc:
        raise InvalidSetting(field, f"{exc.reason} (null unsets it)" if not value else exc.reason) from None


def check_value(field: str, value: Any) -> Any:
    """The value to store (``None``: unset, the embedded default applies), or ``InvalidSetting``."""
    if field == "legacy_api_username":
        return _text(field, value, "username", USERNAME_MAX)
    if field == "legacy_api_password":
        return _text(field, value, "password", PASSWORD_MAX)
    if field == "legacy_api_http":
        if value is not None and not isinstance(value, bool):
            raise InvalidSetting(field, "must be true or false (or null to unset)")
        return value
    raise InvalidSetting(field, "unknown field")
