"""API of ISBT 128 (check characters, validation, parsing) and issued identifiers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from veinline.domain import isbt128
from veinline.domain.identifiers import IdentifierKind
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.services import commands

router = APIRouter()


class ValidateIn(BaseModel):
    text: str = Field(description="A DIN followed by its check character (14 characters).")


class ParseIn(BaseModel):
    data: str = Field(description="ISBT 128 barcode data, e.g. '=A99992112345600'.")


class IssueIn(BaseModel):
    kind: IdentifierKind
    fin: str = Field(min_length=5, max_length=5)
    purpose: str


@router.get("/isbt/check-character/{din}", tags=["isbt128"], responses=refusals(404, 422))
def check_character(din: str) -> dict[str, str]:
    """The MOD 37-2 check character of a 13-character DIN."""
    return {"din": din, "check_character": isbt128.check_character(din)}


@router.post("/isbt/validate", tags=["isbt128"], responses=refusals(413, 422))
def validate(body: ValidateIn) -> dict[str, Any]:
    valid = isbt128.validate_with_check(body.text)
    result: dict[str, Any] = {"text": body.text, "valid": valid}
    if not valid:
        result["expected_check_character"] = isbt128.check_character(body.text[:13])
    return result


@router.post("/isbt/parse", tags=["isbt128"], responses=refusals(413, 422))
def parse(body: ParseIn) -> list[dict[str, Any]]:
    return [s.to_dict() for s in isbt128.parse(body.data)]


@router.post(
    "/identifiers",
    status_code=201,
    tags=["identifiers"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def issue(body: IssueIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    issued = application.bus.handle(
        commands.IssueIdentifier(kind=body.kind, fin=body.fin.upper(), purpose=body.purpose),
        actor=actor,
    )
    data = dict(issued.snapshot())
    data["barcode_data"] = issued.barcode_data
    return data
