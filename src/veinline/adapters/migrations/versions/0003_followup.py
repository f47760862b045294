"""follow-up assessments

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "crs",
                "icans",
                "agvhd",
                "recist",
                "imwg",
                "adverse_event",
                "survival",
                name="assessment_kind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("assessed_on", sa.String(length=10), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_assessments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.username"], name=op.f("fk_assessments_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_case_id"))

    op.drop_table("assessments")
