"""concurrency: per-record counters and Idempotency-Key answers

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The counters start where the records made by counting stopped: (table, kind letter).
_COUNTED = (
    ("assessments", "A"),
    ("custody_events", "E"),
    ("identity_incidents", "X"),
    ("shipments", "S"),
    ("batches", "B"),
)


def upgrade() -> None:
    op.create_table(
        "record_sequences",
        sa.Column("scope", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "kind", name=op.f("pk_record_sequences")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.String(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_idempotency_keys_username_users")
        ),
        sa.PrimaryKeyConstraint("username", "key", name=op.f("pk_idempotency_keys")),
    )
    for table, kind in _COUNTED:
        op.execute(
            f"INSERT INTO record_sequences (scope, kind, last_value) "  # noqa: S608
            f"SELECT case_id, '{kind}', count(*) FROM {table} "
            f"WHERE case_id IS NOT NULL GROUP BY case_id"
        )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("record_sequences")
