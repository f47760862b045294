"""The home page, the product catalogue and the sites (open to everyone)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.entrypoints.http.deps import AppDep
from veinline.entrypoints.http.templates import render
from veinline.entrypoints.views import catalogue

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, application: AppDep) -> Response:
    with application.uow() as uow:
        products = catalogue.product_summaries(uow)
        site_list = catalogue.sites(uow)
    return render(request, "home.html", products=products, sites=site_list)


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
