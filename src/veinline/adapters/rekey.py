"""Key rotation: every sealed value re-sealed under the current data key, ledgered once
(docs/security.md, "Patient data at rest", "Rotating the data key").

The engine's keyring holds the new key as current and the old one (or several) to open
with. `rotate` reads each sealed column as stored, opens every value that another key
sealed and seals it again under the current key, all in one transaction that also
appends one `data_key.rotated` ledger entry. A value under the current key already is
left alone, so running it again after an interruption finishes the work, and running
it when nothing is left changes nothing and ledgers nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, Engine, MetaData, Table, Text, bindparam, select, update
from sqlalchemy.orm import Session

from veinline.adapters import orm
from veinline.adapters.crypto import KeyProblem, key_id_of, keyring_of
from veinline.adapters.repository import SqlLedger
from veinline.domain.ledger import LedgerDraft
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.user import User

# (done, total) for a progress bar.
Progress = Callable[[int, int], None]
_BATCH = 500


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the key now in force, the values re-sealed per column, the
    keys they were under, and the ledger entry (None when there was nothing to do)."""

    key_id: str
    resealed: dict[str, int] = field(default_factory=dict)
    from_keys: tuple[str, ...] = ()
    entry_seq: int | None = None

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


def _raw(table: Table, column: Column[object]) -> Table:
    """The table's key and one sealed column, read and written as the stored text."""
    keys = [Column(c.name, Text) for c in table.primary_key.columns]
    return Table(table.name, MetaData(), *keys, Column(column.name, Text))


def stale(engine: Engine) -> dict[str, int]:
    """Per sealed column, how many values are not under the current key."""
    keyring = keyring_of(engine.dialect)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table, column in orm.sealed_columns():
            raw = _raw(table, column)
            values = conn.execute(select(raw.c[column.name]).where(raw.c[column.name].isnot(None)))
            counts[f"{table.name}.{column.name}"] = sum(
                1 for (value,) in values if not keyring.is_current(value)
            )
    return counts


def rotate(
    engine: Engine,
    *,
    actor: User,
    clock: Callable[[], datetime],
    progress: Progress | None = None,
) -> Rotation:
    """Re-seal every value not under the current key, and ledger it, in one transaction."""
    keyring = keyring_of(engine.dialect)
    todo = stale(engine)
    total = sum(todo.values())
    if total == 0:
        return Rotation(keyring.current.key_id)
    done = 0
    resealed: dict[str, int] = {}
    from_keys: set[str] = set()
    with Session(engine) as session, session.begin():
        conn = session.connection()
        for table, column in orm.sealed_columns():
            context = f"{table.name}.{column.name}"
            if not todo.get(context):
                continue
            raw = _raw(table, column)
            keys = [raw.c[c.name] for c in table.primary_key.columns]
            rows = conn.execute(select(*keys, raw.c[column.name])).fetchall()
            changes = []
            for row in rows:
                value = row[-1]
                if value is None or keyring.is_current(value):
                    continue
                from_keys.add(key_id_of(value) or "clear")
                plain = keyring.open(value, context)
                params = {f"k{i}": row[i] for i in range(len(keys))}
                params["v"] = keyring.seal(plain, context)
                changes.append(params)
            statement = (
                update(raw)
                .where(*(key == bindparam(f"k{i}") for i, key in enumerate(keys)))
                .values({column.name: bindparam("v")})
            )
            for start in range(0, len(changes), _BATCH):
                chunk = changes[start : start + _BATCH]
                conn.execute(statement, chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            resealed[context] = len(changes)
        if not resealed:
            raise KeyProblem("the sealed values changed while they were counted: run it again")
        entry = SqlLedger(session, clock).append(
            LedgerDraft(
                actor=actor.username,
                actor_name=actor.printed_name,
                action=LedgerAction.DATA_KEY_ROTATED,
                entity_type="data_key",
                entity_id=keyring.current.key_id,
                before=None,
                after=None,
                reason=(
                    f"{sum(resealed.values())} sealed value(s) re-sealed under data key "
                    f"{keyring.current.key_id} (were under {', '.join(sorted(from_keys))})"
                ),
            )
        )
    return Rotation(keyring.current.key_id, resealed, tuple(sorted(from_keys)), entry.seq)
