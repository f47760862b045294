"""Handlers: one per mutation. Each loads, asks the domain, records the ledger entry in
the same transaction, and commits (docs/architecture.md, "How a request flows")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from veinline.domain import catalog, identifiers
from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound, require_text
from veinline.domain.identifiers import IdentifierKind, IssuedIdentifier
from veinline.domain.ledger import LedgerEntry, Regulated
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.user import (
    SYSTEM_USERNAME,
    Membership,
    Role,
    User,
    check_password,
    check_printed_name,
    check_username,
)
from veinline.services import auth, commands, signatures
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork, Repository

Clock = Callable[[], datetime]


def ensure_system_user(uow: AbstractUnitOfWork, *, clock: Clock) -> bool:
    """Create the service account that acts for seeding and migrations; True if created."""
    with uow:
        if uow.users.get(SYSTEM_USERNAME) is not None:
            return False
        system = User(
            username=SYSTEM_USERNAME,
            printed_name="veinline system",
            role=Role.ADMIN,
            site_code=None,
            created_at=clock(),
        )
        uow.users.add(system)
        uow.record(
            system,
            actor=system,
            action=LedgerAction.USER_CREATED,
            before=None,
            reason="service account created with the database",
        )
        uow.commit()
        return True


def _new_user(
    cmd: commands.CreateUser, uow: AbstractUnitOfWork, *, hasher: PasswordHasher, clock: Clock
) -> User:
    check_username(cmd.username)
    if uow.users.get(cmd.username) is not None:
        raise Conflict(f"user {cmd.username} exists already")
    if cmd.site_code is not None and uow.sites.get(cmd.site_code) is None:
        raise NotFound(f"site {cmd.site_code} is not in the catalogue")
    user = User(
        username=cmd.username,
        printed_name=check_printed_name(cmd.printed_name),
        role=cmd.role,
        site_code=cmd.site_code,
        created_at=clock(),
    )
    for text in cmd.also_at:
        membership = Membership.parse(text, cmd.role)
        _known_site(uow, membership.site_code)
        user.grant(membership)
    if cmd.password is not None:
        user.set_password_hash(hasher.hash(check_password(cmd.password)))
    return user


def create_user(
    cmd: commands.CreateUser,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    hasher: PasswordHasher,
    clock: Clock,
) -> User:
    with uow:
        user = _new_user(cmd, uow, hasher=hasher, clock=clock)
        uow.users.add(user)
        uow.record(
            user, actor=actor, action=LedgerAction.USER_CREATED, before=None, reason=cmd.reason
        )
        uow.commit()
        return user


def _known_site(uow: AbstractUnitOfWork, site_code: str) -> None:
    if uow.sites.get(site_code) is None:
        raise NotFound(f"site {site_code} is not in the catalogue")


def grant_site(cmd: commands.GrantSite, uow: AbstractUnitOfWork, *, actor: User) -> User:
    with uow:
        user = uow.users.get(cmd.username)
        if user is None:
            raise NotFound(f"there is no user {cmd.username}")
        _known_site(uow, cmd.site_code)
        before = user.snapshot()
        user.grant(Membership(cmd.site_code, cmd.role or user.role))
        uow.record(
            user,
            actor=actor,
            action=LedgerAction.USER_SITE_GRANTED,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return user


def revoke_site(cmd: commands.RevokeSite, uow: AbstractUnitOfWork, *, actor: User) -> User:
    with uow:
        user = uow.users.get(cmd.username)
        if user is None:
            raise NotFound(f"there is no user {cmd.username}")
        before = user.snapshot()
        user.revoke(cmd.site_code)
        uow.record(
            user,
            actor=actor,
            action=LedgerAction.USER_SITE_REVOKED,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return user


def set_password(
    cmd: commands.SetPassword,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    hasher: PasswordHasher,
) -> User:
    with uow:
        user = uow.users.get(cmd.username)
        if user is None:
            raise NotFound(f"there is no user {cmd.username}")
        before = user.snapshot()
        user.set_password_hash(hasher.hash(check_password(cmd.password)))
        # An administrator's new password ends the user's sessions and tokens, and any
        # lockout of the name (the way to unlock a user before it runs out).
        uow.tokens.remove_of_user(user.username)
        auth.clear_failures(uow, user.username, actor=actor, reason="new password set")
        uow.record(
            user,
            actor=actor,
            action=LedgerAction.USER_PASSWORD_SET,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return user


def change_password(
    cmd: commands.ChangePassword,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    hasher: PasswordHasher,
    clock: Clock,
) -> User:
    """A user's own new password, once the old one checks out; every session and API
    token of the user is revoked with it (a stolen token dies with the old password)."""
    if cmd.username != actor.username:
        raise NotAllowed(
            "a password is changed only by its own user; an administrator sets a new one"
        )
    check_password(cmd.new_password)
    if cmd.new_password == cmd.old_password:
        raise InvalidInput("the new password must differ from the current one")
    with uow:
        auth.check_not_locked(uow, cmd.username, clock=clock)
        user = uow.users.get(cmd.username, for_update=True)
        if user is None:
            raise NotFound(f"there is no user {cmd.username}")
        if user.password_hash is None or not hasher.verify(user.password_hash, cmd.old_password):
            raise auth.WrongPassword(
                "the current password is wrong: the password was not changed",
                username=user.username,
                action=LedgerAction.SIGN_IN_FAILED,
            )
        auth.clear_failures(uow, user.username, actor=actor, reason="right current password")
        before = user.snapshot()
        user.set_password_hash(hasher.hash(cmd.new_password))
        uow.tokens.remove_of_user(user.username)
        uow.record(
            user,
            actor=actor,
            action=LedgerAction.USER_PASSWORD_CHANGED,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return user


def deactivate_user(cmd: commands.DeactivateUser, uow: AbstractUnitOfWork, *, actor: User) -> User:
    """An administrator withdraws a user's access; their tokens are revoked with it. The
    user stays, with every entry that names them."""
    reason = require_text(cmd.reason, "a reason for the deactivation")
    if cmd.username == actor.username:
        raise NotAllowed("an administrator does not deactivate themselves")
    if cmd.username == SYSTEM_USERNAME:
        raise NotAllowed("the system account cannot be deactivated")
    with uow:
        user = uow.users.get(cmd.username, for_update=True)
        if user is None:
            raise NotFound(f"there is no user {cmd.username}")
        if not user.active:
            raise Conflict(f"{user.username} is deactivated already")
        before = user.snapshot()
        user.deactivate()
        uow.tokens.remove_of_user(user.username)
        uow.record(
            user, actor=actor, action=LedgerAction.USER_DEACTIVATED, before=before, reason=reason
        )
        uow.commit()
        return user


@dataclass
class LoadSummary:
    """What a catalogue load created and what it found already there."""

    created: dict[str, int]
    kept: dict[str, int]

    def total_created(self) -> int:
        return sum(self.created.values())


def load_catalogue(
    cmd: commands.LoadCatalogue,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    hasher: PasswordHasher,
    clock: Clock,
) -> LoadSummary:
    """Create what is missing, keep what is there (an administrator may have changed it).

    One transaction for the whole load: it lands whole or not at all.
    """
    created = {"site": 0, "product": 0, "authorisation": 0, "user": 0}
    kept = dict(created)
    with uow:
        for site in cmd.sites:
            if uow.sites.get(site.code) is not None:
                kept["site"] += 1
                continue
            uow.sites.add(site)
            uow.record(
                site, actor=actor, action=LedgerAction.SITE_CREATED, before=None, reason=cmd.reason
            )
            created["site"] += 1
        for product in cmd.products:
            if uow.products.get(product.code) is not None:
                kept["product"] += 1
                continue
            uow.products.add(product)
            uow.record(
                product,
                actor=actor,
                action=LedgerAction.PRODUCT_CREATED,
                before=None,
                reason=cmd.reason,
            )
            created["product"] += 1
        for authorisation in cmd.authorisations:
            if uow.authorisations.get(authorisation.id) is not None:
                kept["authorisation"] += 1
                continue
            if uow.products.get(authorisation.product_code) is None:
                raise NotFound(
                    f"authorisation {authorisation.id} names product "
                    f"{authorisation.product_code}, which is not in the catalogue"
                )
            authorisation.criteria_list()  # refuses malformed criteria before storing
            uow.authorisations.add(authorisation)
            uow.record(
                authorisation,
                actor=actor,
                action=LedgerAction.AUTHORISATION_CREATED,
                before=None,
                reason=cmd.reason,
            )
            created["authorisation"] += 1
        for user_cmd in cmd.users:
            if uow.users.get(user_cmd.username) is not None:
                kept["user"] += 1
                continue
            user = _new_user(user_cmd, uow, hasher=hasher, clock=clock)
            uow.users.add(user)
            uow.record(
                user,
                actor=actor,
                action=LedgerAction.USER_CREATED,
                before=None,
                reason=user_cmd.reason,
            )
            created["user"] += 1
        uow.commit()
    return LoadSummary(created=created, kept=kept)


def set_product_field(
    cmd: commands.SetProductField, uow: AbstractUnitOfWork, *, actor: User
) -> Product:
    if not cmd.reason.strip():
        raise InvalidInput("a change to the catalogue needs a reason")
    with uow:
        product = uow.products.get(cmd.code)
        if product is None:
            raise NotFound(f"there is no product {cmd.code} in the catalogue")
        before = product.snapshot()
        catalog.set_product_field(product, cmd.field, cmd.value)
        uow.record(
            product,
            actor=actor,
            action=LedgerAction.PRODUCT_CHANGED,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return product


def expect_version(record: Regulated, version: int, expected: int | None) -> None:
    """Refuse a change made from a stale read: the client read `expected`, the record is
    now at `version` (docs/architecture.md, "Concurrency")."""
    if expected is not None and expected != version:
        raise Conflict(
            f"{record.ENTITY_TYPE.replace('_', ' ')} {record.entity_id} is at version "
            f"{version}, not {expected}: someone changed it since you read it; reload it "
            "and try again"
        )


def case_record_id(uow: AbstractUnitOfWork, case_id: str, letter: str, width: int = 3) -> str:
    """The next id of one of a case's records (`C2026-00001-A001`), from the case's own
    counter: readable, in the order made, and never the same for two requests at once
    (docs/security.md, "Concurrency"). Zero-padded so the ids sort in that order."""
    return f"{case_id}-{letter}{uow.sequences.next_in(case_id, letter):0{width}d}"


def allocate_identifier(
    uow: AbstractUnitOfWork,
    kind: IdentifierKind,
    *,
    fin: str,
    at: datetime,
    purpose: str,
    actor: User,
    reason: str,
) -> IssuedIdentifier:
    """Take the facility's next number for `at`'s year and record the identifier, inside the
    caller's transaction (every DIN and CoI veinline issues comes through here)."""
    sequence = uow.sequences.next(kind.value, fin, at.year)
    issued = identifiers.build(
        kind,
        fin=fin,
        issued_at=at,
        sequence=sequence,
        purpose=purpose,
        issued_by=actor.username,
    )
    uow.identifiers.add(issued)
    uow.record(
        issued,
        actor=actor,
        action=LedgerAction.of("identifier", f"{kind.value}_issued"),
        before=None,
        reason=reason,
    )
    return issued


