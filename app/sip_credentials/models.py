"""The ``sip_credential`` table: one row per realm, the password only as an AES-GCM blob."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.sip_credentials.validation import REALM_MAX, USERNAME_MAX
from app.storage.base import Base


def _binary_text(length: int) -> String:
    """Text compared byte for byte: SQLite's default BINARY collation; "C" on PostgreSQL whatever its default."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class SipCredential(Base):
    __tablename__ = "sip_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    realm: Mapped[str] = mapped_column(_binary_text(REALM_MAX), unique=True)
    username: Mapped[str] = mapped_column(_binary_text(USERNAME_MAX))
    key_id: Mapped[str] = mapped_column(String(40), index=True)
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary)
