"""The web pages: server-rendered HTML (Jinja2), one router per area."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from veinline.entrypoints.http.security import csrf_guard
from veinline.entrypoints.http.web import (
    auth,
    cases,
    catalogue,
    jobs,
    ledger,
    manufacturing,
    msc,
    msc_lots,
    planning,
    trials,
)

# Every page route, GET or not, passes the CSRF guard; it checks the ones that change.
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
for area in (catalogue, auth, ledger, cases, trials, manufacturing, planning, jobs, msc, msc_lots):
    router.include_router(area.router)
