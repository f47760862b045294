"""Handlers of process templates: drafted, approved by QA's signature, transferred to
another facility, retired (controlled documents, EU GMP Chapter 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veinline.domain.catalog import SiteKind
from veinline.domain.errors import InvalidInput, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.process import (
    ProcessTemplate,
    StepSpec,
    default_steps,
    draft_template,
    transfer,
)
from veinline.domain.signature import Meaning
from veinline.domain.user import User
from veinline.services import commands, signatures
from veinline.services.handlers import Clock
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork


def _template(uow: AbstractUnitOfWork, template_id: str) -> ProcessTemplate:
    template = uow.process_templates.get(template_id.strip(), for_update=True)
    if template is None:
        raise NotFound(f"there is no process template {template_id}")
    return template


def _steps(rows: list[dict[str, object]]) -> list[StepSpec]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput("steps must be a list of objects (code, name, expected_hours, ...)")
    return [StepSpec.from_dict(r) for r in rows]


def draft_process(
    cmd: commands.DraftProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        product = uow.products.get(cmd.product_code)
        if product is None:
            raise NotFound(f"there is no product {cmd.product_code} in the catalogue")
        _manufacturing_site(uow, cmd.site)
        steps = default_steps(product.modality) if cmd.steps is None else _steps(cmd.steps)
        existing = uow.process_templates.find(product_code=product.code, site=cmd.site)
        template = draft_template(
            product.code, cmd.site, steps, by=actor, at=clock(), existing=existing, notes=cmd.notes
        )
        if cmd.steps is None:
            template.notes = template.notes or (
                f"demo default {product.modality.label} process: not a validated master "
                "batch record"
            )
            template.demo = True
        uow.process_templates.add(template)
        signatures.record_change(
            uow, template, actor, LedgerAction.PROCESS_TEMPLATE_DRAFTED, None, template.notes
        )
        uow.commit()
        return template


def _manufacturing_site(uow: AbstractUnitOfWork, code: str) -> None:
    site = uow.sites.get(code)
    if site is None:
        raise NotFound(f"there is no site {code} in the catalogue")
    if site.kind is not SiteKind.MANUFACTURING_FACILITY:
        raise InvalidInput(f"{site.name} is not a manufacturing facility")


def approve_process(
    cmd: commands.ApproveProcess,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ProcessTemplate:
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        template = _template(uow, cmd.template_id)
        siblings = uow.process_templates.find(
            product_code=template.product_code, site=template.site
        )
        before = template.snapshot()
        earlier = {t.id: t.snapshot() for t in siblings}
        superseded = template.approve(by=signer, at=clock(), siblings=siblings)
        for old in superseded:
            signatures.record_change(
                uow,
                old,
                signer,
                LedgerAction.PROCESS_TEMPLATE_SUPERSEDED,
                earlier[old.id],
                template.id,
            )
        signatures.record_change(
            uow,
            template,
            signer,
            LedgerAction.PROCESS_TEMPLATE_APPROVED,
            before,
            "",
            Meaning.APPROVED,
        )
        uow.commit()
        return template


def transfer_process(
    cmd: commands.TransferProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        source = _template(uow, cmd.template_id)
        _manufacturing_site(uow, cmd.to_site)
        existing = uow.process_templates.find(product_code=source.product_code, site=cmd.to_site)
        copy = transfer(source, cmd.to_site, actor, at=clock(), existing=existing)
        uow.process_templates.add(copy)
        signatures.record_change(
            uow, copy, actor, LedgerAction.PROCESS_TEMPLATE_TRANSFERRED, None, copy.notes
        )
        uow.commit()
        return copy


def retire_process(
    cmd: commands.RetireProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        template = _template(uow, cmd.template_id)
        before = template.snapshot()
        template.retire(by=actor, at=clock(), reason=cmd.reason)
        signatures.record_change(
            uow, template, actor, LedgerAction.PROCESS_TEMPLATE_RETIRED, before, cmd.reason
        )
        uow.commit()
        return template


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.DraftProcess: draft_process,
    commands.ApproveProcess: approve_process,
    commands.TransferProcess: transfer_process,
    commands.RetireProcess: retire_process,
}
