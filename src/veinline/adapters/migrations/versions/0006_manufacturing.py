"""manufacturing: process templates, specifications, batches, release records

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_templates",
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "superseded",
                "retired",
                name="document_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("transferred_from", sa.String(length=120), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("approval", sa.JSON(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.String(length=120), nullable=True),
        sa.Column("retirement", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["users.username"], name=op.f("fk_process_templates_author_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_process_templates_product_code_products"),
        ),
        sa.ForeignKeyConstraint(
            ["site"], ["sites.code"], name=op.f("fk_process_templates_site_sites")
        ),
        sa.PrimaryKeyConstraint(
            "product_code", "site", "number", name=op.f("pk_process_templates")
        ),
    )
    op.create_table(
        "specifications",
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("market", sa.String(length=12), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tests", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "superseded",
                "retired",
                name="document_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("approval", sa.JSON(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.String(length=120), nullable=True),
        sa.Column("retirement", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["users.username"], name=op.f("fk_specifications_author_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_specifications_product_code_products"),
        ),
        sa.PrimaryKeyConstraint("product_code", "market", "number", name=op.f("pk_specifications")),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=120), nullable=False),
        sa.Column("template_number", sa.Integer(), nullable=False),
        sa.Column("template_hash", sa.String(length=64), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("lot_id", sa.String(length=40), nullable=True),
        sa.Column("coi", sa.String(length=20), nullable=True),
        sa.Column("din", sa.String(length=20), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "in_progress",
                "completed",
                "released",
                "conditionally_released",
                "rejected",
                "aborted",
                name="batch_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("deviations", sa.JSON(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abort", sa.JSON(), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_batches_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_batches_product_code_products")
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_batches_site_sites")),
        sa.ForeignKeyConstraint(
            ["started_by"], ["users.username"], name=op.f("fk_batches_started_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("lot_id", name=op.f("uq_batches_lot_id")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches_status"), ["status"], unique=False)

    op.create_table(
        "release_records",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("market", sa.String(length=12), nullable=False),
        sa.Column("specification_id", sa.String(length=120), nullable=False),
        sa.Column("specification_number", sa.Integer(), nullable=False),
        sa.Column("specification_hash", sa.String(length=64), nullable=False),
        sa.Column("tests", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column(
            "disposition",
            sa.Enum(
                "awaiting_results",
                "ready_for_release",
                "out_of_specification",
                "under_investigation",
                "released",
                "conditionally_released",
                "rejected",
                name="disposition",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("investigation", sa.JSON(), nullable=True),
        sa.Column("acknowledgement", sa.JSON(), nullable=True),
        sa.Column("acknowledgement_statement", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_release_records_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.username"], name=op.f("fk_release_records_opened_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_release_records_product_code_products"),
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_release_records")),
    )
    with op.batch_alter_table("release_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_records_disposition"), ["disposition"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("release_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_records_disposition"))

    op.drop_table("release_records")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_status"))
        batch_op.drop_index(batch_op.f("ix_batches_case_id"))

    op.drop_table("batches")
    op.drop_table("specifications")
    op.drop_table("process_templates")
