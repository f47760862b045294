"""The case pages: the board, enrolment, one case with its action forms, and the forms
a case page posts (actions, assessments, custody scans, logger files, dispositions).

A done form goes back to the case page with what was done, a refused scan, logger file,
disposition or assessment with why (the message rides in the session, never the address:
`templates.see_other`). A refused action form is answered with the case page itself,
the form filled in as it was sent (passwords never) and each refused check beside its
field, so nothing is typed or scanned twice at the bedside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from veinline.bootstrap import App
from veinline.domain import custody, eligibility
from veinline.domain.assessment import AssessmentKind
from veinline.domain.batch import BatchStatus
from veinline.domain.case import Case, CaseState, RescheduleReason, local_date, parse_zone
from veinline.domain.custody import CustodyPoint
from veinline.domain.errors import DomainError, InvalidInput
from veinline.domain.process import DocumentStatus
from veinline.domain.shipment import Shipment
from veinline.domain.user import Role, User
from veinline.entrypoints.http import actions, idempotent
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.errors import status_for
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import pager, render, see_other
from veinline.entrypoints.views import cases, catalogue
from veinline.services import authority, commands
from veinline.services.authority import Place, Where
from veinline.services.unit_of_work import AbstractUnitOfWork, CaseQuery

router = APIRouter(include_in_schema=False)


# Irreversible actions: styled as dangerous, offered last, and sent only with the
# form's own confirmation ticked (no script: the CSP forbids inline script).
DANGEROUS = frozenset({"cancel"})
CONFIRM_FIELD = "confirm"
# What is never put back into a form shown again.
_SECRET_FIELDS = frozenset({"password"})


def _back(request: Request, case_id: str, *, done: str = "", error: str = "") -> Response:
    return see_other(request, f"/cases/{quote(case_id)}", done=done, error=error)


def _submit(
    request: Request,
    application: App,
    case_id: str,
    user: User,
    make: Callable[[], commands.Command],
    done: str,
) -> Response:
    """Hand a form's command to the bus; back to the case page with what happened."""
    try:
        application.bus.handle(make(), actor=user)
    except DomainError as exc:
        return _back(request, case_id, error=exc.message)
    return _back(request, case_id, done=done)


@router.get("/cases", response_class=HTMLResponse)
def case_board(
    request: Request,
    user: WebUser,
    application: AppDep,
    q: str = "",
    product: str = "",
    state: str = "",
    site: str = "",
    page: int = 1,
) -> Response:
    query = CaseQuery(text=q, product=product, state=state, site=site, page=page)
    with application.uow() as uow:
        board = cases.case_board(uow, user, query)
        products = [
            p for p in catalogue.product_summaries(uow) if p["modality"] == "autologous_car_t"
        ]
        sites = catalogue.sites(uow)
    return render(
        request,
        "cases.html",
        user=user,
        board=board,
        products=products,
        sites=[s for s in sites if s["kind"] != "storage_depot"],
        states=[(s.value, s.label) for s in CaseState],
        pager=pager("/cases", board["query"], board["page"], board["pages"]),
        can_enrol=authority.may(user, commands.EnrolPatient),
    )


@router.get("/cases/new", response_class=HTMLResponse)
def enrol_page(
    request: Request,
    user: WebUser,
    application: AppDep,
    product_code: str = "",
    jurisdiction: str = "",
) -> Response:
    """The enrolment form: first the product and jurisdiction, then the patient's facts
    as fields generated from the criteria of that product's authorisations there."""
    form = {
        idempotent.FORM_TOKEN: idempotent.new_form_token(),
        "product_code": product_code,
        "jurisdiction": jurisdiction,
    }
    with application.uow() as uow:
        context = _enrol_context(uow, user, form)
    return render(request, "enrol.html", user=user, error=None, problems={}, form=form, **context)


