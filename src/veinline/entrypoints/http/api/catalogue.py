"""API of the product catalogue and the sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.views import catalogue
from veinline.services import commands

router = APIRouter()


class ProductChangeIn(BaseModel):
    field: str
    value: str
    reason: str


@router.get("/catalog/products", tags=["catalogue"])
def list_products(application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return catalogue.product_summaries(uow)


@router.get("/catalog/products/{code}", tags=["catalogue"])
def show_product(code: str, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        return catalogue.product_detail(uow, code)


@router.patch("/catalog/products/{code}", tags=["catalogue"])
def change_product(
    code: str, body: ProductChangeIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    product = application.bus.handle(
        commands.SetProductField(code=code, field=body.field, value=body.value, reason=body.reason),
        actor=actor,
    )
    return dict(product.snapshot())


@router.get("/catalog/sites", tags=["catalogue"])
def list_sites(application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return catalogue.sites(uow)
