"""The permission matrix: every role × site × record endpoint of the API, allowed and
refused as the authority table says, and which patient fields each reader sees.

Generated, not written out: the users are one per role at the Hong Kong demo sites (or
none, for the network roles); the records are a Hong Kong case (their own sites) and a
North Carolina case (another centre, another facility); the endpoints are the API's
routes that name a case, a batch or a shipment (the test fails if a new one is not in
`ENDPOINTS`); the expected answer of each request is `services.authority`'s, asked with
the record's sites. A refused request must be 403 with the table's own words; an allowed
one must never be refused by the table (it may still be refused by the record's state:
the records are past the point where most actions apply, so nothing changes hands).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from veinline.adapters.seed import DEMO_PASSWORD
from veinline.adapters.seed.cases import EQUE_CEL_HK, ZEVOR_CEL_US, Driver, Route, barcode
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.custody import CustodyPoint
from veinline.domain.errors import NotAllowed
from veinline.domain.user import Role, User
from veinline.entrypoints.http import actions
from veinline.entrypoints.http.app import create_app
from veinline.services import authority, commands
from veinline.services.authority import DataClass, Read, Where

# Where each role's matrix user works: the Hong Kong case's sites.
HOME: dict[Role, str | None] = {
    Role.COORDINATOR: "demo-hk-treatment",
    Role.PHYSICIAN: "demo-hk-treatment",
    Role.APHERESIS_NURSE: "demo-hk-apheresis",
    Role.COURIER: "demo-hk-treatment",
    Role.MANUFACTURING_OPERATOR: "demo-suzhou-manufacturing",
    Role.QC_ANALYST: "demo-suzhou-manufacturing",
    Role.QA_REVIEWER: "demo-suzhou-manufacturing",
    Role.PLANNER: None,
    Role.ADMIN: None,
}

ENDPOINTS = {
    "GET /api/v1/cases",
    "POST /api/v1/cases",
    "GET /api/v1/cases/{case_id}",
    "GET /api/v1/cases/{case_id}/fhir",
    "GET /api/v1/cases/{case_id}/labels/{item}",
    "POST /api/v1/cases/{case_id}/actions/{action}",
    "POST /api/v1/cases/{case_id}/assessments",
    "POST /api/v1/custody/scans",
    "GET /api/v1/shipments/{shipment_id}",
    "POST /api/v1/shipments/{shipment_id}/logger",
    "POST /api/v1/shipments/{shipment_id}/disposition",
    "GET /api/v1/batches",
    "GET /api/v1/batches/{batch_id}",
    "GET /api/v1/batches/{batch_id}/coa.pdf",
    "POST /api/v1/batches/{batch_id}/actions/{action}",
}
_RECORD_PARAMS = ("{case_id}", "{batch_id}", "{shipment_id}")


@dataclasses.dataclass
class World:
    client: TestClient
    app: App
    users: dict[Role, User]
    headers: dict[Role, dict[str, str]]
    cases: dict[str, Case]  # "own" (Hong Kong) and "other" (North Carolina)
    outcomes: list[tuple[Role, str, bool]] = dataclasses.field(default_factory=list)
    wrong: list[str] = dataclasses.field(default_factory=list)

    def where(self, which: str) -> Where:
        return Where.of_case(self.cases[which])

    def expect(
        self, label: str, role: Role, allowed: bool, status: int, body: Any, doing: str
    ) -> None:
        """An allowed request is never refused by the authority table; a refused one is
        403 with the table's words."""
        self.outcomes.append((role, label, allowed))
        message = body.get("message", "") if isinstance(body, dict) else ""
        by_table = status == 403 and (f"may not {doing}" in message or "does not" in message)
        if allowed and by_table:
            self.wrong.append(f"{role.value} {label}: allowed, but refused: {message}")
        if not allowed and not (status == 403 and message):
            self.wrong.append(f"{role.value} {label}: refused, but answered {status} {message}")


