"""foundation: users, sites, catalogue, identifiers, ledger

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identifier_sequences",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("fin", sa.String(length=5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "fin", "year", name=op.f("pk_identifier_sequences")),
    )
    op.create_table(
        "products",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brand_name", sa.String(length=200), nullable=True),
        sa.Column("sponsor", sa.String(length=200), nullable=False),
        sa.Column(
            "modality",
            sa.Enum(
                "autologous_car_t", "allogeneic_msc", name="modality", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("platform", sa.String(length=200), nullable=True),
        sa.Column("cell_source", sa.String(length=200), nullable=True),
        sa.Column("collection_type", sa.String(length=1), nullable=False),
        sa.Column("storage_max_c", sa.Float(), nullable=True),
        sa.Column("post_thaw_window_minutes", sa.Integer(), nullable=True),
        sa.Column("dose_rule", sa.JSON(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("unconfirmed", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_products")),
    )
    op.create_table(
        "sites",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "manufacturing_facility",
                "treatment_centre",
                "apheresis_centre",
                "qc_lab",
                name="site_kind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("fin", sa.String(length=5), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sites")),
        sa.UniqueConstraint("fin", name=op.f("uq_sites_fin")),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("printed_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "coordinator",
                "apheresis_nurse",
                "courier",
                "manufacturing_operator",
                "qc_analyst",
                "qa_reviewer",
                "physician",
                "planner",
                "admin",
                name="role",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("site_code", sa.String(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("credential_version", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_api_tokens_username_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
    )
    op.create_table(
        "authorisations",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("regulator", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ind_cleared",
                "investigator_initiated_trial",
                "conditional_approval",
                "approved",
                "named_patient",
                "designation_only",
                "withdrawn",
                name="authorisation_status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("indication", sa.Text(), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=True),
        sa.Column("pathway", sa.String(length=200), nullable=True),
        sa.Column("designations", sa.JSON(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_authorisations_product_code_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorisations")),
    )
    with op.batch_alter_table("authorisations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_authorisations_product_jurisdiction", ["product_code", "jurisdiction"], unique=False
        )

    op.create_table(
        "issued_identifiers",
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("din", "coi", name="identifier_kind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("fin", sa.String(length=5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("check_character", sa.String(length=1), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.username"], name=op.f("fk_issued_identifiers_issued_by_users")
        ),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_issued_identifiers")),
        sa.UniqueConstraint(
            "kind", "fin", "year", "sequence", name="uq_issued_identifiers_sequence"
        ),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=120), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("signature_meaning", sa.String(length=40), nullable=True),
        sa.Column("signed_hash", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor"], ["users.username"], name=op.f("fk_ledger_entries_actor_users")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("hash", name=op.f("uq_ledger_entries_hash")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_entity", ["entity_type", "entity_id"], unique=False
        )

    _forbid_ledger_rewrites()


# Part 11.10(e) and Annex 11 §9: the audit trail is never changed or deleted in place.
# The database refuses UPDATE and DELETE on the ledger itself, so only someone who
# removes these triggers (and so leaves a trace in `ledger verify`) can tamper.
_PG_FUNCTION = """
CREATE FUNCTION veinline_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % is refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def _forbid_ledger_rewrites() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_entries FOR EACH ROW EXECUTE FUNCTION veinline_ledger_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} "
                "ON ledger_entries BEGIN "
                f"SELECT RAISE(ABORT, 'the ledger is append-only: {verb} is refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION veinline_ledger_append_only()")
    else:
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute("DROP TRIGGER ledger_entries_no_delete")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_entity")

    op.drop_table("ledger_entries")
    op.drop_table("issued_identifiers")
    with op.batch_alter_table("authorisations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorisations_product_jurisdiction")

    op.drop_table("authorisations")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("sites")
    op.drop_table("products")
    op.drop_table("identifier_sequences")
