"""API of the product catalogue and the sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views import catalogue
from veinline.services import commands

router = APIRouter()


class ProductChangeIn(BaseModel):
    field: str
    value: str
    reason: str


@router.get("/catalog/products", tags=["catalogue"], responses=refusals(422))
def list_products(application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return catalogue.product_summaries(uow)


@router.get("/catalog/products/{code}", tags=["catalogue"], responses=refusals(404, 422))
def show_product(code: str, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        return catalogue.product_detail(uow, code)


@router.patch(
    "/catalog/products/{code}", tags=["catalogue"], responses=refusals(401, 403, 404, 409, 413, 422)
)
def change_product(
    code: str, body: ProductChangeIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    product = application.bus.handle(
        commands.SetProductField(code=code, field=body.field, value=body.value, reason=body.reason),
        actor=actor,
    )
    return dict(product.snapshot())


@router.get("/catalog/sites", tags=["catalogue"], responses=refusals(422))
def list_sites(application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return catalogue.sites(uow)
