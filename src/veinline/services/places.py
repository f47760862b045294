"""Where a command acts: the sites of the record it names (docs/security.md, "Site scope").

The message bus asks `where(uow, cmd)` before a handler runs, and checks the command's
rule against it (`services.authority`): a case's treatment centre, apheresis unit and
facility; a batch's facility (and its case's centre, whose physician acknowledges its
results); a shipment's case; a process template's facility; the site whose FIN an
identifier is issued under. A command that names no record, or names one that does not
exist (its handler then answers "there is no ..."), is checked by role alone.

Reads ask the same functions for one record (`of_case`, `of_batch`, `of_shipment`).
"""

from __future__ import annotations

from veinline.domain.batch import Batch
from veinline.domain.case import Case
from veinline.domain.catalog import SiteKind
from veinline.domain.errors import NotFound
from veinline.domain.msc import Lot, Order
from veinline.services import commands
from veinline.services.authority import Place, Where
from veinline.services.unit_of_work import AbstractUnitOfWork


def of_case(case: Case) -> Where:
    return Where.of_case(case)


def of_batch(uow: AbstractUnitOfWork, batch: Batch) -> Where:
    """A batch's facility, with its case's treatment centre and apheresis unit."""
    case = uow.cases.get(batch.case_id) if batch.case_id else None
    return Where(
        f"batch {batch.id}",
        treatment=case.treatment_site if case else None,
        apheresis=case.apheresis_site if case else None,
        facility=batch.site,
    )


def of_site(record: str, site: str) -> Where:
    """A record that belongs to one site, whatever part that site plays."""
    return Where(record, treatment=site, apheresis=site, facility=site)


def case_where(uow: AbstractUnitOfWork, case_id: str, *, lock: bool = False) -> Where:
    """The sites of one case, or NotFound; `lock`: read under the row lock."""
    case = uow.cases.get(case_id, for_update=lock)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    return Where.of_case(case)


def batch_where(uow: AbstractUnitOfWork, batch_id: str) -> Where:
    batch = uow.batches.get(batch_id)
    if batch is None:
        raise NotFound(f"there is no batch {batch_id}")
    return of_batch(uow, batch)


def shipment_where(uow: AbstractUnitOfWork, shipment_id: str) -> Where:
    shipment = uow.shipments.get(shipment_id)
    if shipment is None:
        raise NotFound(f"there is no shipment {shipment_id}")
    if shipment.order_id is not None:
        # An MSC order's vials: the order's centre and depot.
        order = uow.msc_orders.get(shipment.order_id)
        if order is None:
            raise NotFound(f"there is no order {shipment.order_id}")
        return of_order(order)
    return case_where(uow, str(shipment.case_id))


def where(uow: AbstractUnitOfWork, cmd: commands.Command) -> Where | None:
    """The sites of the record `cmd` acts on (call inside the unit of work the handler
    will run in: the message bus does)."""
    try:
        return _where(uow, cmd)
    except NotFound:
        return None


def _where(uow: AbstractUnitOfWork, cmd: commands.Command) -> Where | None:
    found = _msc_where(uow, cmd)
    if found is not None:
        return found
    if isinstance(cmd, commands.EnrolPatient):
        site = uow.sites.get(cmd.treatment_site)
        if site is None or site.kind is not SiteKind.TREATMENT_CENTRE:
            return None  # the handler says what is wrong with the site
        return Where.at("a new case", Place.TREATMENT, site.code)
    if isinstance(cmd, commands.DraftProcess):
        return Where.at(f"a process at {cmd.site}", Place.FACILITY, cmd.site)
    if isinstance(cmd, commands.IssueIdentifier):
        site = next((s for s in uow.sites.find(fin=cmd.fin.upper())), None)
        return of_site(f"FIN {cmd.fin}", site.code) if site else None
    template_id = getattr(cmd, "template_id", None)
    if isinstance(template_id, str):
        template = uow.process_templates.get(template_id)
        if template is None:
            return None
        return Where.at(f"process template {template_id}", Place.FACILITY, template.site)
    batch_id = getattr(cmd, "batch_id", None)
    case_id = getattr(cmd, "case_id", None)
    if isinstance(case_id, str):
        # A case's command (StartManufacturing names the new batch too: the case rules).
        # Read under the row lock the journey's handlers take (journey.case_for_update),
        # in the handler's transaction: authority is decided on the row the handler
        # changes, and the handler reads it without a second round trip.
        return case_where(uow, case_id, lock=True)
    if isinstance(batch_id, str):
        return batch_where(uow, batch_id)
    shipment_id = getattr(cmd, "shipment_id", None)
    if isinstance(shipment_id, str):
        return shipment_where(uow, shipment_id)
    return None


# ---------------------------------------------------------------- allogeneic MSC


def of_order(order: Order) -> Where:
    """An MSC order: its treatment centre, and the depot it is served from."""
    return Where(
        f"order {order.id}",
        treatment=order.treatment_site,
        facility=order.depot,
        depot=order.depot,
    )


def of_lot(lot: Lot) -> Where:
    return Where.at(f"lot {lot.id}", Place.FACILITY, lot.site)


def _msc_where(uow: AbstractUnitOfWork, cmd: commands.Command) -> Where | None:
    c = commands
    if isinstance(cmd, c.RegisterDonor):
        return Where.at("a new donor", Place.FACILITY, cmd.site)
    if isinstance(cmd, c.ScreenDonor):
        donor = uow.msc_donors.get(cmd.donor_id)
        return Where.at(f"donor {donor.id}", Place.FACILITY, donor.site) if donor else None
    if isinstance(cmd, c.StartLot):
        return Where.at("a new lot", Place.FACILITY, cmd.site)
    if isinstance(cmd, c.FillVials | c.RecallLot):
        lot = uow.msc_lots.get(cmd.lot_id)
        return of_lot(lot) if lot else None
    if isinstance(cmd, c.CreateStorageUnit):
        return Where.at_depot("a new storage unit", cmd.site)
    if isinstance(cmd, c.StoreVial | c.ImportUnitReadings | c.ReturnVial):
        unit = uow.storage_units.get(cmd.unit_id)
        return Where.at_depot(f"storage unit {unit.id}", unit.site) if unit else None
    if isinstance(cmd, c.DisposeVials):
        sites = {v.site for v in (uow.msc_vials.get(i) for i in cmd.vial_ids) if v is not None}
        if len(sites) != 1:
            return None  # the handler refuses vials at several sites, or none
        return Where.at_depot("quarantined vials", sites.pop())
    if isinstance(cmd, c.PlaceOrder):
        return Where.at("a new order", Place.TREATMENT, cmd.treatment_site)
    if isinstance(cmd, c.CancelOrder | c.ShipOrder | c.ReceiveOrder | c.InfuseVial):
        order = uow.msc_orders.get(cmd.order_id)
        return of_order(order) if order else None
    return None
