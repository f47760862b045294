"""jobs: long work (capacity sweeps, plans) run off the request path, with progress and
a result cached by its inputs

Revision ID: 0015_jobs
Revises: 0014_msc_shipments

Not a regulated record: no ledger entry, no patient data (docs/architecture.md, "Jobs").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_jobs"
down_revision = "0014_msc_shipments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("artifact", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.username"], name=op.f("fk_jobs_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_key", "jobs", ["key"], unique=False)
    op.create_index("ix_jobs_state_submitted", "jobs", ["state", "submitted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_state_submitted", table_name="jobs")
    op.drop_index("ix_jobs_key", table_name="jobs")
    op.drop_table("jobs")
