"""runtime_global_settings table (independent branch "runtime_settings")

Revision ID: g0001_runtime_settings
Revises:
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0001_runtime_settings"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("runtime_settings",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "runtime_global_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("legacy_api_username", sa.String(length=100), nullable=True),
        sa.Column("legacy_api_password_hash", sa.String(length=255), nullable=True),
        sa.Column("legacy_api_http", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runtime_global_settings")),
    )
    # The one row exists from the start: a change is always an UPDATE, a poll always finds it.
    op.bulk_insert(table, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("runtime_global_settings")
