"""The home page (the signed-in user's work queue; for visitors, what veinline is), the
product catalogue and the sites (open to everyone)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.domain.user import Role
from veinline.entrypoints.http.deps import AppDep, OptionalUser
from veinline.entrypoints.http.templates import pager, render
from veinline.entrypoints.views import catalogue, work
from veinline.services import authority
from veinline.services.authority import Read

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, application: AppDep, user: OptionalUser, page: int = 1) -> Response:
    queue = None
    users: int | None = None
    with application.uow() as uow:
        products = catalogue.product_summaries(uow)
        site_list = catalogue.sites(uow)
        if user is not None:
            queue = work.work_queue(uow, user, application.clock(), page=page)
            users = len(uow.users.list()) if user.role is Role.ADMIN else None
    if queue is None or user is None:
        return render(request, "home.html", products=products, sites=site_list)
    # "Since" in the reader's own local time (their site's zone; UTC for a user of no
    # site), as the rest of their day reads (docs/architecture.md, "Local time").
    zones = {str(s["code"]): str(s["timezone"]) for s in site_list}
    return render(
        request,
        "work.html",
        user=user,
        user_zone=zones.get(user.site_code or "", "UTC"),
        queue=queue,
        pager=pager("/", {}, queue["page"], queue["pages"]),
        products=products,
        sites=site_list,
        user_count=users,
        can_ledger=authority.may(user, Read.LEDGER),
        can_plan=authority.may(user, Read.PLAN),
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalogue_page(request: Request, application: AppDep) -> Response:
    with application.uow() as uow:
        products = catalogue.product_summaries(uow)
    return render(request, "catalog.html", products=products)


@router.get("/catalog/{code}", response_class=HTMLResponse)
def product(request: Request, code: str, application: AppDep) -> Response:
    with application.uow() as uow:
        detail = catalogue.product_detail(uow, code)
    return render(request, "product.html", **detail)


@router.get("/sites", response_class=HTMLResponse)
def sites(request: Request, application: AppDep) -> Response:
    with application.uow() as uow:
        site_list = catalogue.sites(uow)
    return render(request, "sites.html", sites=site_list)
