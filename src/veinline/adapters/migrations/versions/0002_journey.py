"""autologous journey: cases, custody events, identity incidents, shipments

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_incidents",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("point", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan_data", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor"], ["users.username"], name=op.f("fk_identity_incidents_actor_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_incidents")),
    )
    with op.batch_alter_table("identity_incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_incidents_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("treatment_site", sa.String(length=40), nullable=False),
        sa.Column("patient_name", sa.String(length=200), nullable=False),
        sa.Column("wristband_id", sa.String(length=64), nullable=False),
        sa.Column("treating_physician", sa.String(length=64), nullable=False),
        sa.Column("coi", sa.String(length=20), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.String(length=64), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("patient_facts", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "enrolled",
                "eligible",
                "apheresis_booked",
                "collected",
                "at_manufacturing",
                "manufacturing",
                "in_qc",
                "released",
                "out_of_specification",
                "shipped",
                "received_at_site",
                "infused",
                "follow_up",
                "cancelled",
                name="case_state",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("apheresis_site", sa.String(length=40), nullable=True),
        sa.Column("apheresis_date", sa.String(length=10), nullable=True),
        sa.Column("manufacturing_site", sa.String(length=40), nullable=True),
        sa.Column("planned", sa.JSON(), nullable=False),
        sa.Column("collections", sa.JSON(), nullable=False),
        sa.Column("manufacturing", sa.JSON(), nullable=False),
        sa.Column("release", sa.JSON(), nullable=False),
        sa.Column("infusion", sa.JSON(), nullable=False),
        sa.Column("cancellation", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coi"], ["issued_identifiers.value"], name=op.f("fk_cases_coi_issued_identifiers")
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by"], ["users.username"], name=op.f("fk_cases_enrolled_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_cases_product_code_products")
        ),
        sa.ForeignKeyConstraint(
            ["treating_physician"],
            ["users.username"],
            name=op.f("fk_cases_treating_physician_users"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_site"], ["sites.code"], name=op.f("fk_cases_treatment_site_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("coi", name=op.f("uq_cases_coi")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_state"), ["state"], unique=False)

    op.create_table(
        "custody_events",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column(
            "point",
            sa.Enum(
                "collection",
                "apheresis_pickup",
                "manufacturing_receipt",
                "product_pickup",
                "site_receipt",
                "bedside",
                name="custody_point",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=40), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan_data", sa.Text(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("shipment_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor"], ["users.username"], name=op.f("fk_custody_events_actor_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_custody_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_events")),
    )
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column(
            "leg",
            sa.Enum("apheresis", "product", name="shipment_leg", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column(
            "shipper_type",
            sa.Enum("fresh_2_8", "ln2_vapour", name="shipper_type", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("from_site", sa.String(length=40), nullable=False),
        sa.Column("to_site", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("low_c", sa.Float(), nullable=True),
        sa.Column("high_c", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "created",
                "in_transit",
                "received",
                name="shipment_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("readings", sa.JSON(), nullable=False),
        sa.Column("excursions", sa.JSON(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("disposition", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_shipments_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["from_site"], ["sites.code"], name=op.f("fk_shipments_from_site_sites")
        ),
        sa.ForeignKeyConstraint(
            ["to_site"], ["sites.code"], name=op.f("fk_shipments_to_site_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_case_id"))

    op.drop_table("shipments")
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_events_case_id"))

    op.drop_table("custody_events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_state"))

    op.drop_table("cases")
    with op.batch_alter_table("identity_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_incidents_case_id"))

    op.drop_table("identity_incidents")
