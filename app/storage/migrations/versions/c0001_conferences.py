"""conference tables (independent branch "conferences")

Revision ID: c0001_conferences
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0001_conferences"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("conferences",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table(
        "conference_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("conference_count", sa.Integer(), nullable=False),
        sa.Column("enumerate_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_state")),
    )
    # One key for every worker and instance: enumerateIDs stay valid whichever process answers next.
    op.bulk_insert(state, [{"id": 1, "revision": 1, "conference_count": 0, "enumerate_key": secrets.token_hex(32)}])
    op.create_table(
        "conference",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=31), nullable=False),
        sa.Column("numeric_id", sa.String(length=31), nullable=True),
        sa.Column("guest_numeric_id", sa.String(length=31), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("cleanup_timeout", sa.Integer(), nullable=False),
        sa.Column("empty_since", sa.DateTime(), nullable=True),
        sa.Column("cleanup_due", sa.DateTime(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("active_instance", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference")),
        sa.UniqueConstraint("name", name=op.f("uq_conference_name")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_conference_end_time"), "conference", ["end_time"], unique=False)
    op.create_index(op.f("ix_conference_cleanup_due"), "conference", ["cleanup_due"], unique=False)
    op.create_index(op.f("ix_conference_revision"), "conference", ["revision"], unique=False)
    op.create_table(
        "conference_numeric_id",
        sa.Column("numeric_id", sa.String(length=31), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("guest", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_conference_numeric_id_conference_id_conference"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("numeric_id", name=op.f("pk_conference_numeric_id")),
    )
    op.create_index(
        op.f("ix_conference_numeric_id_conference_id"), "conference_numeric_id", ["conference_id"], unique=False
    )
    op.create_table(
        "conference_participant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=31), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("participant_type", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=63), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("call_state", sa.String(length=16), nullable=False),
        sa.Column("connect_time", sa.DateTime(), nullable=True),
        sa.Column("disconnect_time", sa.DateTime(), nullable=True),
        sa.Column("disconnect_reason", sa.String(length=32), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_conference_participant_conference_id_conference"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_participant")),
        sa.UniqueConstraint("conference_id", "name", name="uq_conference_participant_conference_id_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_conference_participant_revision"), "conference_participant", ["revision"], unique=False)
    op.create_table(
        "conference_dead_record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_dead_record")),
    )
    op.create_index(
        "ix_conference_dead_record_kind_item_id", "conference_dead_record", ["kind", "item_id"], unique=False
    )
    op.create_index(
        op.f("ix_conference_dead_record_deleted_at"), "conference_dead_record", ["deleted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("conference_dead_record")
    op.drop_table("conference_participant")
    op.drop_table("conference_numeric_id")
    op.drop_table("conference")
    op.drop_table("conference_state")
