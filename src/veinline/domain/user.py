"""Users: the people (and the one service account) every ledger entry names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, snapshot_time

SYSTEM_USERNAME = "system"

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


class Role(StrEnum):
    """What a user does in the vein-to-vein journey (services.authority says what each may)."""

    COORDINATOR = "coordinator"
    APHERESIS_NURSE = "apheresis_nurse"
    COURIER = "courier"
    MANUFACTURING_OPERATOR = "manufacturing_operator"
    QC_ANALYST = "qc_analyst"
    QA_REVIEWER = "qa_reviewer"
    PHYSICIAN = "physician"
    PLANNER = "planner"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def a_label(self) -> str:
        """The role in a sentence, with its article: 'an apheresis nurse', 'a courier'."""
        # Lower-case the words but not acronyms: "a QC analyst", "a QA reviewer".
        words = [w if w.isupper() else w.lower() for w in ROLE_LABELS[self].split()]
        label = " ".join(words)
        return f"{'an' if label[0].lower() in 'aeiou' else 'a'} {label}"

    @classmethod
    def parse(cls, text: str) -> Role:
        key = text.strip().lower().replace(" ", "_").replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(r.value for r in cls)
            raise InvalidInput(f"unknown role {text!r}; choose one of: {choices}") from None


ROLE_LABELS: dict[Role, str] = {
    Role.COORDINATOR: "Treatment-centre coordinator",
    Role.APHERESIS_NURSE: "Apheresis nurse",
    Role.COURIER: "Courier",
    Role.MANUFACTURING_OPERATOR: "Manufacturing operator",
    Role.QC_ANALYST: "QC analyst",
    Role.QA_REVIEWER: "QA reviewer",
    Role.PHYSICIAN: "Physician",
    Role.PLANNER: "Capacity planner",
    Role.ADMIN: "Administrator",
}


@dataclass(frozen=True)
class Membership:
    """One site a user works at, and the role they hold there (docs/security.md,
    "Site scope")."""

    site_code: str
    role: Role

    def to_dict(self) -> JsonObject:
        return {"site_code": self.site_code, "role": self.role.value}

    @classmethod
    def from_dict(cls, data: JsonObject) -> Membership:
        return cls(str(data["site_code"]), Role(str(data["role"])))

    @classmethod
    def parse(cls, text: str, default_role: Role) -> Membership:
        """`SITE` or `SITE:ROLE` (as the CLI and the seed file give them)."""
        site, _, role = text.strip().partition(":")
        if not site.strip():
            raise InvalidInput(f"a site membership needs a site code, not {text!r}")
        return cls(site.strip(), Role.parse(role) if role.strip() else default_role)


@dataclass(eq=False)
class User:
    """A person who signs in to veinline, or the system service account."""

    ENTITY_TYPE = "user"

    username: str
    printed_name: str
    role: Role
    site_code: str | None
    created_at: datetime
    active: bool = True
    credential_version: int = 0
    password_hash: str | None = None
    # The sites the user also works at, beyond the home site (`site_code`, `role`).
    also_at: tuple[Membership, ...] = ()

    @property
    def entity_id(self) -> str:
        return self.username

    @property
    def memberships(self) -> tuple[Membership, ...]:
        """Every site the user works at with the role held there, home site first."""
        home = (Membership(self.site_code, self.role),) if self.site_code else ()
        return home + tuple(m for m in self.also_at if m not in home)

    @property
    def roles(self) -> frozenset[Role]:
        """Every role the user holds, at one site or another."""
        return frozenset({self.role, *(m.role for m in self.also_at)})

    def sites_as(self, roles: frozenset[Role]) -> frozenset[str]:
        """The sites where the user holds one of these roles."""
        return frozenset(m.site_code for m in self.memberships if m.role in roles)

    def grant(self, membership: Membership) -> None:
        if membership in self.memberships:
            raise InvalidInput(
                f"{self.username} already works at {membership.site_code} as "
                f"{membership.role.a_label}"
            )
        self.also_at = (*self.also_at, membership)

    def revoke(self, site_code: str) -> None:
        if site_code == self.site_code:
            raise InvalidInput(
                f"{site_code} is {self.username}'s home site: deactivate the user instead"
            )
        kept = tuple(m for m in self.also_at if m.site_code != site_code)
        if kept == self.also_at:
            raise InvalidInput(f"{self.username} does not work at {site_code}")
        self.also_at = kept

    @property
    def is_service_account(self) -> bool:
        return self.username == SYSTEM_USERNAME

    def snapshot(self) -> JsonObject:
        # The password hash stays out of the ledger: the ledger is read by auditors.
        # A password change shows as a new credential_version instead.
        snapshot: JsonObject = {
            "username": self.username,
            "printed_name": self.printed_name,
            "role": self.role.value,
            "site_code": self.site_code,
            "active": self.active,
            "credential_version": self.credential_version,
            "created_at": snapshot_time(self.created_at),
        }
        if self.also_at:
            # Only when there is any, so users recorded before memberships still verify.
            snapshot["also_at"] = [m.to_dict() for m in self.also_at]
        return snapshot

    def deactivate(self) -> None:
        """Access withdrawn: the user signs in and signs no more (kept for the record)."""
        self.active = False

    def set_password_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.credential_version += 1


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InvalidInput(
            f"user name {username!r} is not allowed: use 2 to 64 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter"
        )
    return username


def check_password(password: str) -> str:
    # Part 11.300: passwords are one of the two components of a signature; keep them
    # long enough to resist guessing.
    if len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters")
    return password


def check_printed_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("a user needs a printed name: it is shown with every signature")
    return cleaned
