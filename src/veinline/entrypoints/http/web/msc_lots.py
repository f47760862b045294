"""The MSC pages before stock: donors (register, screening, QA's signed review), lots (one
eligible donor's tissue started as a batch) and the fill (vials of a released lot, put
away into storage, their labels); docs/architecture.md, "Allogeneic MSC".

Every form is offered only to whom `services/authority.py` lets act at that record's
site; a refused form comes back with what was entered (passwords excepted) and the
reason; each form carries a one-time form token, so a second click or a reload of the
POST answers with the first result instead of acting twice (http/idempotent.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.bootstrap import App
from veinline.domain.catalog import Modality, SiteKind
from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.msc import REQUIRED_TESTS, Donor, DonorStatus, Lot, VialStatus
from veinline.domain.user import User
from veinline.entrypoints.http import idempotent
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import see_other
from veinline.entrypoints.views import msc as views
from veinline.services import authority, commands, places
from veinline.services import msc as msc_service
from veinline.services.authority import Place, Read, Where
from veinline.services.unit_of_work import AbstractUnitOfWork

router = APIRouter(include_in_schema=False)

# What a screening result may be (21 CFR 1271.80(d): only negative or non-reactive
# results leave a donor eligible).
RESULTS = ("negative", "non_reactive", "not_detected", "reactive", "positive", "indeterminate")


def _once(
    request: Request,
    application: App,
    user: User,
    form: dict[str, str],
    cmd: commands.Command,
    *,
    goes_to: Callable[[Any], str],
    done: str,
) -> Response:
    """Run the form's command once per its form token (http/idempotent.py
    `once_from_form`): a repeat lands where the first went. A refusal raises (nothing
    was made, so the form may be sent again)."""
    made = idempotent.once_from_form(request, application, user, form, cmd, location=goes_to)
    said = f"{done} (sent twice: done once)" if made.repeated else done
    return see_other(request, made.location, done=said)


def _facilities(uow: AbstractUnitOfWork) -> list[Any]:
    return [s for s in uow.sites.list() if s.kind is SiteKind.MANUFACTURING_FACILITY]


def _msc_products(uow: AbstractUnitOfWork) -> list[Any]:
    return [p for p in uow.products.list() if p.modality is Modality.ALLOGENEIC_MSC]


def _where_facility(site: str) -> Where:
    return Where.at(f"site {site}", Place.FACILITY, site)


# ------------------------------------------------------------------ donors


def _donors_context(uow: AbstractUnitOfWork, user: User) -> dict[str, Any]:
    authority.require_read(user, Read.INVENTORY)
    donors = sorted(uow.msc_donors.list(), key=lambda d: d.registered_at, reverse=True)
    sites = [
        s
        for s in _facilities(uow)
        if authority.may(user, commands.RegisterDonor, _where_facility(s.code))
    ]
    return {"donors": [views.donor_view(d, user) for d in donors], "register_sites": sites}


@router.get("/inventory/donors", response_class=HTMLResponse)
def donors_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        context = _donors_context(uow, user)
    return idempotent.form_page(request, "donors.html", context)


@router.post("/inventory/donors")
async def register_donor(request: Request, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        return _once(
            request,
            application,
            user,
            form,
            commands.RegisterDonor(
                form.get("donor_id", ""),
                form.get("site", ""),
                form.get("site_reference", ""),
                form.get("consent_given") == "yes",
                form.get("consent_date", ""),
            ),
            goes_to=lambda donor: f"/inventory/donors/{quote(donor.id)}",
            done="donor registered",
        )
    except DomainError as exc:
        with application.uow() as uow:
            context = _donors_context(uow, user)
        return idempotent.form_page(request, "donors.html", context, sent=form, refused=exc)


def _donor(uow: AbstractUnitOfWork, donor_id: str) -> Donor:
    donor = uow.msc_donors.get(donor_id)
    if donor is None:
        raise NotFound(f"there is no donor {donor_id}")
    return donor


def _donor_context(uow: AbstractUnitOfWork, user: User, donor_id: str) -> dict[str, Any]:
    authority.require_read(user, Read.INVENTORY)
    donor = _donor(uow, donor_id)
    may_screen = donor.review is None and authority.may(
        user, commands.ScreenDonor, Where.at(f"donor {donor.id}", Place.FACILITY, donor.site)
    )
    lot_sites = [
        s.code
        for s in _facilities(uow)
        if authority.may(user, commands.StartLot, _where_facility(s.code))
    ]
    return {
        "donor": views.donor_view(donor, user),
        "tests": REQUIRED_TESTS,
        "results": RESULTS,
        "may_screen": may_screen,
        "may_start_lot": bool(lot_sites) and donor.status is DonorStatus.ELIGIBLE,
        "lot_sites": lot_sites,
        "products": [p.code for p in _msc_products(uow)],
        "lots": [views.lot_view(uow, lot) for lot in uow.msc_lots.find(donor_id=donor.id)],
        # Every vial of the donor's lots, where it is and who received it (named for
        # that patient's care team only): services/msc.py `lookback`.
        "trace": views.lookback(uow, user, lot_id=None, donor_id=donor.id),
    }


@router.get("/inventory/donors/{donor_id}", response_class=HTMLResponse)
def donor_page(request: Request, donor_id: str, user: WebUser, application: AppDep) -> Response:
    return _donor_again(request, application, user, donor_id)


def _donor_again(
    request: Request,
    application: App,
    user: User,
    donor_id: str,
    form: dict[str, str] | None = None,
    refused: DomainError | None = None,
) -> Response:
    """The donor page; after a refused form, with it as sent and why."""
    with application.uow() as uow:
        context = _donor_context(uow, user, donor_id)
    return idempotent.form_page(request, "donor.html", context, sent=form, refused=refused)


@router.post("/inventory/donors/{donor_id}/screening")
async def screen_donor(
    request: Request, donor_id: str, user: WebUser, application: AppDep
) -> Response:
    form = await form_of(request)
    results = {t: form.get(f"result_{t}", "") for t in REQUIRED_TESTS if form.get(f"result_{t}")}
    try:
        return _once(
            request,
            application,
            user,
            form,
            commands.ScreenDonor(
                donor_id,
                results,
                form.get("questionnaire_passed") == "yes",
                form.get("username", ""),
                form.get("password", ""),
            ),
            goes_to=lambda donor: f"/inventory/donors/{quote(donor.id)}",
            done="screening reviewed and signed",
        )
    except DomainError as exc:
        return _donor_again(request, application, user, donor_id, form, exc)


# ------------------------------------------------------------------ lots


def _lots_context(uow: AbstractUnitOfWork, user: User) -> dict[str, Any]:
    authority.require_read(user, Read.INVENTORY)
    lots = sorted(uow.msc_lots.list(), key=lambda lot: lot.started_at, reverse=True)
    sites = [
        s.code
        for s in _facilities(uow)
        if authority.may(user, commands.StartLot, _where_facility(s.code))
    ]
    eligible = [d.id for d in uow.msc_donors.list() if d.status is DonorStatus.ELIGIBLE]
    return {
        "lots": [views.lot_view(uow, lot) for lot in lots],
        "lot_sites": sites,
        "donor_ids": sorted(eligible),
        "products": [p.code for p in _msc_products(uow)],
    }


@router.get("/inventory/lots", response_class=HTMLResponse)
def lots_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        context = _lots_context(uow, user)
    form = {"donor_id": request.query_params.get("donor", "")}
    return idempotent.form_page(request, "lots.html", context, sent=form)


@router.post("/inventory/lots")
async def start_lot(request: Request, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        return _once(
            request,
            application,
            user,
            form,
            commands.StartLot(
                form.get("lot_id", ""),
                form.get("donor_id", ""),
                form.get("product_code", ""),
                form.get("site", ""),
                form.get("market", ""),
            ),
            goes_to=lambda lot: f"/inventory/lots/{quote(lot.id)}",
            done="lot started: its batch record is open",
        )
    except DomainError as exc:
        with application.uow() as uow:
            context = _lots_context(uow, user)
        return idempotent.form_page(request, "lots.html", context, sent=form, refused=exc)


def _lot(uow: AbstractUnitOfWork, lot_id: str) -> Lot:
    lot = uow.msc_lots.get(lot_id)
    if lot is None:
        raise NotFound(f"there is no lot {lot_id}")
    return lot


def _lot_context(uow: AbstractUnitOfWork, user: User, lot_id: str, *, now: Any) -> dict[str, Any]:
    authority.require_read(user, Read.INVENTORY)
    lot = _lot(uow, lot_id)
    data = views.lot_view(uow, lot)
    vials = sorted(uow.msc_vials.of_lots([lot.id]), key=lambda v: v.division)
    units = [
        u
        for u in uow.storage_units.list()
        if authority.may(user, commands.StoreVial, Where.at_depot(f"unit {u.id}", u.site))
    ]
    released = data["batch_status"] in ("released", "conditionally_released")
    return {
        "lot": data,
        "vials": [views.vial_view(v) for v in vials],
        "to_put_away": sum(1 for v in vials if v.status is VialStatus.FILLED),
        "may_fill": released
        and lot.recall is None
        and authority.may(user, commands.FillVials, places.of_lot(lot)),
        "units": [
            {"id": u.id, "site": u.site, "free": u.capacity - len(uow.msc_vials.in_unit(u.id))}
            for u in sorted(units, key=lambda u: u.id)
        ],
        "may_read_batch": authority.may(user, Read.BATCH, places.of_lot(lot)),
        "default_expiry": (now + timedelta(days=365)).date().isoformat(),
    }


@router.get("/inventory/lots/{lot_id}", response_class=HTMLResponse)
def lot_page(request: Request, lot_id: str, user: WebUser, application: AppDep) -> Response:
    return _lot_again(request, application, user, lot_id)


def _lot_again(
    request: Request,
    application: App,
    user: User,
    lot_id: str,
    form: dict[str, str] | None = None,
    refused: DomainError | None = None,
) -> Response:
    """The lot page; after a refused form, with it as sent and why."""
    with application.uow() as uow:
        context = _lot_context(uow, user, lot_id, now=application.clock())
    return idempotent.form_page(request, "lot.html", context, sent=form, refused=refused)


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a number, not {text!r}") from None


@router.post("/inventory/lots/{lot_id}/fill")
async def fill(request: Request, lot_id: str, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        count = _number(form.get("count", ""), "the number of vials")
        expires = form.get("expires_on", "").strip()
        cmd = commands.FillVials(
            lot_id,
            int(count),
            _number(form.get("cells_per_vial", ""), "cells per vial"),
            _number(form.get("volume_ml", ""), "the volume"),
            f"{expires}T00:00:00+00:00" if len(expires) == 10 else expires,
        )
        return _once(
            request,
            application,
            user,
            form,
            cmd,
            goes_to=lambda _vials: f"/inventory/lots/{quote(lot_id)}",
            done=f"{int(count)} vials filled and labelled",
        )
    except DomainError as exc:
        return _lot_again(request, application, user, lot_id, form, exc)


@router.post("/inventory/lots/{lot_id}/store")
async def put_away(request: Request, lot_id: str, user: WebUser, application: AppDep) -> Response:
    """Every filled vial of the lot into the first free positions of the unit chosen: a
    second submit finds none left to put away and changes nothing."""
    form = await form_of(request)
    unit_id = form.get("unit_id", "")
    try:
        with application.uow() as uow:
            authority.require_read(user, Read.INVENTORY)
            filled = [
                v.id
                for v in sorted(uow.msc_vials.of_lots([_lot(uow, lot_id).id]), key=lambda v: v.id)
                if v.status is VialStatus.FILLED
            ]
        if not filled:
            return see_other(
                request, f"/inventory/lots/{quote(lot_id)}", done="every vial is put away"
            )
        for vial_id in filled:
            application.bus.handle(commands.StoreVial(vial_id, unit_id), actor=user)
    except DomainError as exc:
        return _lot_again(request, application, user, lot_id, form, exc)
    return see_other(
        request, f"/inventory/lots/{quote(lot_id)}", done=f"{len(filled)} vials put away"
    )


@router.get("/inventory/lots/{lot_id}/labels.pdf")
def labels(lot_id: str, user: WebUser, application: AppDep) -> Response:
    """The vials' labels from the existing label renderer (adapters/pdf_labels.py)."""
    from veinline.adapters.pdf_labels import render_labels

    with application.uow() as uow:
        printed = msc_service.vial_labels(uow, lot_id, user)
    return Response(render_labels(printed), media_type="application/pdf")
