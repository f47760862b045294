"""The catalogue: products, their authorisations per jurisdiction, and sites.

Every catalogue record is regulated: a change is a ledger entry and bumps the
record's version, so an order can bind the versions in force when it was placed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


class Modality(StrEnum):
    """What kind of therapy a product is; it decides which journey it takes."""

    AUTOLOGOUS_CAR_T = "autologous_car_t"
    ALLOGENEIC_MSC = "allogeneic_msc"

    @property
    def label(self) -> str:
        return {"autologous_car_t": "Autologous CAR-T", "allogeneic_msc": "Allogeneic MSC"}[
            self.value
        ]

    @property
    def autologous(self) -> bool:
        return self is Modality.AUTOLOGOUS_CAR_T


class AuthorisationStatus(StrEnum):
    """Where a product stands with one regulator."""

    IND_CLEARED = "ind_cleared"
    INVESTIGATOR_INITIATED_TRIAL = "investigator_initiated_trial"
    CONDITIONAL_APPROVAL = "conditional_approval"
    APPROVED = "approved"
    NAMED_PATIENT = "named_patient"
    DESIGNATION_ONLY = "designation_only"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def permits_treatment(self) -> bool:
        """Whether a patient may be treated under this status (on label or in a trial)."""
        return self not in (AuthorisationStatus.DESIGNATION_ONLY, AuthorisationStatus.WITHDRAWN)

    @property
    def is_trial(self) -> bool:
        return self in (
            AuthorisationStatus.IND_CLEARED,
            AuthorisationStatus.INVESTIGATOR_INITIATED_TRIAL,
        )


_STATUS_LABELS = {
    AuthorisationStatus.IND_CLEARED: "IND cleared",
    AuthorisationStatus.INVESTIGATOR_INITIATED_TRIAL: "Investigator-initiated trial",
    AuthorisationStatus.CONDITIONAL_APPROVAL: "Conditional approval",
    AuthorisationStatus.APPROVED: "Approved",
    AuthorisationStatus.NAMED_PATIENT: "Named-patient programme",
    AuthorisationStatus.DESIGNATION_ONLY: "Designation only",
    AuthorisationStatus.WITHDRAWN: "Withdrawn",
}


class SiteKind(StrEnum):
    """The part a site plays in the journey."""

    MANUFACTURING_FACILITY = "manufacturing_facility"
    TREATMENT_CENTRE = "treatment_centre"
    APHERESIS_CENTRE = "apheresis_centre"
    QC_LAB = "qc_lab"
    # Cryostorage of allogeneic products, shipped to treatment centres.
    STORAGE_DEPOT = "storage_depot"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize().replace("Qc", "QC")


class CriterionOp(StrEnum):
    """How an eligibility criterion compares a patient fact with its value."""

    AT_LEAST = ">="
    AT_MOST = "<="
    EQUALS = "=="
    ONE_OF = "in"
    INCLUDES_ALL = "includes_all"
    IS_TRUE = "is_true"
    IS_FALSE = "is_false"


@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion of an indication, as data: fact, comparison, value."""

    id: str
    description: str
    fact: str
    op: CriterionOp
    value: Any = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str) -> Criterion:
        missing = [k for k in ("id", "description", "fact", "op") if k not in data]
        if missing:
            raise InvalidInput(f"{where}: criterion lacks {', '.join(missing)}")
        try:
            op = CriterionOp(data["op"])
        except ValueError:
            ops = ", ".join(o.value for o in CriterionOp)
            raise InvalidInput(f"{where}: unknown op {data['op']!r} (use {ops})") from None
        needs_value = op not in (CriterionOp.IS_TRUE, CriterionOp.IS_FALSE)
        if needs_value and "value" not in data:
            raise InvalidInput(f"{where}: criterion {data['id']!r} needs a value for {op}")
        if op in (CriterionOp.ONE_OF, CriterionOp.INCLUDES_ALL) and not isinstance(
            data.get("value"), list
        ):
            raise InvalidInput(f"{where}: criterion {data['id']!r} needs a list for {op}")
        return cls(
            id=str(data["id"]),
            description=str(data["description"]),
            fact=str(data["fact"]),
            op=op,
            value=data.get("value"),
        )

    def to_dict(self) -> JsonObject:
        out: JsonObject = {
            "id": self.id,
            "description": self.description,
            "fact": self.fact,
            "op": self.op.value,
        }
        if self.value is not None:
            out["value"] = self.value
        return out


def check_code(code: str, what: str = "product code") -> str:
    if not _CODE.match(code):
        raise InvalidInput(
            f"{what} {code!r} is not allowed: use 2 to 40 lower-case letters, digits or '-'"
        )
    return code


UNCONFIRMED = "unconfirmed"

