"""Field rules shared by the API and the CLI: no trimming, folding or normalisation, only refusal."""

from __future__ import annotations

import unicodedata

REALM_MAX = 250
USERNAME_MAX = 100
PASSWORD_MAX = 100

MAX_LENGTHS = {"realm": REALM_MAX, "username": USERNAME_MAX, "password": PASSWORD_MAX}

# Cc: C0/C1 controls and DEL; Cs: lone surrogates, which cannot be stored as UTF-8 at all.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


class InvalidField(ValueError):
    """A value the named field may not hold. The message never contains the value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def check_field(field: str, value: str) -> str:
    """Return ``value`` unchanged, or raise ``InvalidField`` naming ``field``."""
    if not value:
        raise InvalidField(field, "must not be empty")
    if len(value) > MAX_LENGTHS[field]:
        raise InvalidField(field, f"must be at most {MAX_LENGTHS[field]} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value):
        raise InvalidField(field, "must not contain control characters")
    return value
