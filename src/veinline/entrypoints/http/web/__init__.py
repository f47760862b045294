"""The web pages: server-rendered HTML (Jinja2), one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from veinline.entrypoints.http.web import (
    auth,
    cases,
    catalogue,
    ledger,
    manufacturing,
    planning,
    trials,
)

router = APIRouter(include_in_schema=False)
for area in (catalogue, auth, ledger, cases, trials, manufacturing, planning):
    router.include_router(area.router)