def issue_identifier(
    cmd: commands.IssueIdentifier,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
) -> IssuedIdentifier:
    if not cmd.purpose.strip():
        raise InvalidInput("say what the identifier is for (its purpose)")
    with uow:
        if not any(site.fin == cmd.fin for site in uow.sites.list()):
            raise NotFound(f"no site in the catalogue has facility identification number {cmd.fin}")
        issued = allocate_identifier(
            uow,
            cmd.kind,
            fin=cmd.fin,
            at=clock(),
            purpose=cmd.purpose.strip(),
            actor=actor,
            reason=cmd.purpose.strip(),
        )
        uow.commit()
        return issued


def sign_record(
    cmd: commands.SignRecord,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    hasher: PasswordHasher,
) -> LedgerEntry:
    with uow:
        repositories: dict[str, Repository[Any]] = {
            "product": uow.products,
            "authorisation": uow.authorisations,
            "site": uow.sites,
        }
        repository = repositories.get(cmd.entity_type)
        if repository is None:
            raise InvalidInput(
                f"only {', '.join(repositories)} records can be signed here, "
                f"not {cmd.entity_type!r}"
            )
        record = repository.get(cmd.entity_id)
        if record is None:
            raise NotFound(f"there is no {cmd.entity_type} {cmd.entity_id}")
        signer = uow.users.get(actor.username) or actor
        entry = signatures.sign(
            uow,
            record,
            actor=signer,
            meaning=cmd.meaning,
            username=cmd.username,
            password=cmd.password,
            hasher=hasher,
            reason=cmd.reason,
        )
        uow.commit()
        return entry


__all__ = [
    "Authorisation",
    "LoadSummary",
    "PasswordHasher",
    "Site",
    "change_password",
    "create_user",
    "deactivate_user",
    "ensure_system_user",
    "issue_identifier",
    "load_catalogue",
    "set_password",
    "set_product_field",
    "sign_record",
]
