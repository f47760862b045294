"""msc inventory: donors, lots, storage units, orders, vials

Revision ID: 0013_msc_inventory
Revises: 0010

Allogeneic MSC (docs/architecture.md, "Allogeneic MSC"): a vial's position is UNIQUE
and its order one column, so no vial has two positions or two orders.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_msc_inventory"
down_revision = "0012_ledger_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "msc_donors",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("site_reference", sa.String(length=200), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "eligible",
                "ineligible",
                name="donor_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("review", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registered_by"], ["users.username"], name=op.f("fk_msc_donors_registered_by_users")
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_msc_donors_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_msc_donors")),
    )
    op.create_table(
        "msc_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("treatment_site", sa.String(length=40), nullable=False),
        sa.Column("physician", sa.String(length=64), nullable=False),
        # Sealed at rest (adapters/crypto.py): the ciphertext is text.
        sa.Column("patient_name", sa.Text(), nullable=False),
        sa.Column("wristband_id", sa.Text(), nullable=False),
        sa.Column("patient_facts", sa.Text(), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "refused",
                "placed",
                "short",
                "allocated",
                "shipped",
                "received",
                "completed",
                "cancelled",
                name="msc_order_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("course", sa.JSON(), nullable=False),
        sa.Column("depot", sa.String(length=40), nullable=True),
        sa.Column("vial_ids", sa.JSON(), nullable=False),
        sa.Column("shortage", sa.JSON(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["depot"], ["sites.code"], name=op.f("fk_msc_orders_depot_sites")),
        sa.ForeignKeyConstraint(
            ["physician"], ["users.username"], name=op.f("fk_msc_orders_physician_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_msc_orders_product_code_products")
        ),
        sa.ForeignKeyConstraint(
            ["treatment_site"], ["sites.code"], name=op.f("fk_msc_orders_treatment_site_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_msc_orders")),
    )
    with op.batch_alter_table("msc_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_msc_orders_placed_at"), ["placed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_msc_orders_status"), ["status"], unique=False)

    op.create_table(
        "storage_units",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ln2_tank", "freezer", name="storage_unit_kind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("racks", sa.Integer(), nullable=False),
        sa.Column("boxes_per_rack", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("max_c", sa.Float(), nullable=False),
        sa.Column("alarm", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_storage_units_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_units")),
    )
    with op.batch_alter_table("storage_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_units_site"), ["site"], unique=False)

    op.create_table(
        "msc_lots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("donor_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("market", sa.String(length=12), nullable=False),
        sa.Column("din", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("recall", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_msc_lots_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["donor_id"], ["msc_donors.id"], name=op.f("fk_msc_lots_donor_id_msc_donors")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_msc_lots_product_code_products")
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_msc_lots_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_msc_lots")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_msc_lots_batch_id")),
        sa.UniqueConstraint("din", name=op.f("uq_msc_lots_din")),
    )
    with op.batch_alter_table("msc_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_msc_lots_donor_id"), ["donor_id"], unique=False)

    op.create_table(
        "msc_vials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("din", sa.String(length=20), nullable=False),
        sa.Column("division", sa.String(length=2), nullable=False),
        sa.Column("cells", sa.Float(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "filled",
                "stored",
                "reserved",
                "shipped",
                "received",
                "thawed",
                "infused",
                "discarded",
                name="msc_vial_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.String(length=60), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("quarantine", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["msc_lots.id"], name=op.f("fk_msc_vials_lot_id_msc_lots")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["msc_orders.id"], name=op.f("fk_msc_vials_order_id_msc_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_msc_vials_product_code_products")
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_msc_vials_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_msc_vials")),
        sa.UniqueConstraint("din", "division", name="uq_msc_vials_din_division"),
        sa.UniqueConstraint("position", name=op.f("uq_msc_vials_position")),
    )
    with op.batch_alter_table("msc_vials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_msc_vials_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_msc_vials_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_msc_vials_stock", ["product_code", "status", "site", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("msc_vials", schema=None) as batch_op:
        batch_op.drop_index("ix_msc_vials_stock")
        batch_op.drop_index(batch_op.f("ix_msc_vials_order_id"))
        batch_op.drop_index(batch_op.f("ix_msc_vials_lot_id"))

    op.drop_table("msc_vials")
    with op.batch_alter_table("msc_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_msc_lots_donor_id"))

    op.drop_table("msc_lots")
    with op.batch_alter_table("storage_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_units_site"))

    op.drop_table("storage_units")
    with op.batch_alter_table("msc_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_msc_orders_status"))
        batch_op.drop_index(batch_op.f("ix_msc_orders_placed_at"))

    op.drop_table("msc_orders")
    op.drop_table("msc_donors")
