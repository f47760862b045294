"""Read models of the catalogue: products with their authorisations, and sites.

JSON-ready dicts shared by the CLI, the API and the web pages (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from veinline.domain.catalog import Authorisation, Product, Site, fact_sources, is_unconfirmed
from veinline.domain.errors import NotFound
from veinline.services.unit_of_work import AbstractUnitOfWork


def _claim(p: Product, field: str, text: str | None) -> str | None:
    """A value as a summary shows it: one no source supports says so, never stands as fact."""
    if text is None or p.is_confirmed(field):
        return text
    return f"{text} (unconfirmed)"


def _dose(p: Product, rule: dict[str, Any]) -> str | None:
    """A per-kg dose rule in words (cells per kg, infusions, interval), marked unconfirmed
    when any part of it has no source."""
    if rule.get("kind") != "per_kg":
        return None
    text = f"{rule['cells_per_kg']:.1e} {rule.get('cell_type', 'cells')}/kg"
    parts = ["dose_rule.cells_per_kg"]
    if "infusions" in rule:
        text += f" per infusion × {rule['infusions']} infusion(s)"
        parts.append("dose_rule.infusions")
    if "interval_days" in rule:
        text += f", every {rule['interval_days']:g} day(s)"
        parts.append("dose_rule.interval_days")
    if all(p.is_confirmed(part) for part in parts):
        return text
    return f"{text} (unconfirmed)"


def _product(p: Product) -> dict[str, Any]:
    data = p.snapshot()
    data["display_name"] = p.display_name
    data["name_confirmed"] = p.is_confirmed("name")
    data["modality_label"] = p.modality.label
    data["storage"] = _claim(
        p,
        "storage_max_c",
        f"at or below {p.storage_max_c:g} °C" if p.storage_max_c is not None else None,
    )
    data["post_thaw"] = _claim(
        p,
        "post_thaw_window_minutes",
        f"{p.post_thaw_window_minutes} minutes" if p.post_thaw_window_minutes else None,
    )
    rule = p.dose_rule or {}
    data["dose"] = _dose(p, rule)
    # Where the dose comes from, in the provenance's own words: for the MSC products no
    # public source in the catalogue states one, and the page says so beside the dose.
    data["dose_source"] = p.source_of("dose_rule.cells_per_kg") if rule else None
    # The summary a person reads first, each line marked when no source supports it
    # (the CLI's `catalog show` and the product page print these, in this order).
    data["summary"] = [
        {"label": label, "text": text}
        for label, text in (
            ("Name", _claim(p, "name", p.display_name)),
            ("Development code", _claim(p, "development_code", p.development_code)),
            ("Sponsor", _claim(p, "sponsor", p.sponsor)),
            ("Modality", _claim(p, "modality", p.modality.label)),
            ("Target", _claim(p, "target", p.target)),
            ("Platform", _claim(p, "platform", p.platform)),
            ("Cell source", _claim(p, "cell_source", p.cell_source)),
            ("Storage", data["storage"]),
            ("Post-thaw window", data["post_thaw"]),
            ("Dose", data["dose"]),
            ("Dose source", data["dose_source"]),
        )
        if text
    ]
    data["fact_sources"] = [
        {"field": field, "value": value, "source": source, "confirmed": not is_unconfirmed(source)}
        for field, value, source in fact_sources(p)
    ]
    return data


def _authorisation(a: Authorisation) -> dict[str, Any]:
    data = a.snapshot()
    data["status_label"] = a.status.label
    data["permits_treatment"] = a.status.permits_treatment
    return data


def site_view(s: Site) -> dict[str, Any]:
    data = s.snapshot()
    data["kind_label"] = s.kind.label
    return data


def _authorisations_by_product(uow: AbstractUnitOfWork) -> dict[str, list[Authorisation]]:
    grouped: dict[str, list[Authorisation]] = {}
    for a in uow.authorisations.list():
        grouped.setdefault(a.product_code, []).append(a)
    return grouped


def product_summaries(uow: AbstractUnitOfWork) -> list[dict[str, Any]]:
    grouped = _authorisations_by_product(uow)
    rows = []
    for p in uow.products.list():
        row = _product(p)
        row["authorisations"] = [_authorisation(a) for a in grouped.get(p.code, [])]
        rows.append(row)
    return rows


def product_detail(uow: AbstractUnitOfWork, code: str) -> dict[str, Any]:
    product = uow.products.get(code)
    if product is None:
        known = ", ".join(p.code for p in uow.products.list())
        raise NotFound(f"there is no product {code!r} in the catalogue (known: {known})")
    return {
        "product": _product(product),
        "authorisations": [
            _authorisation(a) for a in _authorisations_by_product(uow).get(code, [])
        ],
    }


def sites(uow: AbstractUnitOfWork) -> list[dict[str, Any]]:
    return [site_view(s) for s in uow.sites.list()]
