"""Signing a record: the signer proves who they are again, and the ledger entry binds the
signature to a hash of exactly what was signed."""

from __future__ import annotations

from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, LedgerEntry, Regulated, Signature, content_hash
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.signature import Meaning
from veinline.domain.user import User
from veinline.services import auth
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork


def sign(
    uow: AbstractUnitOfWork,
    record: Regulated,
    *,
    actor: User,
    meaning: Meaning,
    username: str,
    password: str,
    hasher: PasswordHasher,
    reason: str = "",
) -> LedgerEntry:
    """Write a signature entry for `record` as it stands now, inside the caller's transaction.

    11.200(a)(1): outside a continuous session a signature needs both components, the
    user id and the password, every time; 11.100: only the signer's own credentials.
    11.70: the entry carries the SHA-256 of the record's snapshot, so the signature
    cannot be moved to other content.
    """
    check_signer(uow, actor, username=username, password=password, hasher=hasher)
    snapshot = record.snapshot()
    if not snapshot:
        raise InvalidInput("there is nothing to sign")
    return uow.record(
        record,
        actor=actor,
        action=LedgerAction.of("signature", meaning.value),
        before=snapshot,
        reason=reason,
        # What the ledger holds of the record (personal data as digests) is what is signed.
        signature=Signature(
            meaning=meaning.value, signed_hash=content_hash(uow.snapshot_of(record))
        ),
    )


def check_signer(
    uow: AbstractUnitOfWork,
    actor: User,
    *,
    username: str,
    password: str,
    hasher: PasswordHasher,
) -> None:
    """11.200(a): the signer re-enters both components, and they are their own (11.100);
    a signer locked out by wrong passwords signs nothing until the lockout ends."""
    auth.check_not_locked(uow, actor.username, clock=uow.clock)
    if username.strip().lower() != actor.username:
        raise auth.WrongPassword(
            "a signature needs the signer's own user name, re-entered",
            username=actor.username,
            action=LedgerAction.SIGN_IN_SIGNATURE_FAILED,
        )
    if actor.password_hash is None or not hasher.verify(actor.password_hash, password):
        raise auth.WrongPassword(
            "the password is wrong: nothing was signed",
            username=actor.username,
            action=LedgerAction.SIGN_IN_SIGNATURE_FAILED,
        )
    if actor.is_service_account:
        raise NotAllowed("the system account cannot sign records")
    auth.clear_failures(uow, actor.username, actor=actor, reason="right password at a signature")


def signer(
    uow: AbstractUnitOfWork, actor: User, username: str, password: str, hasher: PasswordHasher
) -> User:
    """The signer as stored now (their current password and state), once their re-entered
    user name and password check out."""
    stored = uow.users.get(actor.username) or actor
    check_signer(uow, stored, username=username, password=password, hasher=hasher)
    return stored


def record_change(
    uow: AbstractUnitOfWork,
    record: Regulated,
    actor: User,
    action: LedgerAction,
    before: JsonObject | None,
    reason: str = "",
    meaning: Meaning | None = None,
) -> None:
    """The ledger entry of a change; a change with a meaning is a signature, and its entry
    carries the hash of the record as signed (11.70)."""
    signature = None
    if meaning is not None:
        signed = content_hash(uow.snapshot_of(record))
        signature = Signature(meaning=meaning.value, signed_hash=signed)
    uow.record(
        record, actor=actor, action=action, before=before, reason=reason, signature=signature
    )
