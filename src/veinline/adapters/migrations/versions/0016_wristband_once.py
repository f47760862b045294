"""wristband once: one open case per wristband at a treatment centre; ledger filters

Revision ID: 0016_wristband_once
Revises: 0015_jobs

A wristband is held by one case at its treatment centre from enrolment until the case
is cancelled or its follow-up starts (docs/architecture.md, "Enrolment"): a unique
partial index on the wristband's keyed hash, so two enrolments racing each other cannot
both land. The ledger page filters by actor and action: an index each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_wristband_once"
down_revision = "0015_jobs"
branch_labels = None
depends_on = None

# The states in which a case no longer holds its wristband (domain/case.py, WRISTBAND_FREED).
_OPEN = "state NOT IN ('cancelled', 'follow_up')"


def upgrade() -> None:
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT treatment_site, COUNT(*) FROM cases "
                "WHERE state NOT IN ('cancelled', 'follow_up') "
                "GROUP BY treatment_site, wristband_hash HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if duplicates:
        sites = ", ".join(sorted({str(site) for site, _ in duplicates}))
        raise RuntimeError(
            f"{len(duplicates)} wristband(s) are each on more than one open case (at {sites}): "
            "cancel the duplicate cases (veinline case cancel) on the previous version, then "
            "upgrade again"
        )
    op.create_index(
        "uq_cases_open_wristband",
        "cases",
        ["treatment_site", "wristband_hash"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index("ix_ledger_entries_actor", "ledger_entries", ["actor"])
    op.create_index("ix_ledger_entries_action", "ledger_entries", ["action"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_action", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_actor", table_name="ledger_entries")
    op.drop_index("uq_cases_open_wristband", table_name="cases")