@router.post("/cases/new")
async def enrol(request: Request, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        facts = _facts_of(form)
        _refuse_unanswered(application, user, form, facts)
        made = idempotent.once_from_form(
            request,
            application,
            user,
            form,
            commands.EnrolPatient(
                product_code=form.get("product_code", ""),
                jurisdiction=form.get("jurisdiction", ""),
                treatment_site=form.get("treatment_site", ""),
                patient_name=form.get("patient_name", ""),
                wristband_id=form.get("wristband_id", ""),
                treating_physician=form.get("treating_physician", ""),
                consent_given=form.get("consent_given") == "on",
                consent_date=form.get("consent_date", ""),
                consent_form=form.get("consent_form", ""),
                patient_facts=facts,
            ),
            location=lambda case: f"/cases/{quote(case.id)}",
        )
    except DomainError as exc:
        return _enrol_again(request, application, user, form, exc)
    # The same form sent twice made one case: the second submission lands on it.
    return see_other(
        request,
        made.location,
        done="already enrolled by this form" if made.repeated else "enrolled",
    )


FACT = "fact."
FINDING = "finding."
# The name of the assessment form among the refused forms a case page shows again.
ASSESS = "assess"


def finding_fields(kind: str) -> list[dict[str, Any]]:
    """The fields of a grading scale's findings for a form, an object's fields named
    `parent.child`; empty for a kind whose input is not declared field by field (lists
    of lesions or measurements: RECIST, IMWG; survival and adverse events), which the
    form takes as JSON."""
    from veinline.domain import grading

    if kind not in grading.KINDS:
        return []
    declared = grading.fields(kind)
    if any(f.type == "objects" for f in declared):
        return []
    shown: list[dict[str, Any]] = []
    for f in declared:
        for name, field in (
            [(f"{f.name}.{sub.name}", sub) for sub in f.fields]
            if f.type == "object"
            else [(f.name, f)]
        ):
            shown.append(
                {
                    "name": name,
                    "label": name.replace(".", ": ").replace("_", " "),
                    "type": field.type,
                    "unit": field.unit,
                    "choices": list(field.choices),
                    "required": f.required and field.required,
                    "needed": field.requirement(),
                    "description": field.description,
                    "range": field.range_text(),
                }
            )
    return shown


def _findings_of(form: dict[str, str]) -> dict[str, object]:
    """The findings from the form's fields (`finding.<name>`, ticked choices as
    `finding.<name>|<choice>`), or from its JSON box when it has no fields. A number
    that cannot be read is passed on as written, so that the scale's own check names it
    with every other problem at once."""
    if not any(k.startswith(FINDING) for k in form):
        return actions.json_object(form.get("inputs", ""), "the findings")
    by_name = {f["name"]: f for f in finding_fields(form.get("kind", ""))}
    findings: dict[str, object] = {}
    for name, field in by_name.items():
        if field["type"] == "texts":
            value: object = [c for c in field["choices"] if form.get(f"{FINDING}{name}|{c}")]
        else:
            raw = form.get(FINDING + name, "").strip()
            if not raw:
                continue
            if field["type"] == "boolean":
                value = raw == "yes"
            elif field["type"] in ("number", "integer"):
                try:
                    number = float(raw)
                    value = int(number) if number.is_integer() else number
                except ValueError:
                    value = raw
            else:
                value = raw
        parent, dot, child = name.partition(".")
        if dot:
            nested = findings.setdefault(parent, {})
            if isinstance(nested, dict):
                nested[child] = value
        else:
            findings[name] = value
    return findings


def _facts_of(form: dict[str, str]) -> dict[str, object]:
    """The patient's facts from the form's fact fields (`fact.<name>`, a choice among
    several as `fact.<name>.<choice>` ticked), over any given as JSON; every field that
    cannot be read is named at once."""
    facts: dict[str, object] = dict(
        actions.json_object(form.get("patient_facts", "") or "{}", "patient facts")
    )
    problems: dict[str, str] = {}
    ticked: dict[str, list[str]] = {}
    for key, raw in form.items():
        if not key.startswith(FACT):
            continue
        name, _, choice = key[len(FACT) :].partition("|")
        value = raw.strip()
        if choice:
            if value:
                ticked.setdefault(name, []).append(choice)
            continue
        if not value:
            continue
        kind = form.get(f"kind.{name}", "text")
        if kind == "number":
            try:
                number = float(value)
            except ValueError:
                problems[key] = f"a number, not {value!r}"
                continue
            facts[name] = int(number) if number.is_integer() else number
        elif kind == "yes_no":
            facts[name] = value == "yes"
        elif name.startswith("biomarkers."):
            facts.setdefault("biomarkers", {})
            biomarkers = facts["biomarkers"]
            if isinstance(biomarkers, dict):
                biomarkers[name.partition(".")[2]] = value
        else:
            facts[name] = value
    for name, choices in ticked.items():
        facts[name] = choices
    if problems:
        raise InvalidInput(
            "some facts cannot be read: "
            + "; ".join(f"{k[len(FACT) :]}: {v}" for k, v in problems.items()),
            fields=problems,
        )
    return facts


def _refuse_unanswered(
    application: App, user: User, form: dict[str, str], facts: dict[str, object]
) -> None:
    """The form asks for every fact the criteria read (each field `required`); a form
    sent without some (an old browser, a script) is refused naming all of them at once,
    before anything is recorded."""
    with application.uow() as uow:
        fields = _enrol_context(uow, user, dict(form))["fact_fields"]
    biomarkers = facts.get("biomarkers")
    missing = [
        f
        for f in fields
        if f.name not in facts
        and not (
            f.name.startswith("biomarkers.")
            and isinstance(biomarkers, dict)
            and f.name.partition(".")[2] in biomarkers
        )
        and not (f.name == "prior_therapy_classes" and "prior_therapies" in facts)
        and not (f.name == "age_years" and "birth_date" in facts)
    ]
    if missing:
        raise InvalidInput(
            "give every fact the criteria read: "
            + "; ".join(f"{f.label} ({f.name})" for f in missing),
            fields={f"fact.{f.name}": f"required: {'; '.join(f.why)}" for f in missing},
        )


def _enrol_again(
    request: Request, application: App, user: User, form: dict[str, str], refused: DomainError
) -> Response:
    with application.uow() as uow:
        context = _enrol_context(uow, user, form)
    return render(
        request,
        "enrol.html",
        status=422,
        user=user,
        error=refused.message,
        problems=dict(refused.fields),
        form=form,
        **context,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: str,
    user: WebUser,
    application: AppDep,
    history_page: Annotated[int, Query(ge=1, le=cases.MAX_HISTORY_PAGE)] = 1,
    assess: Annotated[str, Query(max_length=40, description="The assessment kind to fill.")] = "",
) -> Response:
    return _case_page(request, case_id, user, application, history_page=history_page, assess=assess)


def _case_page(
    request: Request,
    case_id: str,
    user: User,
    application: App,
    *,
    refused: DomainError | None = None,
    action: str = "",
    assess: str = "",
    sent: dict[str, str] | None = None,
    history_page: int = 1,
) -> Response:
    """The case page (one page of each history, newest first); after a refused action
    or assessment form, with that form as it was sent, the refusal beside it and its
    status."""
    with application.uow() as uow:
        detail = cases.case_detail(uow, case_id, user, now=application.clock(), page=history_page)
        sites = catalogue.sites(uow)
        case = cases.readable_case(uow, case_id, user)
        shipments = uow.shipments.find(case_id=case_id)
        # Only facilities with an approved process for the product are offered.
        makers = {
            t.site
            for t in uow.process_templates.find(product_code=case.product_code)
            if t.status is DocumentStatus.APPROVED
        }
    where = Where.of_case(case)
    offered = [s for s in sites if s["kind"] != "manufacturing_facility" or s["code"] in makers]
    zones = {str(s["code"]): str(s["timezone"]) for s in sites}
    case_zone = zones.get(case.treatment_site, "UTC")
    # Form defaults in the zone of the user's own site (the case's centre for network users).
    user_zone = zones.get(user.site_code or "", case_zone)
    now = application.clock()
    here = now.astimezone(parse_zone(user_zone))
    names = [a for a in detail["case"]["actions"] if a in actions.COMMAND_FOR_ACTION]
    if authority.may(user, commands.CorrectPatientName, where):
        # Not an arrow of the journey: the care team puts a misspelt name right at any
        # state, ledgered with a reason (docs/security.md, "Patient data at rest").
        names.append("correct_name")
    notes = []
    if "complete_manufacturing" in names and not _batch_finished(application, case):
        # Offered once every step of the batch record is signed (the bus checks again).
        names.remove("complete_manufacturing")
        notes.append(
            "Complete manufacturing is offered once every step of the batch record is "
            "signed and verified."
        )
    # Irreversible actions last.
    names.sort(key=lambda a: a in DANGEROUS)
    forms = [
        _action_form(
            a,
            user,
            sites if a == "correct_name" else offered,
            here,
            case,
            sent=sent if a == action else None,
            problems=_problems(refused) if a == action else None,
        )
        for a in names
    ]
    kinds = [k for k in AssessmentKind if authority.may(user, k, where)]
    points = authority.scan_points(user, case.state, where)
    can_assess = detail["case"]["state"] in ("infused", "follow_up") and bool(kinds)
    # The findings of the kind chosen (the first the user may record until they choose),
    # as fields from the scale's own declaration (domain/grading: what `grade KIND --help`
    # and the API's schema show); a kind without declared fields takes JSON.
    chosen = next((k for k in kinds if k.value == assess), kinds[0] if kinds else None)
    return render(
        request,
        "case.html",
        status=status_for(refused) if refused else 200,
        form_token=idempotent.new_form_token(),
        can_assess=can_assess,
        assess_kind=chosen.value if chosen else "",
        # A refused assessment's fields as they were sent, to fill its form again.
        assess_sent=sent if action == ASSESS and sent else {},
        finding_fields=finding_fields(chosen.value) if chosen else [],
        assessment_kinds=[(k.value, k.label) for k in kinds],
        today=local_date(now, case_zone).isoformat(),  # the centre's date
        zones=zones,
        case_zone=case_zone,
        user=user,
        error=refused.message if refused else None,
        refused_action=action if refused else "",
        action_notes=notes,
        forms=forms,
        scan_points=[{"value": p.value, "label": p.label} for p in points],
        scan_places=_scan_places(user, case, shipments, points, sites),
        can_dispose=authority.may(user, commands.DisposeExcursion, where),
        **detail,
    )


@router.post("/cases/{case_id}/actions/{action}")
async def case_action(
    request: Request, case_id: str, action: str, user: WebUser, application: AppDep
) -> Response:
    sent = await form_of(request)
    form = {k: v for k, v in sent.items() if v != "" and k != CONFIRM_FIELD}
    try:
        if action in DANGEROUS and sent.get(CONFIRM_FIELD) != "yes":
            raise InvalidInput(
                f"tick the box to confirm: {action.replace('_', ' ')} cannot be undone",
                fields={CONFIRM_FIELD: "tick to confirm: this cannot be undone"},
            )
        application.bus.handle(actions.build(action, case_id, form), actor=user)
    except DomainError as exc:
        return _case_page(
            request, case_id, user, application, refused=exc, action=action, sent=sent
        )
    return _back(request, case_id, done=action.replace("_", " "))


@router.post("/cases/{case_id}/assessments")
async def assess(request: Request, case_id: str, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    try:
        findings = _findings_of(form)
        made = idempotent.once_from_form(
            request,
            application,
            user,
            form,
            commands.RecordAssessment(
                case_id=case_id,
                kind=form.get("kind", ""),
                assessed_on=form.get("assessed_on", ""),
                inputs=findings,
            ),
            location=lambda record: f"/cases/{quote(case_id)}",
        )
    except DomainError as exc:
        kind = form.get("kind", "")
        return _case_page(
            request, case_id, user, application, refused=exc, action=ASSESS, assess=kind, sent=form
        )
    if made.repeated:
        return _back(request, case_id, done="already recorded: the form was sent twice")
    return _back(request, case_id, done=f"{made.result.kind.label}: {made.result.summary}")


@router.post("/cases/{case_id}/scan")
async def scan(request: Request, case_id: str, user: WebUser, application: AppDep) -> Response:
    form = await form_of(request)
    return _submit(
        request,
        application,
        case_id,
        user,
        lambda: commands.ScanCustody(
            case_id=case_id,
            point=form.get("point", ""),
            data=form.get("data", ""),
            site_code=form.get("site_code") or None,
        ),
        "scan recorded",
    )


@router.post("/shipments/{shipment_id}/logger")
async def logger(
    request: Request, shipment_id: str, user: WebUser, application: AppDep
) -> Response:
    async with request.form() as form:
        return await _import_log(request, application, form, user, shipment_id)


async def _import_log(
    request: Request, application: App, form: Any, user: User, shipment_id: str
) -> Response:
    upload = form.get("file")
    case_id = str(form.get("case_id", ""))
    if upload is None or isinstance(upload, str):
        return _back(request, case_id, error="choose the logger's CSV file")
    text = (await upload.read()).decode("utf-8", errors="replace")
    zone = str(form.get("timezone") or "UTC")
    return _submit(
        request,
        application,
        case_id,
        user,
        lambda: commands.ImportLoggerData(shipment_id=shipment_id, csv_text=text, timezone=zone),
        "logger data imported",
    )


@router.post("/shipments/{shipment_id}/disposition")
async def disposition(
    request: Request, shipment_id: str, user: WebUser, application: AppDep
) -> Response:
    form = await form_of(request)
    return _submit(
        request,
        application,
        form.get("case_id", ""),
        user,
        lambda: commands.DisposeExcursion(
            shipment_id=shipment_id,
            decision=form.get("decision", ""),
            reason=form.get("reason", ""),
            username=form.get("username", ""),
            password=form.get("password", ""),
        ),
        "excursion disposed",
    )


def _enrol_context(uow: AbstractUnitOfWork, user: User, form: dict[str, str]) -> dict[str, Any]:
    products = [p for p in catalogue.product_summaries(uow) if p["modality"] == "autologous_car_t"]
    # Only the treatment centres where this user enrols (services/authority.py).
    sites = [
        s
        for s in catalogue.sites(uow)
        if s["kind"] == "treatment_centre"
        and authority.may(
            user,
            commands.EnrolPatient,
            Where.at("a new case", Place.TREATMENT, s["code"]),
        )
    ]
    physicians = [u for u in uow.users.list() if u.role is Role.PHYSICIAN]
    # The facts asked for follow the product and jurisdiction chosen (the first ones
    # until the user chooses: the form has no script to change them as one picks).
    codes = [str(p["code"]) for p in products]
    product = form.get("product_code") or (codes[0] if codes else "")
    if product not in codes and codes:
        product = codes[0]
    form["product_code"] = product
    auths = uow.authorisations.find(product_code=product)
    jurisdictions = sorted({a.jurisdiction.upper() for a in auths})
    jurisdiction = (form.get("jurisdiction") or "").upper()
    if jurisdiction not in jurisdictions:
        jurisdiction = jurisdictions[0] if jurisdictions else jurisdiction
    form["jurisdiction"] = jurisdiction
    fields = eligibility.fact_fields([a for a in auths if a.jurisdiction.upper() == jurisdiction])
    return {
        "products": products,
        "jurisdictions": jurisdictions,
        "treatment_sites": sites,
        "physicians": physicians,
        "fact_fields": fields,
    }


def _scan_places(
    user: User,
    case: Case,
    shipments: list[Shipment],
    points: list[CustodyPoint],
    sites: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The places this user may record a hand-off at (the sites they scan at), the place
    where the first offered point's material is expected first and chosen."""
    if not points:
        return []
    point = points[0]
    leg = custody.POINTS[point].shipment_leg
    shipment = next((s for s in reversed(shipments) if s.leg.value == leg), None)
    expected = custody.expected_place(
        point,
        case,
        shipment_from=shipment.from_site if shipment else None,
        shipment_to=shipment.to_site if shipment else None,
    )
    names = {s["code"]: s["name"] for s in sites}
    mine = sorted(user.sites_as(frozenset().union(*(authority.rule_for(p).roles for p in points))))
    ordered = ([expected] if expected in mine else []) + [c for c in mine if c != expected]
    return [
        {"code": code, "name": names.get(code, code), "selected": code == expected}
        for code in ordered
    ]


def _batch_finished(application: App, case: Case) -> bool:
    """Whether every step of the case's batch is completed (the batch record is then
    complete, domain/batch.py)."""
    if not case.batch_id:
        return False
    with application.uow() as uow:
        batch = uow.batches.get(case.batch_id)
    return batch is not None and batch.status is BatchStatus.COMPLETED


def _problems(refused: DomainError | None) -> dict[str, str]:
    return dict(refused.fields) if refused else {}


def _action_form(
    action: str,
    user: User,
    sites: list[dict[str, Any]],
    now: datetime,
    case: Case,
    *,
    sent: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A form for one action, built from its command's fields, with sensible defaults;
    after a refusal, with what was sent (never a password) and each field's problem."""
    fields = []
    problems = problems or {}
    for name in actions.field_names(action):
        spec: dict[str, Any] = {
            "name": name,
            "label": name.replace("_", " "),
            "type": "text",
            "value": "",
            "options": None,
            "problem": problems.get(name, ""),
        }
        if name == "password":
            spec["type"] = "password"
        elif name == "username":
            spec["value"] = user.username
        elif name.endswith("_at"):
            spec["value"] = now.isoformat(timespec="minutes")
        elif name == "apheresis_date":
            spec["value"] = (now + timedelta(days=7)).date().isoformat()
        elif name in ("apheresis_site", "manufacturing_site"):
            kind = "apheresis_centre" if name == "apheresis_site" else "manufacturing_facility"
            spec["options"] = [(s["code"], s["name"]) for s in sites if s["kind"] == kind]
        elif name == "reschedule_reason":
            if case.state is not CaseState.APHERESIS_BOOKED:
                continue  # a first booking has nothing to reschedule
            spec["label"] = "reason for rescheduling"
            spec["options"] = [(r.value, r.label) for r in RescheduleReason]
        elif name == "note" and case.state is not CaseState.APHERESIS_BOOKED:
            continue
        elif name == "patient_facts":
            # The physician confirms the facts as enrolled (re-weighed against the
            # catalogue now) and changes only what is new; the form starts with them.
            spec["type"] = "textarea"
            spec["label"] = "patient facts (as enrolled; change what is new)"
            spec["value"] = json.dumps(case.patient_facts, ensure_ascii=False, indent=1)
        elif name == "planned":
            spec["type"] = "textarea"
        if sent is not None and name not in _SECRET_FIELDS and name in sent:
            spec["value"] = sent[name]
        fields.append(spec)
    return {
        "action": action,
        "label": action.replace("_", " ").capitalize(),
        "fields": fields,
        "danger": action in DANGEROUS,
        "confirm_problem": problems.get(CONFIRM_FIELD, ""),
        "kept": sent is not None,
        # A refusal about no field of the form is said at the top of the form too.
        "unplaced": sent is not None and not (set(problems) & {f["name"] for f in fields}),
    }
