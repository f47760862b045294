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

    @property
    def entity_id(self) -> str:
        return self.username

    @property
    def is_service_account(self) -> bool:
        return self.username == SYSTEM_USERNAME

    def snapshot(self) -> JsonObject:
        # The password hash stays out of the ledger: the ledger is read by auditors.
        # A password change shows as a new credential_version instead.
        return {
            "username": self.username,
            "printed_name": self.printed_name,
            "role": self.role.value,
            "site_code": self.site_code,
            "active": self.active,
            "credential_version": self.credential_version,
            "created_at": snapshot_time(self.created_at),
        }

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
