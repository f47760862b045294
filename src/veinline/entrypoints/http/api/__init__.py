"""The JSON API under /api/v1: one router per area, module-level route functions."""

from __future__ import annotations

from fastapi import APIRouter

from veinline.entrypoints.http.api import (
    auth,
    cases,
    catalogue,
    followup,
    isbt,
    jobs,
    ledger,
    manufacturing,
    msc,
    reports,
    trials,
    work,
)

router = APIRouter()
for area in (
    auth,
    work,
    catalogue,
    isbt,
    ledger,
    cases,
    followup,
    trials,
    manufacturing,
    msc,
    reports,
    jobs,
):
    router.include_router(area.router)
