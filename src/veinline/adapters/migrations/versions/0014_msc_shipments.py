"""msc shipments: an MSC order's vials travel in the journey's shipments and custody

Revision ID: 0014_msc_shipments
Revises: 0013_msc_inventory

A shipment carries a case's material or an MSC order's vials (`shipments.order_id`,
`case_id` then empty), and a custody event records a hand-off of either
(`custody_events.order_id`); docs/architecture.md, "Allogeneic MSC". An order shipped
before this revision kept its hand-offs in its own events: each becomes a shipment of
its vials, dispatched and (if it was) received when the order's events say, carrying
the cold-chain summary the order's receipt checked (`shipments.carried`), and ledgered
as created by the system account, so `ledger verify` still finds every record in the
ledger. Records already ledgered are not touched: the new snapshot keys appear only
where they are set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from veinline.domain import coldchain
from veinline.domain.ledger import GENESIS_HASH, STORED_COLUMNS, LedgerDraft, sealed_row
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.shipment import Leg, Shipment, ShipmentStatus
from veinline.domain.user import SYSTEM_USERNAME

revision = "0014_msc_shipments"
down_revision = "0013_msc_inventory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.add_column(sa.Column("order_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("carried", sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_shipments_order_id_msc_orders"), "msc_orders", ["order_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_shipments_order_id"), ["order_id"], unique=False)
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.add_column(sa.Column("order_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_custody_events_order_id_msc_orders"),
            "msc_orders",
            ["order_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_custody_events_order_id"), ["order_id"], unique=False)
    map_order_shipments(op.get_bind(), now=datetime.now(UTC))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM shipments WHERE order_id IS NOT NULL")).first():
        raise RuntimeError(
            "shipments carry MSC vials: a downgrade would lose their custody and cold "
            "chain, and the ledger records them"
        )
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_events_order_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_custody_events_order_id_msc_orders"), type_="foreignkey"
        )
        batch_op.drop_column("order_id")
        batch_op.alter_column("case_id", existing_type=sa.String(length=40), nullable=False)
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_order_id"))
        batch_op.drop_constraint(batch_op.f("fk_shipments_order_id_msc_orders"), type_="foreignkey")
        batch_op.drop_column("carried")
        batch_op.drop_column("order_id")
        batch_op.alter_column("case_id", existing_type=sa.String(length=40), nullable=False)


def _moment(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def shipment_of_order(
    order_id: str,
    depot: str,
    centre: str,
    events: list[dict[str, Any]],
    storage_max_c: float | None,
) -> Shipment | None:
    """The shipment an order shipped before this revision made, from its own events: None
    when it never left the depot."""
    shipped = next((e for e in reversed(events) if e.get("what") == "shipped"), None)
    if shipped is None:
        return None
    received = next((e for e in reversed(events) if e.get("what") == "received"), None)
    limits = coldchain.limits_for(coldchain.ShipperType.LN2_VAPOUR, storage_max_c)
    at = _moment(shipped["at"])
    shipment = Shipment(
        id=f"{order_id}-S01",
        case_id=None,
        order_id=order_id,
        leg=Leg.VIALS,
        shipper_type=coldchain.ShipperType.LN2_VAPOUR,
        from_site=depot,
        to_site=centre,
        created_at=at,
        low_c=limits.low,
        high_c=limits.high,
        status=ShipmentStatus.IN_TRANSIT,
        dispatched_at=at,
    )
    if received is not None:
        shipment.status = ShipmentStatus.RECEIVED
        shipment.received_at = _moment(received["at"])
        record = dict(received.get("cold_chain") or {})
        shipment.excursions = [dict(e) for e in record.get("excursions", [])]
        shipment.carried = {
            "source": f"order {order_id}'s receipt before migration {revision}",
            "checked": record.get("source", "unknown"),
            "max_c": record.get("max_c"),
            "limit_c": record.get("limit_c"),
            "excursion": bool(record.get("excursion")),
        }
    return shipment


def map_order_shipments(bind: Any, *, now: datetime) -> int:
    """Give every order shipped under revision 0013 its shipment, ledgered; how many."""
    system = bind.execute(
        sa.text("SELECT printed_name FROM users WHERE username = :u"), {"u": SYSTEM_USERNAME}
    ).first()
    if system is None:
        return 0  # a new database: no orders, no system account yet
    rows = bind.execute(
        sa.text(
            "SELECT o.id, o.depot, o.treatment_site, o.events, p.storage_max_c "
            "FROM msc_orders o JOIN products p ON p.code = o.product_code "
            "WHERE o.depot IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM shipments s WHERE s.order_id = o.id) ORDER BY o.id"
        )
    ).all()
    shipments = []
    for order_id, depot, centre, events, storage_max_c in rows:
        loaded = json.loads(events) if isinstance(events, str) else events
        shipment = shipment_of_order(order_id, depot, centre, loaded, storage_max_c)
        if shipment is not None:
            shipments.append(shipment)
    if not shipments:
        return 0
    if bind.dialect.name == "postgresql":
        from veinline.adapters.database import LEDGER_LOCK_KEY

        bind.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})
    tip = bind.execute(
        sa.text("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev = (tip[0], tip[1]) if tip else (0, GENESIS_HASH)
    table = sa.table(
        "shipments",
        *(sa.column(name) for name in (*_PLAIN, "leg", "shipper_type", "status")),
        *(sa.column(name, sa.JSON(none_as_null=True)) for name in _JSON),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in _TIMES),
    )
    ledger = sa.table("ledger_entries", *(sa.column(name) for name in STORED_COLUMNS))
    sequences = sa.table(
        "record_sequences", sa.column("scope"), sa.column("kind"), sa.column("last_value")
    )
    for shipment in shipments:
        values: dict[str, Any] = {name: getattr(shipment, name) for name in _PLAIN}
        values["leg"] = shipment.leg.value
        values["shipper_type"] = shipment.shipper_type.value
        values["status"] = shipment.status.value
        for name in _JSON:
            values[name] = getattr(shipment, name)
        for name in _TIMES:
            moment = getattr(shipment, name)
            values[name] = None if moment is None else moment.astimezone(UTC)
        bind.execute(sa.insert(table).values(**values))
        bind.execute(sa.insert(sequences).values(scope=shipment.order_id, kind="S", last_value=1))
        _entry, row = sealed_row(
            LedgerDraft(
                actor=SYSTEM_USERNAME,
                actor_name=system[0],
                action=LedgerAction.SHIPMENT_CREATED,
                entity_type=Shipment.ENTITY_TYPE,
                entity_id=shipment.id,
                before=None,
                after=shipment.snapshot(),
                reason=(
                    f"migration {revision}: vials of order {shipment.order_id}, shipped "
                    "before shipments carried vials, mapped from the order's events"
                ),
            ),
            seq=seq + 1,
            prev_hash=prev,
            recorded_at=now,
        )
        bind.execute(sa.insert(ledger).values(**dict(zip(STORED_COLUMNS, row, strict=True))))
        seq, prev = row[0], row[-1]
    return len(shipments)


_PLAIN = ("id", "case_id", "order_id", "from_site", "to_site", "low_c", "high_c", "version")
_JSON = ("readings", "excursions", "gaps", "disposition", "carried")
_TIMES = ("created_at", "dispatched_at", "received_at")
