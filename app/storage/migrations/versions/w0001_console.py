"""console_session table (independent branch "console")

Revision ID: w0001_console
Revises:
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "w0001_console"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("console",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("credential_tag", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_session")),
    )
    op.create_index(op.f("ix_console_session_expires_at"), "console_session", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_session_expires_at"), table_name="console_session")
    op.drop_table("console_session")
