"""catalogue provenance and labels: development codes, ISBT 128 class and product
description codes, per-field sources; label reconciliation on the case

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("development_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("isbt128_class", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("provenance", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("isbt128_collection_code", sa.String(length=5), nullable=True)
        )
        batch_op.add_column(sa.Column("isbt128_product_code", sa.String(length=5), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("labels", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("labels")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("isbt128_product_code")
        batch_op.drop_column("isbt128_collection_code")
        batch_op.drop_column("provenance")
        batch_op.drop_column("isbt128_class")
        batch_op.drop_column("development_code")
