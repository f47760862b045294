"""Which labels a case needs now, built from its records (rendering is an adapter's job),
and the label reconciliation a case records (labels issued, used, destroyed).

Only confirmed catalogue facts reach a label: a value the catalogue marks unconfirmed
(a storage limit no source states, say) is left off rather than printed as fact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veinline.domain.case import Case, CaseState
from veinline.domain.catalog import Product
from veinline.domain.errors import InvalidInput, NotAllowed, NotFound
from veinline.domain.labels import (
    BedsideIdentifiers,
    Label,
    LabelFacts,
    LabelKind,
    build_label,
    investigational_statement,
    reconcile,
)
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.shipment import Leg
from veinline.domain.user import User
from veinline.services import authority, commands
from veinline.services.handlers import Clock
from veinline.services.unit_of_work import AbstractUnitOfWork

ITEMS = ("apheresis_bag", "product_bag", "shipper")


def labels_for(uow: AbstractUnitOfWork, case_id: str, item: str, reader: User) -> list[Label]:
    """The labels for one item of a case: product bags come one label per bag, for a
    reader who works at one of the case's sites.

    `item` is apheresis_bag, product_bag (all bags) or product_bag:N, or shipper (the
    case's newest shipment).
    """
    kind_text, _, number = item.partition(":")
    if kind_text not in ITEMS:
        raise InvalidInput(f"unknown item {item!r}; use one of: {', '.join(ITEMS)}")
    kind = LabelKind(kind_text)
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    authority.require_read(reader, authority.Read.LABEL, authority.Where.of_case(case))
    collection = case.current_collection
    if collection is None:
        raise NotAllowed(f"case {case.id} has not been collected: there is no DIN to print")
    product = uow.products.get(case.product_code)
    site = uow.sites.get(collection.site)
    treatment = uow.sites.get(case.treatment_site)
    maker = uow.sites.get(case.manufacturing_site) if case.manufacturing_site else None
    assert product is not None and site is not None and treatment is not None
    base: dict[str, Any] = {
        "product_code": product.code,
        "product_name": product.label_name,
        "coi": case.coi,
        "din": collection.din,
        "isbt_product_code": None,
        # The bag's collection type is a fact of this case's journey (an autologous
        # collection for this patient), not a catalogue claim.
        "collection_type": product.collection_type,
        "collected_at": collection.collected_at,
        "site_name": site.name,
        "site_timezone": site.timezone,
        "manufacturing_timezone": maker.timezone if maker else None,
        "storage_max_c": product.confirmed("storage_max_c"),
        "post_thaw_window_minutes": product.confirmed("post_thaw_window_minutes"),
    }
    made = case.manufacturing
    if kind is LabelKind.APHERESIS_BAG:
        return [
            build_label(
                kind,
                LabelFacts(
                    **{**base, "isbt_product_code": product.isbt128_collection_code},
                    volume_ml=collection.volume_ml,
                    anticoagulant=collection.anticoagulant,
                ),
            )
        ]
    if kind is LabelKind.PRODUCT_BAG:
        if made is None or made.bag_count is None or made.expires_at is None:
            raise NotAllowed(f"case {case.id} has no final product yet")
        count = made.bag_count
        expires_at = made.expires_at
        bags = [int(number)] if number else list(range(1, count + 1))
        if any(not 1 <= b <= count for b in bags):
            raise InvalidInput(f"case {case.id} has bags 1 to {count}")
        policy = BedsideIdentifiers.parse(treatment.details.get("bedside_identifiers"))
        statement = investigational_statement(
            case.jurisdiction, investigational=_investigational(uow, case, product)
        )
        return [
            build_label(
                kind,
                LabelFacts(
                    **{**base, "isbt_product_code": product.isbt128_product_code},
                    expires_at=expires_at,
                    batch_id=made.batch_id,
                    bag_number=b,
                    bag_count=count,
                    patient_identifiers=patient_identifiers(case, policy),
                    statements=(statement,) if statement else (),
                ),
            )
            for b in bags
        ]
    shipments = uow.shipments.find(case_id=case.id)
    if not shipments:
        raise NotAllowed(f"case {case.id} has no shipment")
    shipment = shipments[-1]
    source = uow.sites.get(shipment.from_site)
    target = uow.sites.get(shipment.to_site)
    product_leg = shipment.leg is Leg.PRODUCT
    extra: dict[str, Any] = {
        "shipper_type_label": shipment.shipper_type.label,
        "ship_from": source.name if source else shipment.from_site,
        "ship_to": target.name if target else shipment.to_site,
        "shipment_id": shipment.id,
        "dispatched_at": shipment.dispatched_at,
        "shipper_contents": LabelKind.PRODUCT_BAG if product_leg else LabelKind.APHERESIS_BAG,
        "bag_count": (made.bag_count or 1) if product_leg and made else 1,
    }
    if product_leg:
        if made is None:
            raise NotAllowed(f"case {case.id} has no final product yet")
        extra["expires_at"] = made.expires_at
        extra["batch_id"] = made.batch_id
    return [build_label(kind, LabelFacts(**base, **extra))]


def patient_identifiers(case: Case, policy: BedsideIdentifiers) -> tuple[tuple[str, str], ...]:
    """The identifiers a final bag carries for the bedside check, per the site's policy.

    The name always; then the medical record number (the wristband id the bedside check
    compares) or the date of birth from the patient file. A policy asking for a date of
    birth the file lacks is refused rather than printed without it.
    """
    name = ("Patient", case.patient_name)
    if policy is BedsideIdentifiers.NAME_AND_MRN:
        return (name, ("MRN", case.wristband_id))
    birth = case.patient_facts.get("birth_date")
    if not birth:
        raise NotAllowed(
            f"the treatment site labels final bags with the date of birth, and case {case.id} "
            "has none in its patient file"
        )
    return (name, ("Date of birth", str(birth)))


def _investigational(uow: AbstractUnitOfWork, case: Case, product: Product) -> bool:
    """Whether the case's product is used under a trial authorisation (an IND, an IIT)."""
    relied = case.eligibility.get("authorisation")
    for auth in uow.authorisations.find(product_code=product.code):
        if auth.id == relied:
            return auth.status.is_trial
    # No authorisation recorded for the case: treat it as investigational if every
    # authorisation to treat in its jurisdiction is a trial.
    here = [
        a
        for a in uow.authorisations.find(product_code=product.code)
        if a.jurisdiction.upper() == case.jurisdiction.upper() and a.status.permits_treatment
    ]
    return bool(here) and all(a.status.is_trial for a in here)


def reconcile_labels(
    cmd: commands.ReconcileLabels,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
) -> Case:
    """Record labels issued, used and destroyed for an item of a case, with a ledger entry."""
    with uow:
        case = uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFound(f"there is no case {cmd.case_id}")
        if case.state is CaseState.ENROLLED:
            raise NotAllowed(f"case {case.id} has printed no labels yet")
        before = case.snapshot()
        case.labels = reconcile(
            dict(case.labels),
            cmd.item,
            issued=cmd.issued,
            used=cmd.used,
            destroyed=cmd.destroyed,
            at=clock().isoformat(),
            by=actor.username,
            reason=cmd.reason,
        )
        case.version += 1
        uow.record(
            case,
            actor=actor,
            action=LedgerAction.CASE_LABELS_RECONCILED,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return case


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.ReconcileLabels: reconcile_labels,
}
