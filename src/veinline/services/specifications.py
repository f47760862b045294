"""Handlers of release specifications: drafted, approved by QA's signature, retired."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from veinline.domain.catalog import Modality
from veinline.domain.errors import InvalidInput, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.signature import Meaning
from veinline.domain.specification import ReleaseTest, Specification, draft_specification
from veinline.domain.user import User
from veinline.services import commands, signatures
from veinline.services.handlers import Clock
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork

ReleasePanels = Callable[[Modality], Sequence[ReleaseTest]]
"""The release-test panel a specification drafted without tests starts from, by modality
(the demo panels of `adapters.seed.release_panels`, wired in `bootstrap.py`)."""


def _specification(uow: AbstractUnitOfWork, specification_id: str) -> Specification:
    found = uow.specifications.get(specification_id.strip(), for_update=True)
    if found is None:
        raise NotFound(f"there is no release specification {specification_id}")
    return found


def draft_spec(
    cmd: commands.DraftSpecification,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    release_panels: ReleasePanels,
) -> Specification:
    with uow:
        product = uow.products.get(cmd.product_code)
        if product is None:
            raise NotFound(f"there is no product {cmd.product_code} in the catalogue")
        if cmd.tests is None:
            tests: Sequence[ReleaseTest] = tuple(release_panels(product.modality))
        elif isinstance(cmd.tests, list) and all(isinstance(t, dict) for t in cmd.tests):
            tests = [ReleaseTest.from_dict(t) for t in cmd.tests]
        else:
            raise InvalidInput("tests must be a list of objects (code, name, comparator, ...)")
        existing = uow.specifications.find(product_code=product.code, market=cmd.market)
        spec = draft_specification(
            product.code,
            cmd.market,
            tests,
            by=actor,
            at=clock(),
            existing=existing,
            notes=cmd.notes,
        )
        if cmd.tests is None:
            spec.notes = spec.notes or (
                "demo default release panel: not a registered specification"
            )
            spec.demo = True
        uow.specifications.add(spec)
        signatures.record_change(
            uow, spec, actor, LedgerAction.SPECIFICATION_DRAFTED, None, spec.notes
        )
        uow.commit()
        return spec


def approve_spec(
    cmd: commands.ApproveSpecification,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Specification:
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        spec = _specification(uow, cmd.specification_id)
        siblings = uow.specifications.find(product_code=spec.product_code, market=spec.market)
        before = spec.snapshot()
        earlier = {s.id: s.snapshot() for s in siblings}
        superseded = spec.approve(by=signer, at=clock(), siblings=siblings)
        for old in superseded:
            signatures.record_change(
                uow, old, signer, LedgerAction.SPECIFICATION_SUPERSEDED, earlier[old.id], spec.id
            )
        signatures.record_change(
            uow, spec, signer, LedgerAction.SPECIFICATION_APPROVED, before, "", Meaning.APPROVED
        )
        uow.commit()
        return spec


def retire_spec(
    cmd: commands.RetireSpecification, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Specification:
    with uow:
        spec = _specification(uow, cmd.specification_id)
        before = spec.snapshot()
        spec.retire(by=actor, at=clock(), reason=cmd.reason)
        signatures.record_change(
            uow, spec, actor, LedgerAction.SPECIFICATION_RETIRED, before, cmd.reason
        )
        uow.commit()
        return spec


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.DraftSpecification: draft_spec,
    commands.ApproveSpecification: approve_spec,
    commands.RetireSpecification: retire_spec,
}
