"""ledger checkpoints: each verification's result, append-only, so a routine check
walks only the entries after the last good one

Revision ID: 0012_ledger_checkpoints
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger_checkpoints"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("tip_hash", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.String(length=32), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("entries_checked", sa.Integer(), nullable=False),
        sa.Column("records_checked", sa.Integer(), nullable=False),
        sa.Column("first_break", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["checked_by"],
            ["users.username"],
            name=op.f("fk_ledger_checkpoints_checked_by_users"),
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_ledger_checkpoints")),
        sa.UniqueConstraint("hash", name=op.f("uq_ledger_checkpoints_hash")),
    )
    # Checkpoints are kept as the ledger is (Part 11.10(e)): the database refuses to
    # change or remove one. PostgreSQL reuses the ledger's trigger function (0001).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION veinline_ledger_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_checkpoints_no_{verb.lower()} BEFORE {verb} "
                "ON ledger_checkpoints BEGIN "
                f"SELECT RAISE(ABORT, 'ledger checkpoints are append-only: {verb} is refused'); "
                "END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_checkpoints_append_only ON ledger_checkpoints")
    else:
        op.execute("DROP TRIGGER ledger_checkpoints_no_update")
        op.execute("DROP TRIGGER ledger_checkpoints_no_delete")
    op.drop_table("ledger_checkpoints")