def _advance(driver: Driver, route: Route, wristband: str, target: CaseState) -> Case:
    case = driver.enrol(route, patient_name=f"PATIENT {wristband}", wristband=wristband)
    return driver.advance(case, route, target)


@pytest.fixture
def world(demo_app: App) -> Iterator[World]:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    # Released: a decided batch, shipments, labels; nothing is open but the product pickup.
    own = _advance(driver, EQUE_CEL_HK, "WB-HK-1", CaseState.RELEASED)
    other = _advance(driver, ZEVOR_CEL_US, "WB-US-1", CaseState.RELEASED)
    admin = demo_app.user("admin")
    for role, site in HOME.items():
        demo_app.bus.handle(
            commands.CreateUser(
                f"m.{role.value}", f"Matrix {role.label}", role, site, password=DEMO_PASSWORD
            ),
            actor=admin,
        )
    with TestClient(create_app(demo_app)) as client:
        headers = {}
        for role in Role:
            answer = client.post(
                "/api/v1/auth/token",
                data={"username": f"m.{role.value}", "password": DEMO_PASSWORD, "scope": "write"},
            )
            assert answer.status_code == 200, answer.text
            headers[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        yield World(
            client,
            demo_app,
            {role: demo_app.user(f"m.{role.value}") for role in Role},
            headers,
            {"own": own, "other": other},
        )


def _body(cls: type[commands.Command], key: str, user: User) -> dict[str, Any]:
    """The fields a command needs, filled with values that pass its input bounds."""
    body: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in (key, "expected_version") or f.default is not dataclasses.MISSING:
            continue
        if f.default_factory is not dataclasses.MISSING:
            continue
        kind = str(f.type)
        if f.name == "username":
            body[f.name] = user.username
        elif f.name == "password":
            body[f.name] = DEMO_PASSWORD
        elif "float" in kind:
            body[f.name] = 1.0
        elif "int" in kind:
            body[f.name] = 1
        elif "dict" in kind:
            body[f.name] = {}
        elif "list" in kind:
            body[f.name] = []
        else:
            body[f.name] = "matrix"
    return body


def test_every_record_endpoint_of_the_api_is_in_the_matrix(demo_app: App) -> None:
    # The route list, as the OpenAPI document gives it.
    paths = create_app(demo_app).openapi()["paths"]
    found = {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if any(p in path for p in _RECORD_PARAMS)
        or path in ("/api/v1/cases", "/api/v1/batches", "/api/v1/custody/scans")
    }
    assert found - ENDPOINTS == set(), "add these endpoints to the permission matrix"
    assert ENDPOINTS - found == set()


def _reads(world: World, role: Role, which: str) -> None:
    user, headers, case = world.users[role], world.headers[role], world.cases[which]
    where = world.where(which)
    readable = authority.may(user, Read.CASE, where)
    answer = world.client.get(f"/api/v1/cases/{case.id}", headers=headers)
    world.expect(f"read case {which}", role, readable, answer.status_code, answer.json(), "read")
    if readable:
        seen = answer.json()["case"]
        full = authority.sees(user, Read.CASE, where) is DataClass.FULL
        if full and role not in (Role.COORDINATOR, Role.PHYSICIAN, Role.APHERESIS_NURSE):
            world.wrong.append(f"{role.value} sees the patient's data")
        if (seen["patient_name"] == case.patient_name) is not full:
            world.wrong.append(f"{role.value} sees patient_name={seen['patient_name']!r}")
        if (seen["wristband_id"] == case.wristband_id) is not full:
            world.wrong.append(f"{role.value} sees wristband_id={seen['wristband_id']!r}")
    # The board lists exactly the readable cases.
    board = world.client.get("/api/v1/cases", headers=headers)
    listed = (
        {c["id"] for column in board.json()["columns"] for c in column["cases"]}
        if board.status_code == 200
        else set()
    )
    if (case.id in listed) is not readable:
        world.wrong.append(f"{role.value}: board lists {which} case: {case.id in listed}")
    # The FHIR export carries the patient's facts: for the care team of the case.
    full = readable and authority.sees(user, Read.CASE, where) is DataClass.FULL
    answer = world.client.get(f"/api/v1/cases/{case.id}/fhir", headers=headers)
    world.expect(f"export case {which}", role, full, answer.status_code, _json(answer), "read")
    labels = authority.may(user, Read.LABEL, where)
    answer = world.client.get(f"/api/v1/cases/{case.id}/labels/apheresis_bag", headers=headers)
    world.expect(f"print labels {which}", role, labels, answer.status_code, _json(answer), "read")
    batch_id = str(case.batch_id)
    with world.app.uow() as uow:
        batch = uow.batches.get(batch_id)
        assert batch is not None
        batch_where = Where(
            f"batch {batch_id}", where.treatment, where.apheresis, facility=batch.site
        )
    batches = authority.may(user, Read.BATCH, batch_where)
    for path in (f"/api/v1/batches/{batch_id}", f"/api/v1/batches/{batch_id}/coa.pdf"):
        answer = world.client.get(path, headers=headers)
        world.expect(
            f"GET {path} {which}", role, batches, answer.status_code, _json(answer), "read"
        )
    # A shipment is read by those who read its case.
    with world.app.uow() as uow:
        shipment_id = uow.shipments.find(case_id=case.id)[0].id
    shipments = authority.may(user, Read.SHIPMENT, where)
    answer = world.client.get(f"/api/v1/shipments/{shipment_id}", headers=headers)
    world.expect(
        f"read shipment {which}", role, shipments, answer.status_code, _json(answer), "read"
    )
    listing = world.client.get("/api/v1/batches", headers=headers)
    ids = {b["id"] for b in listing.json()} if listing.status_code == 200 else set()
    if (batch_id in ids) is not batches:
        world.wrong.append(f"{role.value}: batch list shows {which} batch: {batch_id in ids}")


def _json(answer: Any) -> Any:
    return (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )


def _case_actions(world: World, role: Role, which: str) -> None:
    user, headers, case = world.users[role], world.headers[role], world.cases[which]
    where = world.where(which)
    # Enrolment at the case's treatment centre (an allowed one may create a case).
    new_case = Where("a new case", treatment=case.treatment_site)
    answer = world.client.post(
        "/api/v1/cases",
        json={
            "product_code": case.product_code,
            "jurisdiction": case.jurisdiction,
            "treatment_site": case.treatment_site,
            "patient_name": "MATRIX PATIENT",
            "wristband_id": f"WB-M-{role.value}-{which}",
            "treating_physician": "physician",
            "consent_given": True,
            "consent_date": world.app.clock().date().isoformat(),
            "patient_facts": {},
        },
        headers=headers,
    )
    allowed = authority.may(user, commands.EnrolPatient, new_case)
    world.expect(
        f"enrol {which}",
        role,
        allowed,
        answer.status_code,
        _json(answer),
        "enrol patients",
    )
    for action, cls in actions.COMMAND_FOR_ACTION.items():
        allowed = authority.may(user, cls, where)
        answer = world.client.post(
            f"/api/v1/cases/{case.id}/actions/{action}",
            json=_body(cls, "case_id", user),
            headers=headers,
        )
        doing = authority.rule_for(cls).doing
        world.expect(f"{action} {which}", role, allowed, answer.status_code, _json(answer), doing)
    for point in CustodyPoint:
        if point is CustodyPoint.BEDSIDE:
            continue
        allowed = authority.may(user, point, where)
        answer = world.client.post(
            "/api/v1/custody/scans",
            json={"case_id": case.id, "point": point.value, "data": barcode(case)},
            headers=headers,
        )
        doing = authority.rule_for(point).doing
        world.expect(
            f"scan {point.value} {which}", role, allowed, answer.status_code, _json(answer), doing
        )
    kind = next(iter(authority.ASSESSMENTS))
    allowed = authority.may(user, kind, where)
    answer = world.client.post(
        f"/api/v1/cases/{case.id}/assessments",
        json={"kind": kind.value, "assessed_on": "2026-03-02", "inputs": {}},
        headers=headers,
    )
    world.expect(
        f"assess {which}",
        role,
        allowed,
        answer.status_code,
        _json(answer),
        authority.ASSESSMENTS[kind].doing,
    )
    with world.app.uow() as uow:
        shipment = uow.shipments.find(case_id=case.id)[0]
    allowed = authority.may(user, commands.ImportLoggerData, where)
    answer = world.client.post(
        f"/api/v1/shipments/{shipment.id}/logger",
        json={"csv": "time,temperature\n", "timezone": "UTC"},
        headers=headers,
    )
    world.expect(
        f"logger {which}", role, allowed, answer.status_code, _json(answer), "import logger data"
    )
    allowed = authority.may(user, commands.DisposeExcursion, where)
    answer = world.client.post(
        f"/api/v1/shipments/{shipment.id}/disposition",
        json={
            "decision": "accept",
            "reason": "matrix check of the rule",
            "username": user.username,
            "password": DEMO_PASSWORD,
        },
        headers=headers,
    )
    world.expect(
        f"disposition {which}",
        role,
        allowed,
        answer.status_code,
        _json(answer),
        "dispose of temperature excursions",
    )


def _batch_actions(world: World, role: Role, which: str) -> None:
    user, headers, case = world.users[role], world.headers[role], world.cases[which]
    with world.app.uow() as uow:
        batch = uow.batches.get(str(case.batch_id))
        assert batch is not None
    where = Where(f"batch {batch.id}", case.treatment_site, case.apheresis_site, batch.site)
    for action, cls in actions.BATCH_COMMANDS.items():
        allowed = authority.may(user, cls, where)
        answer = world.client.post(
            f"/api/v1/batches/{batch.id}/actions/{action}",
            json=_body(cls, "batch_id", user),
            headers=headers,
        )
        doing = authority.rule_for(cls).doing
        world.expect(
            f"batch {action} {which}", role, allowed, answer.status_code, _json(answer), doing
        )


CHECKS: dict[str, Callable[[World, Role, str], None]] = {
    "reads": _reads,
    "case actions": _case_actions,
    "batch actions": _batch_actions,
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_every_role_at_its_own_and_another_site(world: World, check: str) -> None:
    for role in Role:
        for which in ("own", "other"):
            CHECKS[check](world, role, which)
    allowed = sum(1 for _, _, ok in world.outcomes if ok)
    refused = len(world.outcomes) - allowed
    print(f"\n{check}: {len(world.outcomes)} requests, {allowed} allowed, {refused} refused")
    assert world.wrong == []
    # Independently of the table: a user of the Hong Kong sites is allowed nothing on the
    # North Carolina records, and only the care team ever sees the patient.
    across = [(r, label) for r, label, ok in world.outcomes if ok and label.endswith("other")]
    assert [(r, label) for r, label in across if HOME[r] is not None] == []
    # The matrix means something: both answers occur, and no role is refused everything
    # on its own site's records while allowed on another's.
    assert allowed > 0 and refused > 0


def test_no_role_acts_on_another_sites_records(world: World) -> None:
    """The point of site scope, stated on its own: at the North Carolina case, the Hong
    Kong users (all but the network's planner) are refused every case action."""
    other = world.where("other")
    for role, site in HOME.items():
        if site is None:
            continue
        user = world.users[role]
        for cls in actions.COMMAND_FOR_ACTION.values():
            assert not authority.may(user, cls, other), (role, cls)
            with pytest.raises(NotAllowed):
                authority.check(user, cls, other)
