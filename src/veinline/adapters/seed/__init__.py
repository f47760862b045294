"""The seed catalogue and demo data shipped with veinline, read into load commands."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from veinline.domain.catalog import (
    Authorisation,
    AuthorisationStatus,
    Modality,
    Product,
    Site,
    SiteKind,
    check_code,
    derive_source_lists,
    missing_provenance,
)
from veinline.domain.errors import InvalidInput
from veinline.domain.user import Role
from veinline.services.commands import CreateUser, LoadCatalogue

DEMO_PASSWORD = "veinline-demo"  # noqa: S105 - the documented demo password


def _read(name: str) -> dict[str, Any]:
    text = (resources.files(__package__) / name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _product(data: dict[str, Any]) -> Product:
    fields = dict(data)
    fields["modality"] = Modality(fields["modality"])
    check_code(fields["code"])
    provenance = {str(k): str(v) for k, v in fields.pop("provenance", {}).items()}
    facts = [dict(f) for f in fields.get("facts", [])]
    sources, unconfirmed = derive_source_lists(provenance, facts)
    product = Product(**fields, provenance=provenance, sources=sources, unconfirmed=unconfirmed)
    missing = missing_provenance(product)
    if missing:
        raise InvalidInput(
            f"seed product {product.code}: no source or 'unconfirmed' for {', '.join(missing)}"
        )
    return product


def _authorisation(data: dict[str, Any]) -> Authorisation:
    fields = dict(data)
    fields["status"] = AuthorisationStatus(fields["status"])
    return Authorisation(**fields)


def _site(data: dict[str, Any]) -> Site:
    fields = dict(data)
    fields["kind"] = SiteKind(fields["kind"])
    check_code(fields["code"], "site code")
    return Site(**fields)


def catalogue_command() -> LoadCatalogue:
    """The seed catalogue: products, authorisations, the RTP facility."""
    data = _read("catalogue.toml")
    try:
        return LoadCatalogue(
            products=[_product(p) for p in data.get("products", [])],
            authorisations=[_authorisation(a) for a in data.get("authorisations", [])],
            sites=[_site(s) for s in data.get("sites", [])],
            reason="seed catalogue loaded",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the seed catalogue is malformed: {exc}") from exc


def demo_command() -> LoadCatalogue:
    """The seed catalogue plus demo sites and one demo user per role."""
    seed = catalogue_command()
    data = _read("demo.toml")
    users = [
        CreateUser(
            username=u["username"],
            printed_name=u["printed_name"],
            role=Role(u["role"]),
            site_code=u.get("site_code"),
            password=DEMO_PASSWORD,
            reason="demo user",
            also_at=list(u.get("also_at", [])),
        )
        for u in data.get("users", [])
    ]
    return LoadCatalogue(
        products=seed.products,
        authorisations=seed.authorisations,
        sites=[*seed.sites, *(_site(s) for s in data.get("sites", []))],
        users=users,
        reason="demo data loaded",
    )
