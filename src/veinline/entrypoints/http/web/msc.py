"""The MSC pages: inventory (stock by product, lot, site and expiry, and the forecast
plot), a storage unit's map, orders and one order with the actions this user may take
(docs/architecture.md, "Allogeneic MSC"). A refused form goes back with the message."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.bootstrap import App
from veinline.domain.catalog import Modality, SiteKind
from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.msc import OrderStatus
from veinline.domain.user import User
from veinline.entrypoints.http import idempotent
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import render, see_other
from veinline.entrypoints.views import msc as views
from veinline.services import authority, commands, places
from veinline.services import msc as msc_service

router = APIRouter(include_in_schema=False)


@router.get("/inventory", response_class=HTMLResponse)
def inventory_page(request: Request, user: WebUser, application: AppDep) -> Response:
    now = application.clock()
    with application.uow() as uow:
        stock = views.inventory(uow, user, now=now)
        forecast = views.forecast(uow, user, now=now)
    return render(request, "inventory.html", user=user, stock=stock, forecast=forecast)


@router.get("/inventory/forecast.png")
def forecast_png(user: WebUser, application: AppDep) -> Response:
    from veinline.adapters.msc_charts import forecast_png as draw

    with application.uow() as uow:
        lines = views.forecast(uow, user, now=application.clock())
    return Response(draw(lines), media_type="image/png")


@router.get("/inventory/storage/{unit_id}", response_class=HTMLResponse)
def storage_page(request: Request, unit_id: str, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        authority.require_read(user, authority.Read.INVENTORY)
        unit = uow.storage_units.get(unit_id)
        if unit is None:
            raise NotFound(f"there is no storage unit {unit_id}")
        data = views.storage_map(uow, unit, now=application.clock())
    return render(request, "storage.html", user=user, unit=data)


@router.get("/inventory/orders", response_class=HTMLResponse)
def orders_page(request: Request, user: WebUser, application: AppDep) -> Response:
    return _orders_again(request, application, user)


def _orders_again(
    request: Request,
    application: App,
    user: User,
    form: dict[str, str] | None = None,
    refused: DomainError | None = None,
) -> Response:
    """The orders page; after a refused order, its form as sent and why."""
    with application.uow() as uow:
        context = {
            "user": user,
            "orders": views.orders(uow, user),
            "centres": [s.code for s in uow.sites.list() if s.kind is SiteKind.TREATMENT_CENTRE],
            "products": [
                p.code for p in uow.products.list() if p.modality is Modality.ALLOGENEIC_MSC
            ],
            "can_order": authority.may(user, commands.PlaceOrder),
        }
    return idempotent.form_page(request, "orders.html", context, sent=form, refused=refused)


@router.post("/inventory/orders")
async def place_order(request: Request, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        facts: dict[str, Any] = {"age_years": int(form.get("age_years", "") or -1)}
        if form.get("diagnosis"):
            facts["diagnosis"] = form["diagnosis"]
        conditions = [c.strip() for c in form.get("conditions", "").split(",") if c.strip()]
        if conditions:
            facts["conditions"] = conditions
        if form.get("prior_allo_hsct"):
            facts["prior_allo_hsct"] = True
        made = idempotent.once_from_form(
            request,
            application,
            user,
            form,
            commands.PlaceOrder(
                form.get("order_id", ""),
                form.get("product_code", ""),
                form.get("jurisdiction", ""),
                form.get("treatment_site", ""),
                form.get("patient_name", ""),
                form.get("wristband_id", ""),
                facts,
                float(form.get("weight_kg", "") or 0),
            ),
            location=lambda order: f"/inventory/orders/{quote(order.id)}",
        )
    except ValueError:
        refusal = InvalidInput("age and weight must be numbers")
        return _orders_again(request, application, user, form, refusal)
    except DomainError as exc:
        return _orders_again(request, application, user, form, exc)
    if made.repeated:
        return see_other(request, made.location, done="already ordered by this form")
    return see_other(request, made.location, done=f"order {made.result.status.label}")


def _scans(form: dict[str, str]) -> list[str]:
    """The vials scanned into the form's box, one a line."""
    return [line.strip() for line in form.get("scans", "").splitlines() if line.strip()]


