"""Who may do what (21 CFR 11.10(g) authority checks).

Every handler asks `require(actor, Permission.X)`. Site scoping is a seam here:
`can_act_at_site` answers yes for now and will narrow when sites are enforced.
"""

from __future__ import annotations

from enum import StrEnum

from veinline.domain.errors import NotAllowed
from veinline.domain.user import Role, User


class Permission(StrEnum):
    """One thing a role may be allowed to do."""

    MANAGE_USERS = "manage users"
    MANAGE_CATALOGUE = "change the catalogue"
    ISSUE_IDENTIFIERS = "issue identifiers"
    READ_LEDGER = "read the ledger"
    SIGN_CATALOGUE = "sign catalogue records"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.QA_REVIEWER: frozenset({Permission.READ_LEDGER, Permission.SIGN_CATALOGUE}),
    Role.COORDINATOR: frozenset({Permission.ISSUE_IDENTIFIERS, Permission.READ_LEDGER}),
    Role.APHERESIS_NURSE: frozenset({Permission.ISSUE_IDENTIFIERS}),
    Role.COURIER: frozenset(),
    Role.MANUFACTURING_OPERATOR: frozenset(),
    Role.QC_ANALYST: frozenset(),
    Role.PHYSICIAN: frozenset({Permission.READ_LEDGER}),
    Role.PLANNER: frozenset(),
}


def allowed(actor: User, permission: Permission) -> bool:
    return actor.active and permission in ROLE_PERMISSIONS.get(actor.role, frozenset())


def require(actor: User, permission: Permission) -> None:
    if not actor.active:
        raise NotAllowed(f"user {actor.username} is deactivated")
    if not allowed(actor, permission):
        raise NotAllowed(f"{actor.role.a_label} may not {permission.value}")


def can_act_at_site(actor: User, site_code: str | None) -> bool:
    """The seam for site scoping; every site is open to every user for now."""
    return actor.active
