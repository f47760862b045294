"""ledger checkpoints: each verification's result, append-only, so a routine check
walks only the entries after the last good one; on PostgreSQL, a function that takes
the append lock and appends in one round trip

Revision ID: 0012_ledger_checkpoints
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger_checkpoints"
down_revision = "0011_encrypt_patient_data"
branch_labels = None
depends_on = None


# PostgreSQL: take the ledger's append lock and append after the tip the caller expects,
# in one round trip (adapters/repository.py, SqlLedger.append). A VOLATILE function
# takes a fresh snapshot for each statement it runs (PostgreSQL manual, "Function
# Volatility Categories"), so the INSERT sees every append committed before the lock
# was granted. It inserts nothing and returns false when the tip is not the expected one.
_PG_APPEND_FUNCTION = """
CREATE FUNCTION veinline_ledger_append(
    lock_key bigint, p_seq integer, p_recorded_at text, p_actor text, p_actor_name text,
    p_action text, p_entity_type text, p_entity_id text, p_before text, p_after text,
    p_reason text, p_signature_meaning text, p_signed_hash text, p_prev_hash text,
    p_hash text
) RETURNS boolean AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    INSERT INTO ledger_entries (
        seq, recorded_at, actor, actor_name, action, entity_type, entity_id, "before",
        "after", reason, signature_meaning, signed_hash, prev_hash, hash
    )
    SELECT p_seq, p_recorded_at, p_actor, p_actor_name, p_action, p_entity_type,
        p_entity_id, p_before, p_after, p_reason, p_signature_meaning, p_signed_hash,
        p_prev_hash, p_hash
    WHERE NOT EXISTS (SELECT 1 FROM ledger_entries WHERE seq >= p_seq)
        AND (p_seq = 1 OR EXISTS (
            SELECT 1 FROM ledger_entries WHERE seq = p_seq - 1 AND hash = p_prev_hash
        ));
    RETURN FOUND;
END;
$$ LANGUAGE plpgsql VOLATILE
"""


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
        op.execute(_PG_APPEND_FUNCTION)
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
        op.execute("DROP FUNCTION veinline_ledger_append")
    else:
        op.execute("DROP TRIGGER ledger_checkpoints_no_update")
        op.execute("DROP TRIGGER ledger_checkpoints_no_delete")
    op.drop_table("ledger_checkpoints")
