"""sip_registration_lease and sip_registration_status tables (independent branch "sip_registration")

Revision ID: r0001_sip_registration
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "r0001_sip_registration"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sip_registration",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    lease = op.create_table(
        "sip_registration_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sip_registration_lease")),
    )
    # The one lease row exists from the start, so taking it is always a conditional UPDATE.
    op.bulk_insert(lease, [{"name": "registrar", "owner": None, "expires_at": datetime(1970, 1, 1)}])
    op.create_table(
        "sip_registration_status",
        sa.Column("alias", sa.String(length=320), nullable=False),
        sa.Column("numeric_id", sa.String(length=64), nullable=False),
        sa.Column("conference_name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("realm", sa.String(length=250), nullable=True),
        sa.Column("algorithm", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_sip_registration_status")),
    )
    op.create_index(
        op.f("ix_sip_registration_status_updated_at"), "sip_registration_status", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sip_registration_status_updated_at"), table_name="sip_registration_status")
    op.drop_table("sip_registration_status")
    op.drop_table("sip_registration_lease")
