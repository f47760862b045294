"""API of the ledger: verify it, its last verification, a record's history, electronic
signatures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from veinline.domain.errors import NotFound
from veinline.domain.job import JobKind
from veinline.domain.signature import Meaning
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views.ledger import checkpoint_view, entry_view, ledger_page_view
from veinline.services import authority, commands, ledger
from veinline.services.unit_of_work import MAX_PAGE_SIZE, PAGE_SIZE, LedgerQuery

router = APIRouter()


class SignIn(BaseModel):
    entity_type: str
    entity_id: str
    meaning: Meaning
    username: str = Field(description="The signer's user name, re-entered (11.200).")
    password: str
    reason: str = ""


@router.get("/ledger/checkpoint", tags=["ledger"], responses=refusals(401, 403, 404, 422))
def checkpoint(actor: Actor, application: AppDep) -> dict[str, Any]:
    """The last verification's result (the newest checkpoint); verifies nothing."""
    found = ledger.last_checkpoint(application.uow(), actor=actor)
    if found is None:
        raise NotFound("the ledger has not been verified yet: POST /api/v1/ledger/verify")
    return checkpoint_view(found)


@router.post(
    "/ledger/verify",
    tags=["ledger"],
    responses={202: {"description": "The verification runs as a job."}, **refusals(401, 403, 422)},
)
def verify(
    actor: Actor,
    application: AppDep,
    response: Response,
    full: Annotated[
        bool,
        Query(
            description="Walk the whole chain, not only what is new since the last good checkpoint."
        ),
    ] = False,
) -> dict[str, Any]:
    """Verify the ledger and record the result as a checkpoint.

    A routine check with at most 20,000 new entries to walk runs now: 200 with the
    checkpoint (`ok` false and `first_break` naming the first break when it does not
    verify). A full verification, or a routine one with more to walk, runs as a job:
    202 with the job and `Location: /api/v1/jobs/{id}`, whose `result` is the same
    checkpoint once done (a verification already queued or running is that job)."""
    authority.require_read(actor, authority.Read.LEDGER)
    if not ledger.fits_a_request(application.uow(), full=full):
        job = application.jobs.submit(JobKind.LEDGER_VERIFY, {"full": full}, actor=actor)
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/jobs/{job.id}"
        return job.to_dict()
    found, report = ledger.check(application.uow(), actor=actor)
    return {**checkpoint_view(found), "first_break": ledger.outcome(found, report)["first_break"]}


@router.get("/ledger/entries", tags=["ledger"], responses=refusals(401, 403, 422))
def entries(
    actor: Actor,
    application: AppDep,
    entity_type: Annotated[
        str, Query(max_length=40, description="Record type: case, batch, …")
    ] = "",
    entity_id: Annotated[str, Query(max_length=120, description="Record id.")] = "",
    actor_name: Annotated[
        str, Query(alias="actor", max_length=64, description="The user name who acted.")
    ] = "",
    action: Annotated[
        str, Query(max_length=80, description="An action code: case.enrolled, …")
    ] = "",
    since: Annotated[
        str, Query(alias="from", max_length=10, description="First day (UTC), YYYY-MM-DD.")
    ] = "",
    until: Annotated[
        str, Query(alias="to", max_length=10, description="Last day (UTC), YYYY-MM-DD.")
    ] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> dict[str, Any]:
    """Ledger entries, newest first, one page at a time, filtered by record, actor, action
    and date range: `entries`, `total`, `page` of `pages`."""
    query = LedgerQuery(
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor_name,
        action=action,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return ledger_page_view(*ledger.page(application.uow(), query, actor=actor), query)


@router.get(
    "/ledger/history/{entity_id:path}", tags=["ledger"], responses=refusals(401, 403, 404, 422)
)
def history(entity_id: str, actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    entries = ledger.history(application.uow(), entity_id, actor=actor)
    if not entries:
        raise NotFound(f"the ledger has no entries for {entity_id}")
    return [entry_view(e) for e in entries]


@router.post(
    "/signatures",
    status_code=201,
    tags=["ledger"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def sign(body: SignIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    """Sign a record: the signer's user name and password, every time (Part 11)."""
    entry = application.bus.handle(
        commands.SignRecord(
            entity_type=body.entity_type,
            entity_id=body.entity_id,
            meaning=body.meaning,
            username=body.username,
            password=body.password,
            reason=body.reason,
        ),
        actor=actor,
    )
    return entry_view(entry)
