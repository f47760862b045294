"""patient data at rest: personal columns sealed, the wristband found by its keyed hash

Every personal value held in clear (a case's name, wristband id, patient file and
infusion record; custody and incident scan data; an Idempotency-Key's kept answer) is
sealed under the current data key (adapters/crypto.py), each column retyped to text; a
`wristband_hash` column is filled for lookups; one `personal_data.protected` entry is
ledgered. Ledger entries written before this revision keep the snapshots they were
chained with: an append-only chain is never rewritten (docs/security.md, "Patient data
at rest"). There is no way back: the downgrade refuses.

Revision ID: 0011_encrypt_patient_data
Revises: 0010
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from veinline.adapters.crypto import Keyring, is_sealed, keyring_of
from veinline.domain.ledger import GENESIS_HASH, LedgerDraft, seal
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.user import SYSTEM_USERNAME

revision = "0011_encrypt_patient_data"
down_revision = "0010"
branch_labels = None
depends_on = None

# (table, column, holds JSON, may be NULL); the context sealed with is "table.column".
SEALED: tuple[tuple[str, str, bool, bool], ...] = (
    ("cases", "patient_name", False, False),
    ("cases", "wristband_id", False, False),
    ("cases", "patient_facts", True, False),
    ("cases", "infusion", True, False),
    ("custody_events", "scan_data", False, False),
    ("custody_events", "identifiers", True, False),
    ("identity_incidents", "scan_data", False, False),
    ("identity_incidents", "message", False, False),
    ("idempotency_keys", "response", True, True),
)
KEYS: dict[str, tuple[str, ...]] = {
    "cases": ("id",),
    "custody_events": ("id",),
    "identity_incidents": ("id",),
    "idempotency_keys": ("username", "key"),
}
_BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    keyring = keyring_of(bind.dialect)
    postgres = bind.dialect.name == "postgresql"
    op.add_column(
        "cases",
        sa.Column("wristband_hash", sa.String(length=64), nullable=False, server_default=""),
    )
    sealed = 0
    for table, column, json_value, nullable in SEALED:
        sealed += _seal_column(bind, keyring, table, column, json_value, nullable, postgres)
    _fill_wristband_hashes(bind, keyring)
    if postgres:
        op.alter_column("cases", "wristband_hash", server_default=None)
    op.create_index("ix_cases_wristband_hash", "cases", ["wristband_hash"], unique=False)
    _ledger(bind, sealed, keyring)


def downgrade() -> None:
    raise RuntimeError(
        "revision 0011 sealed the patient data and cannot be undone: going back would write "
        "it in clear. Restore a backup taken before the upgrade instead."
    )


def _seal_column(
    bind: Any,
    keyring: Keyring,
    table: str,
    column: str,
    json_value: bool,
    nullable: bool,
    postgres: bool,
) -> int:
    """Retype one column to text and seal every clear value in it; how many were sealed."""
    keys = KEYS[table]
    context = f"{table}.{column}"
    target = column
    if postgres:
        op.execute(
            sa.text(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE TEXT USING "{column}"::text')
        )
    else:
        # SQLite retypes a column by a new one: ADD, copy, DROP, RENAME (SQLite >= 3.35;
        # a table rebuild would trip the foreign keys that point at cases).
        target = f"{column}__sealed"
        constraint = "" if nullable else " NOT NULL DEFAULT ''"
        op.execute(sa.text(f'ALTER TABLE {table} ADD COLUMN "{target}" TEXT{constraint}'))
    names = dict.fromkeys([*keys, column, target])
    rows_of = sa.table(table, *(sa.column(name, sa.Text) for name in names))
    rows = bind.execute(sa.select(*(rows_of.c[k] for k in (*keys, column)))).fetchall()
    update = (
        sa.update(rows_of)
        .where(*(rows_of.c[k] == sa.bindparam(f"k{i}") for i, k in enumerate(keys)))
        .values({target: sa.bindparam("v")})
    )
    changes: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        value = row[-1]
        if value is None:
            sealed_value = None
        elif isinstance(value, str) and is_sealed(value):
            sealed_value = value
        else:
            sealed_value = keyring.seal(_plain(value, json_value), context)
            count += 1
        if postgres and sealed_value == value:
            continue
        params: dict[str, Any] = {f"k{i}": row[i] for i in range(len(keys))}
        params["v"] = sealed_value
        changes.append(params)
    for start in range(0, len(changes), _BATCH):
        bind.execute(update, changes[start : start + _BATCH])
    if not postgres:
        op.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
        op.execute(sa.text(f'ALTER TABLE {table} RENAME COLUMN "{target}" TO "{column}"'))
    return count


def _plain(value: Any, json_value: bool) -> str:
    """The text a clear value is sealed as: what orm.Sealed seals for the same value."""
    if not json_value:
        return str(value)
    loaded = json.loads(value) if isinstance(value, str) else value
    return json.dumps(loaded, ensure_ascii=False, separators=(",", ":"))


def _fill_wristband_hashes(bind: Any, keyring: Keyring) -> None:
    cases = sa.table(
        "cases", sa.column("id"), sa.column("wristband_id"), sa.column("wristband_hash")
    )
    rows = bind.execute(sa.select(cases.c.id, cases.c.wristband_id)).fetchall()
    changes = [
        {
            "case_id": case_id,
            "h": keyring.lookup("wristband", keyring.open(sealed, "cases.wristband_id").strip()),
        }
        for case_id, sealed in rows
    ]
    update = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("case_id"))
        .values(wristband_hash=sa.bindparam("h"))
    )
    for start in range(0, len(changes), _BATCH):
        bind.execute(update, changes[start : start + _BATCH])


def _ledger(bind: Any, sealed: int, keyring: Keyring) -> None:
    """One entry saying what was sealed, by the system account, if the database has one
    (a new database has nothing to seal and no system account yet)."""
    system = bind.execute(
        sa.text("SELECT printed_name FROM users WHERE username = :u"), {"u": SYSTEM_USERNAME}
    ).first()
    if system is None:
        return
    if bind.dialect.name == "postgresql":
        from veinline.adapters.database import LEDGER_LOCK_KEY

        bind.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})
    last = bind.execute(
        sa.text("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1")
    ).first()
    columns = ", ".join(f"{t}.{c}" for t, c, _, _ in SEALED)
    entry = seal(
        LedgerDraft(
            actor=SYSTEM_USERNAME,
            actor_name=system[0],
            action=LedgerAction.PERSONAL_DATA_PROTECTED,
            entity_type="personal_data",
            entity_id=revision,
            before=None,
            after=None,
            reason=(
                f"migration {revision}: {sealed} personal value(s) sealed under data key "
                f"{keyring.current.key_id} in {columns}; wristbands found by keyed hash; "
                "ledger snapshots hold digests of personal data from now on"
            ),
        ),
        seq=(last[0] + 1) if last else 1,
        prev_hash=last[1] if last else GENESIS_HASH,
        recorded_at=datetime.now(UTC),
    )
    values = entry.hashed_content()
    values["before"] = None
    values["after"] = None
    values["hash"] = entry.hash
    ledger = sa.table("ledger_entries", *(sa.column(name) for name in values))
    bind.execute(sa.insert(ledger).values(**values))