# The product fields whose values are catalogue facts, in the order they are shown.
# Each one that has a value carries a source in `Product.provenance`, or "unconfirmed".
PROVENANCE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "brand_name",
    "development_code",
    "sponsor",
    "modality",
    "target",
    "platform",
    "cell_source",
    "isbt128_class",
    "collection_type",
    "storage_max_c",
    "post_thaw_window_minutes",
    "isbt128_collection_code",
    "isbt128_product_code",
)
# ISBT 128 product description codes (ST-001 DS003: a category letter, S for cellular
# therapy, then four characters) come from ICCBBA's product description code database, so
# none is assumed: a site configures its own (checked by labels.check_product_description_code).


def is_unconfirmed(source: str | None) -> bool:
    """Whether a provenance entry says no public source supports the value."""
    if source is None:
        return True
    text = source.strip().lower()
    return text == UNCONFIRMED or text.startswith(UNCONFIRMED + ":")


@dataclass(eq=False)
class Product:
    """A cell therapy product in the catalogue.

    `brand_name` is a trade name on a label (Fucaso); a sponsor's development code
    (CT053) is not a brand and goes in `development_code`. `provenance` maps each
    field (and `dose_rule.<key>`) to the public source stating its value or to
    "unconfirmed"; `facts` are statements, each `{"text", "source"}`.
    """

    ENTITY_TYPE = "product"

    code: str
    name: str
    sponsor: str
    modality: Modality
    brand_name: str | None = None
    development_code: str | None = None
    target: str | None = None
    platform: str | None = None
    cell_source: str | None = None
    # ISBT 128 cellular-therapy class of the starting material (e.g. MSC(WJ)), if known.
    isbt128_class: str | None = None
    # ISBT 128 collection type of the product's starting material (ST-001): '1' for
    # autologous use only, '7' for allogeneic use.
    collection_type: str = "1"
    storage_max_c: float | None = None
    post_thaw_window_minutes: int | None = None
    # ISBT 128 product description codes (DS003) for the collection and the final
    # product labels, configured per product; without one a label says it is not assigned.
    isbt128_collection_code: str | None = None
    isbt128_product_code: str | None = None
    dose_rule: JsonObject | None = None
    facts: list[JsonObject] = field(default_factory=list)
    # The distinct public sources the provenance cites.
    sources: list[str] = field(default_factory=list)
    # Fields whose values no public source states: configuration defaults, not facts.
    unconfirmed: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.code

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.brand_name})" if self.brand_name else self.name

    def snapshot(self) -> JsonObject:
        return {
            "code": self.code,
            "name": self.name,
            "brand_name": self.brand_name,
            "development_code": self.development_code,
            "sponsor": self.sponsor,
            "modality": self.modality.value,
            "target": self.target,
            "platform": self.platform,
            "cell_source": self.cell_source,
            "isbt128_class": self.isbt128_class,
            "collection_type": self.collection_type,
            "storage_max_c": self.storage_max_c,
            "post_thaw_window_minutes": self.post_thaw_window_minutes,
            "isbt128_collection_code": self.isbt128_collection_code,
            "isbt128_product_code": self.isbt128_product_code,
            "dose_rule": self.dose_rule,
            "facts": [dict(f) for f in self.facts],
            "sources": list(self.sources),
            "unconfirmed": list(self.unconfirmed),
            "provenance": dict(self.provenance),
            "version": self.version,
        }

    def source_of(self, name: str) -> str:
        """The source of one field's value, or "unconfirmed" when none is recorded."""
        return self.provenance.get(name) or UNCONFIRMED

    def is_confirmed(self, name: str) -> bool:
        """Whether a field's value has a public source (so it may be printed as fact)."""
        return not is_unconfirmed(self.provenance.get(name))

    def confirmed(self, name: str) -> Any:
        """A field's value when it has a source, else None: what a label may print."""
        return getattr(self, name) if self.is_confirmed(name) else None

    @property
    def label_name(self) -> str:
        """The product's name as a label prints it: only names a source confirms.

        The name, with the brand in brackets when that is confirmed too; else the
        sponsor's development code; else veinline's catalogue code.
        """
        name = self.confirmed("name")
        brand = self.confirmed("brand_name")
        if name:
            return f"{name} ({brand})" if brand else str(name)
        if brand:
            return str(brand)
        development = self.confirmed("development_code")
        return str(development) if development else self.code


def _provenance_keys(product: Product) -> list[tuple[str, object]]:
    """Every (key, value) of a product that is a catalogue fact and has a value."""
    out: list[tuple[str, object]] = []
    for name in PROVENANCE_FIELDS:
        value = getattr(product, name)
        if value is None:
            continue
        out.append((name, value.value if isinstance(value, StrEnum) else value))
    for key, value in (product.dose_rule or {}).items():
        out.append((f"dose_rule.{key}", value))
    return out


