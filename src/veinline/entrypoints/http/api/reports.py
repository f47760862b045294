"""Reports: counts over the network's records, without patient data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views.bookings import booking_report

router = APIRouter()


@router.get("/reports/bookings", tags=["reports"], responses=refusals(401, 403, 422))
def bookings(actor: Actor, application: AppDep) -> dict[str, Any]:
    """Apheresis bookings: first bookings, reschedules by coded reason, back-entries, and
    both per apheresis unit."""
    return booking_report(application.uow(), actor)
