"""Which labels a case needs now, built from its records (rendering is an adapter's job)."""

from __future__ import annotations

from typing import Any

from veinline.domain.errors import InvalidInput, NotAllowed, NotFound
from veinline.domain.labels import Label, LabelFacts, LabelKind, build_label
from veinline.domain.shipment import Leg
from veinline.services.unit_of_work import AbstractUnitOfWork

ITEMS = ("apheresis_bag", "product_bag", "shipper")


def labels_for(uow: AbstractUnitOfWork, case_id: str, item: str) -> list[Label]:
    """The labels for one item of a case: product bags come one label per bag.

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
        "product_name": product.display_name,
        "coi": case.coi,
        "din": collection.din,
        "isbt_product_code": None,
        "collection_type": product.collection_type,
        "collected_at": collection.collected_at,
        "site_name": site.name,
        "site_timezone": site.timezone,
        "manufacturing_timezone": maker.timezone if maker else None,
        "storage_max_c": product.storage_max_c,
        "post_thaw_window_minutes": product.post_thaw_window_minutes,
    }
    made = case.manufacturing
    if kind is LabelKind.APHERESIS_BAG:
        return [build_label(kind, LabelFacts(**base))]
    if kind is LabelKind.PRODUCT_BAG:
        if made is None or made.bag_count is None or made.expires_at is None:
            raise NotAllowed(f"case {case.id} has no final product yet")
        count = made.bag_count
        expires_at = made.expires_at
        bags = [int(number)] if number else list(range(1, count + 1))
        if any(not 1 <= b <= count for b in bags):
            raise InvalidInput(f"case {case.id} has bags 1 to {count}")
        return [
            build_label(
                kind,
                LabelFacts(
                    **base,
                    expires_at=expires_at,
                    batch_id=made.batch_id,
                    bag_number=b,
                    bag_count=count,
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
