"""sip_credential table (independent branch "sip_credentials")

Revision ID: s0001_sip_credentials
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0001_sip_credentials"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sip_credentials",)
depends_on: str | Sequence[str] | None = None


def _binary_text(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sip_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm", _binary_text(250), nullable=False),
        sa.Column("username", _binary_text(100), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("password_sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_credential")),
        sa.UniqueConstraint("realm", name=op.f("uq_sip_credential_realm")),
    )
    op.create_index(op.f("ix_sip_credential_key_id"), "sip_credential", ["key_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sip_credential_key_id"), table_name="sip_credential")
    op.drop_table("sip_credential")
