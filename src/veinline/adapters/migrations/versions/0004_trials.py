"""trials and their patients

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("criteria", sa.String(length=20), nullable=False),
        sa.Column("cohorts", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_trials_product_code_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
    )
    op.create_table(
        "trial_patients",
        sa.Column("id", sa.String(length=90), nullable=False),
        sa.Column("trial_id", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("cohort_id", sa.String(length=40), nullable=False),
        sa.Column(
            "source",
            sa.Enum("case", "imported", name="outcome_source", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_patients_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_patients")),
    )
    with op.batch_alter_table("trial_patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_patients_trial_id"), ["trial_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trial_patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_patients_trial_id"))

    op.drop_table("trial_patients")
    op.drop_table("trials")