# What each order action is, the command it builds from the form, and who may see it.
# The shipment's logger and QA's disposition act on the order's shipment, as a case's do.
def _action(
    action: str, order_id: str, form: dict[str, str], shipment_id: str = ""
) -> commands.Command:
    if action == "logger":
        return commands.ImportLoggerData(
            shipment_id, form.get("logger_csv", ""), form.get("timezone", "") or "UTC"
        )
    if action == "dispose":
        return commands.DisposeExcursion(
            shipment_id,
            form.get("decision", ""),
            form.get("reason", ""),
            form.get("username", ""),
            form.get("password", ""),
        )
    try:
        if action == "allocate":
            return commands.AllocateOrder(order_id)
        if action == "cancel":
            return commands.CancelOrder(order_id, form.get("reason", ""))
        if action == "ship":
            return commands.ShipOrder(order_id, _scans(form))
        if action == "receive":
            return commands.ReceiveOrder(
                order_id,
                scans=_scans(form),
                logger_csv=form.get("logger_csv", ""),
                timezone=form.get("timezone", "") or "UTC",
            )
        if action == "infuse":
            return commands.InfuseVial(
                order_id,
                form.get("wristband_id", ""),
                form.get("vial_scan", ""),
                form.get("thawed_at", ""),
                form.get("infusion_started_at", ""),
            )
    except ValueError:
        raise InvalidInput("a number was expected") from None
    raise NotFound(f"there is no order action {action!r}")


_OFFERED = {
    OrderStatus.PLACED: ("allocate", "cancel"),
    OrderStatus.SHORT: ("allocate", "cancel"),
    OrderStatus.ALLOCATED: ("ship", "cancel"),
    OrderStatus.SHIPPED: ("logger", "dispose", "receive"),
    OrderStatus.RECEIVED: ("dispose", "infuse"),
}


def _offered(order: Any, shipment: dict[str, Any] | None, user: Any) -> list[str]:
    """The actions this user may take on the order now: the shipment's disposition only
    while it has a question for QA, its logger only while it is on its way."""
    where = places.of_order(order)
    out = []
    for a in _OFFERED.get(order.status, ()):
        if a in ("logger", "dispose") and shipment is None:
            continue
        if a == "dispose" and (shipment is None or not shipment["question"]):
            continue
        if a == "dispose" and shipment is not None and shipment["disposition"]:
            continue
        if authority.may(user, type(_action(a, order.id, {})), where):
            out.append(a)
    return out


@router.get("/inventory/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request,
    order_id: str,
    user: WebUser,
    application: AppDep,
) -> Response:
    with application.uow() as uow:
        order = views.readable_order(uow, order_id, user)
        data = views.order_view(order, user, uow)
        vials = [views.vial_view(v) for v in uow.msc_vials.of_order(order.id)]
    offered = _offered(order, data["shipment"], user)
    return render(
        request,
        "order.html",
        user=user,
        order=data,
        vials=vials,
        offered=offered,
        now=application.clock().isoformat(timespec="minutes"),
    )


@router.post("/inventory/orders/{order_id}/{action}")
async def order_action(
    request: Request, order_id: str, action: str, user: WebUser, application: AppDep
) -> Response:
    form = await form_of(request)
    back = f"/inventory/orders/{quote(order_id)}"
    try:
        shipment_id = ""
        if action in ("logger", "dispose"):
            with application.uow() as uow:
                order = views.readable_order(uow, order_id, user)
                shipment_id = msc_service.order_shipment(uow, order).id
        application.bus.handle(_action(action, order_id, form, shipment_id), actor=user)
    except DomainError as exc:
        return see_other(request, back, error=exc.message)
    return see_other(request, back, done=_DONE.get(action, action))


_DONE = {"logger": "logger data imported", "dispose": "excursion disposed"}