def fact_sources(product: Product) -> list[tuple[str, object, str]]:
    """Each catalogue fact of a product with its source, or "unconfirmed".

    Fields (and dose-rule parts, as `dose_rule.<key>`) come first, then the product's
    statements as ("fact", text, source). A field without a value claims nothing and is
    left out. This is what `veinline catalog show CODE` prints.
    """
    rows: list[tuple[str, object, str]] = [
        (key, value, product.source_of(key)) for key, value in _provenance_keys(product)
    ]
    for item in product.facts:
        rows.append(("fact", str(item.get("text", "")), str(item.get("source") or UNCONFIRMED)))
    return rows


def missing_provenance(product: Product) -> list[str]:
    """Keys of facts with neither a source nor an "unconfirmed" mark (should be none)."""
    missing = [k for k, _v in _provenance_keys(product) if not product.provenance.get(k)]
    missing += [f"fact {i + 1}" for i, item in enumerate(product.facts) if not item.get("source")]
    return missing


def derive_source_lists(
    provenance: dict[str, str], facts: list[JsonObject]
) -> tuple[list[str], list[str]]:
    """The distinct cited sources and the unconfirmed keys, from a provenance mapping."""
    sources: list[str] = []
    for text in [*provenance.values(), *(str(f.get("source", "")) for f in facts)]:
        if text and not is_unconfirmed(text) and text not in sources:
            sources.append(text)
    unconfirmed = [k for k, v in provenance.items() if is_unconfirmed(v)]
    return sources, unconfirmed


EDITABLE_PRODUCT_FIELDS: dict[str, type] = {
    "name": str,
    "brand_name": str,
    "development_code": str,
    "sponsor": str,
    "target": str,
    "platform": str,
    "cell_source": str,
    "isbt128_class": str,
    "storage_max_c": float,
    "post_thaw_window_minutes": int,
    "isbt128_collection_code": str,
    "isbt128_product_code": str,
}


def set_product_field(product: Product, name: str, raw: str) -> None:
    """Change one administrator-editable field, parsing the text the user gave."""
    kind = EDITABLE_PRODUCT_FIELDS.get(name)
    if kind is None:
        allowed = ", ".join(sorted(EDITABLE_PRODUCT_FIELDS))
        raise InvalidInput(f"field {name!r} cannot be changed here; editable fields: {allowed}")
    value: object
    if raw.strip().lower() in ("", "none", "null"):
        value = None
    else:
        try:
            value = kind(raw)
        except ValueError:
            raise InvalidInput(f"{name} needs a {kind.__name__}, not {raw!r}") from None
    if value is None and name in ("name", "sponsor"):
        raise InvalidInput(f"{name} cannot be empty")
    if name in ("isbt128_collection_code", "isbt128_product_code") and isinstance(value, str):
        from veinline.domain.labels import check_product_description_code

        check_product_description_code(value)
    # Setting an unconfirmed value to itself is how an administrator confirms it.
    if getattr(product, name) == value and product.is_confirmed(name):
        raise InvalidInput(f"{product.code}: {name} is already {value!r}")
    setattr(product, name, value)
    if name in product.unconfirmed:
        product.unconfirmed = [f for f in product.unconfirmed if f != name]
    product.version += 1
    # The administrator's value is site configuration with a ledger entry, not a claim
    # from a public source; the provenance says so.
    product.provenance = {
        **product.provenance,
        name: f"set by an administrator (catalogue version {product.version}; see the ledger)",
    }


@dataclass(eq=False)
class Authorisation:
    """A product's standing with one regulator for one indication."""

    ENTITY_TYPE = "authorisation"

    id: str
    product_code: str
    jurisdiction: str
    regulator: str
    status: AuthorisationStatus
    indication: str
    date: str | None = None
    pathway: str | None = None
    designations: list[str] = field(default_factory=list)
    reference: str | None = None
    criteria: list[JsonObject] = field(default_factory=list)
    source: str | None = None
    notes: str | None = None
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def criteria_list(self) -> list[Criterion]:
        return [Criterion.from_dict(c, where=f"authorisation {self.id}") for c in self.criteria]

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "jurisdiction": self.jurisdiction,
            "regulator": self.regulator,
            "status": self.status.value,
            "indication": self.indication,
            "date": self.date,
            "pathway": self.pathway,
            "designations": list(self.designations),
            "reference": self.reference,
            "criteria": list(self.criteria),
            "source": self.source,
            "notes": self.notes,
            "version": self.version,
        }


@dataclass(eq=False)
class Site:
    """A place in the network: manufacturing facility, treatment or apheresis centre, QC lab."""

    ENTITY_TYPE = "site"

    code: str
    name: str
    kind: SiteKind
    country: str
    timezone: str
    fin: str | None = None
    region: str | None = None
    demo: bool = False
    details: JsonObject = field(default_factory=dict)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.code

    def snapshot(self) -> JsonObject:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind.value,
            "country": self.country,
            "timezone": self.timezone,
            "fin": self.fin,
            "region": self.region,
            "demo": self.demo,
            "details": dict(self.details),
            "version": self.version,
        }
