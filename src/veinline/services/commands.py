"""Commands: what a user asks veinline to change. One handler serves each."""

from __future__ import annotations

from dataclasses import dataclass, field

from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.signature import Meaning
from veinline.domain.user import Role


class Command:
    """Base of every command."""


@dataclass(frozen=True)
class CreateUser(Command):
    username: str
    printed_name: str
    role: Role
    site_code: str | None = None
    password: str | None = None
    reason: str = "new user"


@dataclass(frozen=True)
class SetPassword(Command):
    username: str
    password: str
    reason: str = "password changed"


@dataclass(frozen=True)
class LoadCatalogue(Command):
    """Create every record of a seed catalogue that is not stored yet."""

    products: list[Product] = field(default_factory=list)
    authorisations: list[Authorisation] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    users: list[CreateUser] = field(default_factory=list)
    reason: str = "seed catalogue"


@dataclass(frozen=True)
class SetProductField(Command):
    code: str
    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class IssueIdentifier(Command):
    kind: IdentifierKind
    fin: str
    purpose: str


@dataclass(frozen=True)
class SignRecord(Command):
    """Sign a catalogue record as it stands (e.g. QA approves a product's version)."""

    entity_type: str
    entity_id: str
    meaning: Meaning
    username: str
    password: str
    reason: str = ""
