"""Read models of cases: as a viewer may see them, the board, one case, its FHIR export.

JSON-ready dicts shared by the CLI, the API and the web pages (docs/architecture.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from veinline.domain.case import Case, CaseState, local_date
from veinline.domain.catalog import Product
from veinline.domain.errors import InvalidInput, NotAllowed, NotFound
from veinline.domain.user import User
from veinline.entrypoints.views.ledger import entry_view
from veinline.services import authority, places
from veinline.services.authority import DataClass, Read, Where
from veinline.services.unit_of_work import AbstractUnitOfWork, CaseQuery

REDACTED = "(hidden: identifiers only)"


def case_view(case: Case, viewer: User) -> dict[str, Any]:
    """A case as this viewer may see it: manufacturing, QC and couriers never see the name."""
    data = case.snapshot()
    data["state_label"] = case.state.label
    data["state_colour"] = case.state.colour
    full_data = authority.sees(viewer, Read.CASE, Where.of_case(case)) is DataClass.FULL
    data["patient"] = case.patient_label(full_data=full_data)
    data["din"] = case.current_din
    data["actions"] = [a.value for a in authority.case_actions(viewer, case)]
    if not full_data:
        data["patient_name"] = REDACTED
        data["wristband_id"] = REDACTED
        if data.get("infusion", {}).get("wristband_id"):
            data["infusion"]["wristband_id"] = REDACTED
        data["patient_facts"] = {}
        data["eligibility"] = {"eligible": case.eligibility.get("eligible")}
    return data


def readable_case(uow: AbstractUnitOfWork, case_id: str, viewer: User) -> Case:
    """One case, if it exists and this viewer may read it (their sites' cases only)."""
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    authority.require_read(viewer, Read.CASE, Where.of_case(case))
    return case


def cases_with_wristband(
    uow: AbstractUnitOfWork, wristband_id: str, viewer: User
) -> list[dict[str, Any]]:
    """The cases of the patient wearing this wristband that the viewer sees in full
    (found by the wristband's keyed hash; the sealed value is never searched)."""
    authority.require_read(viewer, Read.CASE)
    return [
        case_view(case, viewer)
        for case in uow.cases_with_wristband(wristband_id)
        if authority.sees(viewer, Read.CASE, Where.of_case(case)) is DataClass.FULL
    ]


def case_board(
    uow: AbstractUnitOfWork, viewer: User, query: CaseQuery | None = None
) -> dict[str, Any]:
    """One page of the cases of the viewer's sites that match the search and filters,
    grouped by state in journey order, with how many match in all and per state
    (docs/architecture.md, "Search and lists")."""
    query = query or CaseQuery()
    authority.require_read(viewer, Read.CASE)
    if query.state and query.state not in {s.value for s in CaseState}:
        known = ", ".join(s.value for s in CaseState)
        raise InvalidInput(f"there is no case state {query.state!r}: one of {known}")
    shown, full = authority.reach(viewer, Read.CASE)
    found = uow.find_cases(query, shown, full)
    by_state: dict[CaseState, list[dict[str, Any]]] = {s: [] for s in CaseState}
    for case in found.cases:
        by_state[case.state].append(case_view(case, viewer))
    return {
        "columns": [
            {
                "state": s.value,
                "label": s.label,
                "colour": s.colour,
                "count": found.by_state.get(s.value, 0),
                "cases": by_state[s],
            }
            for s in CaseState
        ],
        "total": found.total,
        "page": found.page,
        "pages": found.pages,
        "page_size": found.page_size,
        "query": {
            "q": query.text,
            "product": query.product,
            "state": query.state,
            "site": query.site,
        },
        # Whether a wristband or a name may be searched by this viewer (somewhere).
        "searches_patients": not full.nowhere,
    }


# Histories on a case read (custody events, incidents, assessments, ledger entries) come
# a page at a time, newest first, so any case reads in the same few queries and stays
# small (docs/architecture.md, "Read models").
HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 200
MAX_HISTORY_PAGE = 10_000


def history_page(page: int, limit: int) -> tuple[int, int]:
    """(limit, offset) of a history page, or InvalidInput saying the bounds."""
    if not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise InvalidInput(f"history limit must be 1 to {MAX_HISTORY_LIMIT}, not {limit}")
    if not 1 <= page <= MAX_HISTORY_PAGE:
        raise InvalidInput(f"history page must be 1 to {MAX_HISTORY_PAGE:,}, not {page}")
    return limit, (page - 1) * limit


def _newest(records: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The page (read with one more than `limit`) and whether older ones remain."""
    return records[:limit], len(records) > limit


def case_detail(
    uow: AbstractUnitOfWork,
    case_id: str,
    viewer: User,
    *,
    now: datetime,
    page: int = 1,
    limit: int = HISTORY_LIMIT,
) -> dict[str, Any]:
    """The case with its shipments and one page of each history, newest first: custody
    events, incidents, assessments and (if allowed) ledger entries; `history` says which
    page and whether older entries remain. Follow-up visits are due by the treatment
    centre's local dates. A fixed number of queries, however long the histories."""
    size, offset = history_page(page, limit)
    case = readable_case(uow, case_id, viewer)
    centre = uow.sites.get(case.treatment_site)
    zone = centre.timezone if centre is not None else "UTC"
    full_data = authority.sees(viewer, Read.CASE, Where.of_case(case)) is DataClass.FULL
    product = uow.products.get(case.product_code)
    events, older_events = _newest(uow.custody_events.page(size + 1, offset, case_id=case.id), size)
    shipments = uow.shipments.find(case_id=case.id)
    incidents, older_incidents = _newest(
        uow.incidents.page(size + 1, offset, case_id=case.id), size
    )
    assessments: list[Any] = []
    older_assessments = False
    if full_data:
        assessments, older_assessments = _newest(
            uow.assessments.page(size + 1, offset, case_id=case.id), size
        )
    entries: list[dict[str, Any]] = []
    older_entries = False
    if authority.may(viewer, authority.Read.LEDGER):
        identifiers = [case.coi, *(c.din for c in case.collections)]
        found, older_entries = _newest(
            uow.ledger.of_case(case.id, identifiers, limit=size + 1, offset=offset), size
        )
        entries = [entry_view(e) for e in found]
    return {
        "case": case_view(case, viewer),
        "visits": _visits(uow, case, product, now, zone),
        "product": product.snapshot() if product else None,
        "custody": [
            {**_custody_view(e.snapshot(), full_data), "point_label": e.point.label} for e in events
        ],
        "shipments": [
            {
                **s.snapshot(),
                "blocked": s.blocked,
                "question": s.question,
                "shipper_label": s.shipper_type.label,
            }
            for s in shipments
        ],
        "incidents": [_incident_view(i.snapshot(), full_data) for i in incidents],
        "assessments": [
            {**a.snapshot(), "kind_label": a.kind.label, "summary": a.summary} for a in assessments
        ],
        "ledger": entries,
        "history": {
            "page": page,
            "limit": size,
            "newest_first": True,
            "older": {
                "custody": older_events,
                "incidents": older_incidents,
                "assessments": older_assessments,
                "ledger": older_entries,
            },
        },
    }


READINGS_LIMIT = 200
MAX_READINGS_LIMIT = 1000


def shipment_detail(
    uow: AbstractUnitOfWork,
    shipment_id: str,
    viewer: User,
    *,
    page: int = 1,
    limit: int = READINGS_LIMIT,
) -> dict[str, Any]:
    """One shipment as its case's (or MSC order's) readers may see it, with one page of
    its logger readings, newest first (a logger file can hold thousands): the shipment
    and its case, two queries, however many readings."""
    if not 1 <= limit <= MAX_READINGS_LIMIT:
        raise InvalidInput(f"readings limit must be 1 to {MAX_READINGS_LIMIT}, not {limit}")
    if not 1 <= page <= MAX_HISTORY_PAGE:
        raise InvalidInput(f"readings page must be 1 to {MAX_HISTORY_PAGE:,}, not {page}")
    size, offset = limit, (page - 1) * limit
    shipment = uow.shipments.get(shipment_id)
    if shipment is None:
        raise NotFound(f"there is no shipment {shipment_id}")
    # Its case's sites (an MSC order's centre and depot for vials); the shipment just
    # read is not read again.
    authority.require_read(viewer, Read.SHIPMENT, places.shipment_where(uow, shipment_id))
    newest = shipment.readings[::-1]
    return {
        **shipment.snapshot(),
        "blocked": shipment.blocked,
        "question": shipment.question,
        "shipper_label": shipment.shipper_type.label,
        "readings": [{"at": at, "celsius": celsius} for at, celsius in newest[offset:][:size]],
        "readings_page": {
            "page": page,
            "limit": size,
            "newest_first": True,
            "older": len(newest) > offset + size,
        },
    }


def _custody_view(event: dict[str, Any], full_data: bool) -> dict[str, Any]:
    """A custody event; the wristband checked at the bedside for the care team only."""
    if not full_data and "wristband_id" in event["identifiers"]:
        event["identifiers"] = {**event["identifiers"], "wristband_id": REDACTED}
    return event


def _incident_view(incident: dict[str, Any], full_data: bool) -> dict[str, Any]:
    """A refused scan. What was scanned may be a wristband (always at the bedside): the
    care team sees it; others see the refusal without it."""
    if full_data:
        return incident
    scanned = str(incident["scan_data"])
    if scanned.strip():
        incident["message"] = str(incident["message"]).replace(scanned.strip(), "…")
    incident["scan_data"] = REDACTED
    return incident


def fhir_bundle(
    uow: AbstractUnitOfWork, case_id: str, viewer: User, *, exported_at: str
) -> dict[str, Any]:
    """A case as a pseudonymous FHIR R4 Bundle, with its follow-up (for its care team:
    the bundle carries the patient's facts and follow-up)."""
    from veinline.adapters.fhir import CaseExport, case_bundle

    case = readable_case(uow, case_id, viewer)
    if authority.sees(viewer, Read.CASE, Where.of_case(case)) is not DataClass.FULL:
        raise NotAllowed(
            f"{viewer.role.a_label} sees identifiers only: the FHIR export of case "
            f"{case.id} is for its care team"
        )
    product = uow.products.get(case.product_code)
    site = uow.sites.get(case.treatment_site)
    assert product is not None and site is not None
    toxicity, responses, events = [], [], []
    for a in uow.assessments.find(case_id=case.id):
        if a.kind.value in ("crs", "icans") and "grade" in a.result:
            toxicity.append(
                {
                    "kind": a.kind.value,
                    "date": a.assessed_on,
                    "grade": a.result["grade"],
                    "reasons": a.result["reasons"],
                }
            )
        elif a.kind.value in ("recist", "imwg") and "response" in a.result:
            responses.append(
                {"scale": a.kind.value, "date": a.assessed_on, "response": a.result["response"]}
            )
        elif a.kind.value == "adverse_event":
            events.append({**a.inputs, "onset": a.inputs.get("onset", a.assessed_on)})
    return case_bundle(
        CaseExport(
            case=case.snapshot(),
            product={
                "code": product.code,
                "name": product.display_name,
                "modality": product.modality.value,
                "storage_max_c": product.storage_max_c,
            },
            treatment_site={"code": site.code, "name": site.name, "country": site.country},
            toxicity=toxicity,
            responses=responses,
            adverse_events=events,
            exported_at=exported_at,
        )
    )


def _visits(
    uow: AbstractUnitOfWork, case: Case, product: Product | None, now: datetime, zone: str
) -> list[dict[str, Any]]:
    """The follow-up schedule with each visit's status, once the patient is infused, in the
    treatment centre's dates (docs/architecture.md, "Local time")."""
    from veinline.domain.followup import FollowUpSchedule

    if case.infusion is None or product is None:
        return []
    infused_on = local_date(case.infusion.infusion_started_at, zone)
    # Every day with an assessment, not only the page shown: one query for the dates.
    done = {date.fromisoformat(d) for d in uow.assessment_dates(case.id)}
    today = max(infused_on, local_date(now, zone))
    visits = FollowUpSchedule.for_modality(product.modality).visits_due(infused_on, done, today)
    return [
        {
            "id": v.id,
            "target": v.target.isoformat(),
            "status": v.status.value,
            "status_label": v.status.label,
            "colour": v.status.colour,
            "done_on": v.done_on.isoformat() if v.done_on else None,
        }
        for v in visits
        if v.status.value != "upcoming" or v.target <= today + timedelta(days=366)
    ][:40]
