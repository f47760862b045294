"""The JSON API under /api/v1 (FastAPI) and, in the same process, the web pages."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

import veinline
from veinline.bootstrap import App
from veinline.domain import isbt128
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotAuthenticated,
    NotFound,
)
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.infusion import InfusionRefused
from veinline.domain.signature import Meaning
from veinline.domain.user import Role, User
from veinline.entrypoints import case_actions, views
from veinline.entrypoints.api_manufacturing import manufacturing_router
from veinline.services import auth, authority, commands, ledger

SESSION_COOKIE = "veinline_session"

STATUS_FOR: dict[type[DomainError], int] = {
    IdentityMismatch: 409,
    InfusionRefused: 409,
    InvalidInput: 422,
    NotFound: 404,
    NotAuthenticated: 401,
    NotAllowed: 403,
    Conflict: 409,
}


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS_FOR.items():
        if isinstance(exc, cls):
            return status
    return 400


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    username: str
    role: str


class ValidateIn(BaseModel):
    text: str = Field(description="A DIN followed by its check character (14 characters).")


class ParseIn(BaseModel):
    data: str = Field(description="ISBT 128 barcode data, e.g. '=A99992112345600'.")


class IssueIn(BaseModel):
    kind: IdentifierKind
    fin: str = Field(min_length=5, max_length=5)
    purpose: str


class ProductChangeIn(BaseModel):
    field: str
    value: str
    reason: str


class SignIn(BaseModel):
    entity_type: str
    entity_id: str
    meaning: Meaning
    username: str = Field(description="The signer's user name, re-entered (11.200).")
    password: str
    reason: str = ""


class EnrolIn(BaseModel):
    product_code: str
    jurisdiction: str
    treatment_site: str
    patient_name: str
    wristband_id: str
    treating_physician: str
    consent_given: bool
    consent_date: str
    consent_form: str = ""
    patient_facts: dict[str, Any]


class EligibilityIn(BaseModel):
    product: str
    jurisdiction: str
    patient: dict[str, Any]


class ScanIn(BaseModel):
    case_id: str
    point: str
    data: str = Field(description="The scanned barcode data (ISBT 128).")
    site_code: str | None = None


class LoggerIn(BaseModel):
    csv: str = Field(description="The logger file: timestamp, °C per line.")
    timezone: str = "UTC"


class DispositionIn(BaseModel):
    decision: str = Field(description="accept or reject")
    reason: str


class AssessmentIn(BaseModel):
    kind: str = Field(description="crs, icans, agvhd, recist, imwg or survival")
    assessed_on: str = Field(description="Date of the assessment, YYYY-MM-DD")
    inputs: dict[str, Any]


class UserIn(BaseModel):
    username: str
    printed_name: str
    role: Role
    site_code: str | None = None
    password: str


def create_app(application: App) -> FastAPI:
    """The ASGI app for one bootstrapped veinline."""
    api = FastAPI(
        title="veinline",
        version=getattr(veinline, "__version__", "0.1.0"),
        description="Vein-to-vein orchestration of cell therapies.",
        openapi_url="/api/v1/openapi.json",
        # The interactive docs load scripts from a CDN; there is no internet at run time.
        docs_url=None,
        redoc_url=None,
    )
    api.state.veinline = application

    @api.exception_handler(DomainError)
    async def _refused(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=status_for(exc), content={"error": exc.code, "message": exc.message}
        )

    api.include_router(_api_router(application), prefix="/api/v1")

    from veinline.entrypoints import web

    api.include_router(web.router(application))
    static = resources.files("veinline.entrypoints") / "static"
    api.mount("/static", StaticFiles(directory=str(static)), name="static")
    return api


def current_user_from(application: App, authorization: str | None, cookie: str | None) -> User:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    elif cookie:
        token = cookie
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer TOKEN'")
    user = auth.user_for_token(application.uow(), token, clock=application.clock)
    if user is None:
        raise NotAuthenticated("the token is unknown or has expired: sign in again")
    return user


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    application: App = request.app.state.veinline
    return current_user_from(application, authorization, request.cookies.get(SESSION_COOKIE))


Actor = Annotated[User, Depends(current_user)]


def _api_router(application: App) -> APIRouter:
    router = APIRouter()

    @router.post("/auth/token", response_model=TokenOut, tags=["auth"])
    def sign_in(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> TokenOut:
        """Exchange a user name and password for an API token."""
        user = auth.authenticate(application.uow(), username, password, hasher=application.hasher)
        token = auth.issue_token(application.uow(), user, kind="api", clock=application.clock)
        return TokenOut(access_token=token, username=user.username, role=user.role.value)

    @router.get("/me", tags=["auth"])
    def me(actor: Actor) -> dict[str, Any]:
        return actor.snapshot()

    @router.get("/catalog/products", tags=["catalogue"])
    def list_products() -> list[dict[str, Any]]:
        with application.uow() as uow:
            return views.product_summaries(uow)

    @router.get("/catalog/products/{code}", tags=["catalogue"])
    def show_product(code: str) -> dict[str, Any]:
        with application.uow() as uow:
            return views.product_detail(uow, code)

    @router.patch("/catalog/products/{code}", tags=["catalogue"])
    def change_product(code: str, body: ProductChangeIn, actor: Actor) -> dict[str, Any]:
        product = application.bus.handle(
            commands.SetProductField(
                code=code, field=body.field, value=body.value, reason=body.reason
            ),
            actor=actor,
        )
        return dict(product.snapshot())

    @router.get("/catalog/sites", tags=["catalogue"])
    def list_sites() -> list[dict[str, Any]]:
        with application.uow() as uow:
            return views.sites(uow)

    @router.get("/isbt/check-character/{din}", tags=["isbt128"])
    def check_character(din: str) -> dict[str, str]:
        """The MOD 37-2 check character of a 13-character DIN."""
        return {"din": din, "check_character": isbt128.check_character(din)}

    @router.post("/isbt/validate", tags=["isbt128"])
    def validate(body: ValidateIn) -> dict[str, Any]:
        valid = isbt128.validate_with_check(body.text)
        result: dict[str, Any] = {"text": body.text, "valid": valid}
        if not valid:
            result["expected_check_character"] = isbt128.check_character(body.text[:13])
        return result

    @router.post("/isbt/parse", tags=["isbt128"])
    def parse(body: ParseIn) -> list[dict[str, Any]]:
        return [s.to_dict() for s in isbt128.parse(body.data)]

    @router.post("/identifiers", status_code=201, tags=["identifiers"])
    def issue(body: IssueIn, actor: Actor) -> dict[str, Any]:
        issued = application.bus.handle(
            commands.IssueIdentifier(kind=body.kind, fin=body.fin.upper(), purpose=body.purpose),
            actor=actor,
        )
        data = dict(issued.snapshot())
        data["barcode_data"] = issued.barcode_data
        return data

    @router.get("/ledger/verify", tags=["ledger"])
    def verify(actor: Actor) -> dict[str, Any]:
        authority.require_read(actor, authority.Read.LEDGER)
        report = ledger.verify(application.uow())
        return {
            "ok": report.ok,
            "entries_checked": report.entries_checked,
            "records_checked": report.records_checked,
            "first_break": (
                {
                    "seq": report.breaks[0].seq,
                    "entity": report.breaks[0].entity,
                    "message": report.breaks[0].message,
                }
                if report.breaks
                else None
            ),
        }

    @router.get("/ledger/history/{entity_id:path}", tags=["ledger"])
    def history(entity_id: str, actor: Actor) -> list[dict[str, Any]]:
        entries = ledger.history(application.uow(), entity_id, actor=actor)
        if not entries:
            raise NotFound(f"the ledger has no entries for {entity_id}")
        return [views.entry_view(e) for e in entries]

    @router.post("/signatures", status_code=201, tags=["ledger"])
    def sign(body: SignIn, actor: Actor) -> dict[str, Any]:
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
        return views.entry_view(entry)

    @router.post("/eligibility/check", tags=["journey"])
    def eligibility_check(body: EligibilityIn) -> dict[str, Any]:
        """Eligible true, false or null (undetermined: a needed fact is missing)."""
        from veinline.domain import eligibility

        with application.uow() as uow:
            product = uow.products.get(body.product)
            if product is None:
                raise NotFound(f"there is no product {body.product!r} in the catalogue")
            facts = eligibility.parse_patient(body.patient, today=application.clock().date())
            auths = uow.authorisations.find(product_code=body.product)
            return eligibility.evaluate(product, auths, body.jurisdiction.upper(), facts).to_dict()

    @router.get("/cases", tags=["journey"])
    def case_board(actor: Actor) -> list[dict[str, Any]]:
        with application.uow() as uow:
            return views.case_board(uow, actor)

    @router.post("/cases", status_code=201, tags=["journey"])
    def enrol(body: EnrolIn, actor: Actor) -> dict[str, Any]:
        case = application.bus.handle(commands.EnrolPatient(**body.model_dump()), actor=actor)
        return views.case_view(case, actor)

    @router.get("/cases/{case_id}", tags=["journey"])
    def case_detail(case_id: str, actor: Actor) -> dict[str, Any]:
        with application.uow() as uow:
            return views.case_detail(uow, case_id, actor, today=application.clock().date())

    @router.post("/cases/{case_id}/actions/{action}", tags=["journey"])
    def case_action(
        case_id: str, action: str, actor: Actor, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Fire one action of the case's state table (see the case's `actions`)."""
        case = application.bus.handle(case_actions.build(action, case_id, body or {}), actor=actor)
        return views.case_view(case, actor)

    @router.get("/cases/{case_id}/labels/{item}", tags=["journey"], response_class=Response)
    def labels(case_id: str, item: str, actor: Actor) -> Response:
        """Labels as PDF: apheresis_bag, product_bag (or product_bag:N), shipper."""
        from veinline.adapters.pdf_labels import render_labels
        from veinline.services.labels import labels_for

        with application.uow() as uow:
            pdf = render_labels(labels_for(uow, case_id, item))
        filename = f"{case_id}-{item.replace(':', '-')}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    @router.post("/grade/{kind}", tags=["follow-up"])
    def grade(kind: str, findings: dict[str, Any]) -> dict[str, Any]:
        """Grade findings (CRS, ICANS, MAGIC aGVHD, RECIST 1.1, IMWG) with the reasons."""
        from veinline.domain.grading import grade as grade_findings

        return grade_findings(kind, findings)

    @router.post("/cases/{case_id}/assessments", status_code=201, tags=["follow-up"])
    def record_assessment(case_id: str, body: AssessmentIn, actor: Actor) -> dict[str, Any]:
        record = application.bus.handle(
            commands.RecordAssessment(
                case_id=case_id, kind=body.kind, assessed_on=body.assessed_on, inputs=body.inputs
            ),
            actor=actor,
        )
        return {**record.snapshot(), "summary": record.summary}

    @router.get("/cases/{case_id}/fhir", tags=["follow-up"])
    def fhir_export(case_id: str, actor: Actor) -> dict[str, Any]:
        """The case as a pseudonymous FHIR R4 Bundle (no name, no wristband)."""
        authority.require_read(actor, authority.Read.LEDGER)
        with application.uow() as uow:
            return views.fhir_bundle(uow, case_id, exported_at=application.clock().isoformat())

    def _trial_report(trial_id: str) -> Any:
        from veinline.adapters.trial_report import build_report
        from veinline.services.trials import trial_data

        with application.uow() as uow:
            data = trial_data(uow, trial_id, as_of=application.clock().date())
        return build_report(data.trial, data.outcomes, as_of=data.data_cutoff)

    @router.get("/trials", tags=["trials"])
    def list_trials(actor: Actor) -> list[dict[str, Any]]:
        with application.uow() as uow:
            return [t.snapshot() for t in uow.trials.list()]

    @router.get("/trials/{trial_id}/report", tags=["trials"])
    def trial_report(trial_id: str, actor: Actor) -> dict[str, Any]:
        """ORR, DCR, CR rate with exact 95% CIs; KM medians; vein-to-vein; toxicity."""
        result: dict[str, Any] = _trial_report(trial_id).to_dict()
        return result

    @router.get("/trials/{trial_id}/report.pdf", tags=["trials"], response_class=Response)
    def trial_report_pdf(trial_id: str, actor: Actor) -> Response:
        from veinline.adapters.trial_report import render_pdf

        return Response(
            render_pdf(_trial_report(trial_id)),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{trial_id}-report.pdf"'},
        )

    @router.get("/trials/{trial_id}/summary.csv", tags=["trials"], response_class=Response)
    def trial_summary_csv(trial_id: str, actor: Actor) -> Response:
        import csv
        import io

        from veinline.adapters.trial_report import summary_rows

        rows = summary_rows(_trial_report(trial_id))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        return Response(buffer.getvalue(), media_type="text/csv")

    @router.post("/custody/scans", status_code=201, tags=["journey"])
    def scan(body: ScanIn, actor: Actor) -> dict[str, Any]:
        """A hand-off; a mismatch is refused (409) and kept as an identity incident."""
        event = application.bus.handle(commands.ScanCustody(**body.model_dump()), actor=actor)
        return dict(event.snapshot())

    @router.post("/shipments/{shipment_id}/logger", tags=["journey"])
    def logger(shipment_id: str, body: LoggerIn, actor: Actor) -> dict[str, Any]:
        shipment = application.bus.handle(
            commands.ImportLoggerData(
                shipment_id=shipment_id, csv_text=body.csv, timezone=body.timezone
            ),
            actor=actor,
        )
        return {**shipment.snapshot(), "blocked": shipment.blocked}

    @router.post("/shipments/{shipment_id}/disposition", tags=["journey"])
    def disposition(shipment_id: str, body: DispositionIn, actor: Actor) -> dict[str, Any]:
        shipment = application.bus.handle(
            commands.DisposeExcursion(
                shipment_id=shipment_id, decision=body.decision, reason=body.reason
            ),
            actor=actor,
        )
        return {**shipment.snapshot(), "blocked": shipment.blocked}

    @router.post("/users", status_code=201, tags=["users"])
    def create_user(body: UserIn, actor: Actor) -> dict[str, Any]:
        user = application.bus.handle(
            commands.CreateUser(
                username=body.username,
                printed_name=body.printed_name,
                role=body.role,
                site_code=body.site_code,
                password=body.password,
            ),
            actor=actor,
        )
        return dict(user.snapshot())

    router.include_router(manufacturing_router(application, current_user))
    return router
