"""Catalogue provenance: every fact of the seed catalogue names its public source or
says it is unconfirmed, and the shape of each record follows what the sources say."""

from __future__ import annotations

import dataclasses
import re

import pytest

from veinline.adapters.seed import catalogue_command
from veinline.domain.catalog import (
    PROVENANCE_FIELDS,
    Product,
    fact_sources,
    is_unconfirmed,
    missing_provenance,
    set_product_field,
)
from veinline.domain.errors import InvalidInput

SEED = catalogue_command()
PRODUCTS = {p.code: p for p in SEED.products}
AUTHORISATIONS = {a.id: a for a in SEED.authorisations}

# A development code is letters then digits (CT053, IMC001, VUM02): a sponsor's pipeline
# name, not a trade name on a label.
_DEVELOPMENT_CODE = re.compile(r"^[A-Z]{2,5}\d{2,4}[A-Z]?$")


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_every_fact_of_every_product_has_a_source_or_is_unconfirmed(code: str) -> None:
    product = PRODUCTS[code]
    assert missing_provenance(product) == []
    rows = fact_sources(product)
    keys = {key for key, _value, _source in rows}
    for name in PROVENANCE_FIELDS:
        if getattr(product, name) is not None:
            assert name in keys
    for key, _value, source in rows:
        assert source.strip(), f"{code}: {key} has an empty source"


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_no_source_is_an_internal_seed_reference_or_a_file_path(code: str) -> None:
    product = PRODUCTS[code]
    texts = [source for _k, _v, source in fact_sources(product)] + product.sources
    for text in texts:
        assert "seed 0" not in text.lower()
        assert "shared/" not in text and not re.search(r"\.(md|txt)\b", text)


def test_authorisation_sources_name_public_documents() -> None:
    for auth in AUTHORISATIONS.values():
        assert auth.source, auth.id
        assert "seed 0" not in auth.source.lower() and "shared/" not in auth.source


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_no_development_code_is_a_brand_name(code: str) -> None:
    product = PRODUCTS[code]
    if product.brand_name is not None:
        assert not _DEVELOPMENT_CODE.match(product.brand_name), product.brand_name


def test_carsgen_products_carry_their_development_codes_and_no_brand() -> None:
    # The CARsgen Business Wire release names CT053 and CT041 only as study products.
    assert PRODUCTS["zevor-cel"].development_code == "CT053"
    assert PRODUCTS["satri-cel"].development_code == "CT041"
    assert PRODUCTS["zevor-cel"].brand_name is None
    assert PRODUCTS["satri-cel"].brand_name is None


def test_eque_cel_china_authorisation_is_the_nda_approval_of_30_june_2023() -> None:
    # IASO Bio/Innovent announcement, 2 July 2023: NMPA approved the NDA on 30 June 2023.
    auth = AUTHORISATIONS["eque-cel.cn"]
    assert auth.status.value == "approved"
    assert auth.date == "2023-06-30"
    assert "priority" not in (auth.pathway or "").lower()
    assert "2 July 2023" in (auth.source or "")
    assert "FUMANBA-1" in (auth.notes or "")


def test_eque_cel_dose_is_sourced_and_its_tolerance_is_unconfirmed() -> None:
    product = PRODUCTS["eque-cel"]
    assert "FUMANBA-1" in product.source_of("dose_rule.cells_per_kg")
    assert is_unconfirmed(product.source_of("dose_rule.tolerance_percent"))
    assert "dose_rule.tolerance_percent" in product.unconfirmed


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_storage_and_post_thaw_window_are_unconfirmed(code: str) -> None:
    product = PRODUCTS[code]
    assert not product.is_confirmed("storage_max_c")
    assert not product.is_confirmed("post_thaw_window_minutes")


def test_msc_tissue_classes_are_not_claimed_beyond_the_sources() -> None:
    # ISBT 128: MSC(CB) is cord blood, MSC(WJ) Wharton's jelly (cord tissue).
    amimestrocel = PRODUCTS["amimestrocel"]
    assert amimestrocel.isbt128_class is None
    assert "MSC(CB)" not in (amimestrocel.cell_source or "")
    assert "umbilical" not in (amimestrocel.cell_source or "")
    vum02 = PRODUCTS["vum02"]
    assert "umbilical cord tissue" in (vum02.cell_source or "")
    assert vum02.isbt128_class == "MSC(WJ)"
    assert not vum02.is_confirmed("isbt128_class")


def test_fact_sources_lists_fields_dose_parts_and_statements() -> None:
    rows = fact_sources(PRODUCTS["eque-cel"])
    assert rows[0] == ("code", "eque-cel", "veinline catalogue code")
    assert ("brand_name", "Fucaso", "IASO Bio/Innovent announcement, 2 July 2023") in rows
    assert any(k == "dose_rule.cells_per_kg" and v == 1.0e6 for k, v, _s in rows)
    facts = [(v, s) for k, v, s in rows if k == "fact"]
    assert facts and all(s for _v, s in facts)


def _fresh(code: str) -> Product:
    """A copy of a seed product to change (by its fields: a mapped instance's __dict__
    also holds SQLAlchemy's state once another test has started the mappers)."""
    return dataclasses.replace(PRODUCTS[code], provenance=dict(PRODUCTS[code].provenance))


def test_an_administrators_value_replaces_unconfirmed_with_its_provenance() -> None:
    product = _fresh("eque-cel")
    product.provenance = dict(product.provenance)
    set_product_field(product, "storage_max_c", "-135")
    assert product.is_confirmed("storage_max_c")
    assert "administrator" in product.source_of("storage_max_c")
    assert "storage_max_c" not in product.unconfirmed


def test_setting_an_unconfirmed_value_to_itself_confirms_it() -> None:
    product = _fresh("eque-cel")
    product.provenance = dict(product.provenance)
    version = product.version
    set_product_field(product, "storage_max_c", "-150")
    assert product.is_confirmed("storage_max_c")
    assert product.version == version + 1
    with pytest.raises(InvalidInput, match="already"):
        set_product_field(product, "storage_max_c", "-150")


@pytest.mark.parametrize("code", ["S123", "s1234", "A1234", "S12345"])
def test_a_product_description_code_follows_isbt_128_ds003(code: str) -> None:
    product = _fresh("eque-cel")
    with pytest.raises(InvalidInput):
        set_product_field(product, "isbt128_product_code", code)


def test_a_cellular_therapy_product_description_code_is_accepted() -> None:
    product = _fresh("eque-cel")
    product.provenance = dict(product.provenance)
    set_product_field(product, "isbt128_product_code", "S1234")
    assert product.isbt128_product_code == "S1234"
