"""Demo cases: one patient journey in every state, driven through the real handlers.

Tests use the same driver (`advance`) to bring a case to any state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from veinline.domain.batch import Batch, StepStatus
from veinline.domain.case import Case, CaseState, local_date
from veinline.domain.process import DocumentStatus, ParameterKind, ParameterSpec, ProcessTemplate
from veinline.domain.shipment import Leg, Shipment
from veinline.domain.specification import Comparator, ReleaseTest, Specification
from veinline.domain.user import User
from veinline.services import commands
from veinline.services.messagebus import MessageBus

DEMO_PASSWORD = "veinline-demo"  # noqa: S105 - the documented demo password

HAPPY_PATH = [
    CaseState.ENROLLED,
    CaseState.ELIGIBLE,
    CaseState.APHERESIS_BOOKED,
    CaseState.COLLECTED,
    CaseState.AT_MANUFACTURING,
    CaseState.MANUFACTURING,
    CaseState.IN_QC,
    CaseState.RELEASED,
    CaseState.SHIPPED,
    CaseState.RECEIVED_AT_SITE,
    CaseState.INFUSED,
    CaseState.FOLLOW_UP,
]


@dataclass(frozen=True)
class Route:
    """Where a demo patient is treated and their cells are made."""

    product: str
    jurisdiction: str
    treatment_site: str
    apheresis_site: str
    manufacturing_site: str
    facts: dict[str, Any]


EQUE_CEL_HK = Route(
    product="eque-cel",
    jurisdiction="HK",
    treatment_site="demo-hk-treatment",
    apheresis_site="demo-hk-apheresis",
    manufacturing_site="demo-suzhou-manufacturing",
    facts={
        "age_years": 61,
        "diagnosis": "multiple_myeloma",
        "disease_status": "relapsed_refractory",
        "prior_lines": 4,
        "prior_therapy_classes": ["proteasome_inhibitor", "immunomodulatory_agent", "anti_cd38"],
        "weight_kg": 68,
    },
)

ZEVOR_CEL_US = Route(
    product="zevor-cel",
    jurisdiction="US",
    treatment_site="demo-nc-treatment",
    apheresis_site="demo-nc-apheresis",
    manufacturing_site="carsgen-rtp",
    facts={
        "age_years": 57,
        "diagnosis": "multiple_myeloma",
        "disease_status": "relapsed_refractory",
        "prior_lines": 5,
        "weight_kg": 80,
    },
)


def barcode(case: Case) -> str:
    """What a scanner reads from the case's bag label: DIN and CoI, concatenated."""
    return f"={case.current_din}00&/{case.coi}"


class Driver:
    """Moves cases along the journey as the right user for each step."""

    def __init__(
        self, bus: MessageBus, user: Callable[[str], User], clock: Callable[[], datetime]
    ) -> None:
        self.bus = bus
        self.user = user
        self.clock = clock

    def do(self, cmd: commands.Command, as_user: str) -> Any:
        return self.bus.handle(cmd, actor=self.user(as_user))

    def enrol(
        self, route: Route, *, patient_name: str, wristband: str, case_id: str | None = None
    ) -> Case:
        case: Case = self.do(
            commands.EnrolPatient(
                product_code=route.product,
                jurisdiction=route.jurisdiction,
                treatment_site=route.treatment_site,
                patient_name=patient_name,
                wristband_id=wristband,
                treating_physician="physician",
                consent_given=True,
                consent_date=self.clock().date().isoformat(),
                consent_form="ICF v2.1",
                patient_facts=dict(route.facts),
                case_id=case_id,
            ),
            "coordinator",
        )
        return case

    def advance(self, case: Case, route: Route, target: CaseState) -> Case:
        """Take the case along the happy path until it reaches `target`."""
        if target is CaseState.OUT_OF_SPECIFICATION:
            case = self.advance(case, route, CaseState.IN_QC)
            self.test_batch(case, viability=62)
            return self._reload(case)
        if target is CaseState.CANCELLED:
            cancelled: Case = self.do(
                commands.CancelCase(case.id, "patient withdrew consent before apheresis"),
                "coordinator",
            )
            return cancelled
        while case.state is not target:
            case = self._step(case, route, collect_now=target is not CaseState.APHERESIS_BOOKED)
        return case

    def _step(self, case: Case, route: Route, *, collect_now: bool = True) -> Case:
        now = self.clock()
        # A case that goes on to collection is booked for today (the apheresis unit's date)
        # and collected now, so the record never shows an apheresis date after its
        # collection; one that stops at the booking waits a week.
        booked_for = now if collect_now else now + timedelta(days=7)
        step: dict[CaseState, Callable[[], Any]] = {
            CaseState.ENROLLED: lambda: self.do(commands.ConfirmEligibility(case.id), "physician"),
            CaseState.ELIGIBLE: lambda: self.book(case, route, booked_for),
            CaseState.APHERESIS_BOOKED: lambda: self.do(
                commands.Collect(case.id, now.isoformat(), 180.0), "nurse"
            ),
            CaseState.COLLECTED: lambda: self._ship_and_receive(
                case, "apheresis_pickup", "manufacturing_receipt", "operator"
            ),
            CaseState.AT_MANUFACTURING: lambda: self.start_batch(case, route),
            CaseState.MANUFACTURING: lambda: self.finish_batch(case, now),
            CaseState.IN_QC: lambda: self.release_batch(case),
            CaseState.RELEASED: lambda: self.do(
                commands.ScanCustody(case.id, "product_pickup", barcode(case)), "courier"
            ),
            CaseState.SHIPPED: lambda: (
                self.log_shipment(case, Leg.PRODUCT),
                self.do(
                    commands.ScanCustody(case.id, "site_receipt", barcode(case)), "coordinator"
                ),
            )[-1],
            CaseState.RECEIVED_AT_SITE: lambda: self.do(
                commands.Infuse(
                    case.id,
                    case.wristband_id,
                    barcode(case),
                    (now - timedelta(minutes=40)).isoformat(),
                    (now - timedelta(minutes=20)).isoformat(),
                    float(route.facts["weight_kg"]),
                    float(route.facts["weight_kg"]) * 1e6,
                    override_reason=""
                    if route.product == "eque-cel"
                    else "dose per protocol; no catalogue dose rule yet",
                ),
                "physician",
            ),
            CaseState.INFUSED: lambda: self.do(commands.StartFollowUp(case.id), "physician"),
        }
        result = step[case.state]()
        if isinstance(result, Case):
            return result
        return self._reload(case)

    def book(self, case: Case, route: Route, day: datetime) -> Case:
        """Book apheresis, once the facility has an approved process for the product."""
        self.prepare_manufacturing(route)
        uow = self.bus.uow_factory()
        with uow:
            unit = uow.sites.get(route.apheresis_site)
        on = local_date(day, unit.timezone if unit is not None else "UTC")
        booked: Case = self.do(
            commands.BookApheresis(
                case.id, route.apheresis_site, on.isoformat(), route.manufacturing_site
            ),
            "coordinator",
        )
        return booked

    def _reload(self, case: Case) -> Case:
        refreshed = self.bus.uow_factory()
        with refreshed:
            found = refreshed.cases.get(case.id)
        assert found is not None
        return found

    # -------------------------------------------------------------- manufacturing

    def prepare_manufacturing(self, route: Route) -> None:
        """The demo default process and release panel, approved by QA, if none is in force."""
        uow = self.bus.uow_factory()
        with uow:
            templates = uow.process_templates.find(
                product_code=route.product, site=route.manufacturing_site
            )
            specs = uow.specifications.find(product_code=route.product, market=route.jurisdiction)
        if not any(t.status is DocumentStatus.APPROVED for t in templates):
            template: ProcessTemplate = self.do(
                commands.DraftProcess(route.product, route.manufacturing_site), "operator"
            )
            approver = "qa" if route.manufacturing_site == "carsgen-rtp" else "qa2"
            self.do(commands.ApproveProcess(template.id, approver, DEMO_PASSWORD), approver)
        if not any(s.status is DocumentStatus.APPROVED for s in specs):
            spec: Specification = self.do(
                commands.DraftSpecification(route.product, route.jurisdiction), "qc"
            )
            self.do(commands.ApproveSpecification(spec.id, "qa", DEMO_PASSWORD), "qa")

    def start_batch(self, case: Case, route: Route) -> Case:
        self.prepare_manufacturing(route)
        started: Case = self.do(commands.StartManufacturing(case.id), "operator")
        return started

    def batch(self, case: Case) -> Batch:
        uow = self.bus.uow_factory()
        with uow:
            found = uow.batches.get(str(case.batch_id))
        assert found is not None
        return found

    def run_steps(self, case: Case, *, count: int | None = None) -> Batch:
        """Perform the batch's pending steps in order (each signed, critical ones verified
        by a second operator), with values inside their limits."""
        batch = self.batch(case)
        pending = [s for s in batch.steps if s.status is StepStatus.PENDING]
        for step in pending[:count]:
            code = step.code
            self.do(
                commands.StartStep(batch.id, code, "Suite 1", [f"EQ-{step.position:02d}"]),
                "operator",
            )
            for parameter in step.spec.parameters:
                value = in_limits(parameter, batch.id)
                self.do(commands.RecordValue(batch.id, code, parameter.name, value), "operator")
            self.do(commands.CompleteStep(batch.id, code, "operator", DEMO_PASSWORD), "operator")
            if step.spec.critical:
                self.do(
                    commands.VerifyStep(batch.id, code, "operator2", DEMO_PASSWORD), "operator2"
                )
        return self.batch(case)

    def finish_batch(self, case: Case, now: datetime) -> Case:
        self.run_steps(case)
        done: Case = self.do(
            commands.CompleteManufacturing(
                case.id, 2, (now + timedelta(days=180)).isoformat(), 68e6
            ),
            "operator",
        )
        return done

    def test_batch(self, case: Case, **overrides: float | str) -> None:
        """QC enters every release test, passing unless given another value."""
        batch_id = str(case.batch_id)
        uow = self.bus.uow_factory()
        with uow:
            specs = uow.specifications.find(
                product_code=case.product_code, market=case.jurisdiction
            )
        spec = next(s for s in specs if s.status is DocumentStatus.APPROVED)
        for test in spec.tests:
            value = overrides.get(test.code, passing(test))
            self.do(commands.EnterResult(batch_id, test.code, value), "qc")

    def release_batch(self, case: Case) -> Case:
        self.test_batch(case)
        released: Case = self.do(commands.ReleaseProduct(case.id, "qa", DEMO_PASSWORD), "qa")
        return released

    def follow_up(self, case: Case) -> None:
        """The first day's toxicity checks after infusion (as the demo shows them)."""
        uow = self.bus.uow_factory()
        with uow:
            centre = uow.sites.get(case.treatment_site)
        zone = centre.timezone if centre is not None else "UTC"
        today = local_date(self.clock(), zone).isoformat()  # the centre's date, not UTC's
        crs = {
            "temperature_c": 38.4,
            "fever_masked_by_treatment": False,
            "hypotension": False,
            "vasopressors": [],
            "oxygen": {"device": "none"},
            "death_from_crs": False,
        }
        icans = {
            "ice_score": 10,
            "consciousness": "alert",
            "seizure": "none",
            "motor_weakness": "none",
            "cerebral_edema": "none",
            "raised_icp_signs": False,
        }
        self.do(commands.RecordAssessment(case.id, "crs", today, crs), "nurse")
        self.do(commands.RecordAssessment(case.id, "icans", today, icans), "nurse")

    def log_shipment(self, case: Case, leg: Leg) -> Any:
        """The shipper's logger file, read in before receipt: a reading every 15 minutes
        from two hours before until now, well inside the shipment's limits."""
        uow = self.bus.uow_factory()
        with uow:
            shipment = uow.shipments.find(case_id=case.id, leg=leg)[-1]
        return self.do(
            commands.ImportLoggerData(shipment.id, steady_log(shipment, self.clock())), "courier"
        )

    def _ship_and_receive(self, case: Case, pickup: str, receipt: str, receiver: str) -> Any:
        self.do(commands.ScanCustody(case.id, pickup, barcode(case)), "courier")
        return self.do(commands.ScanCustody(case.id, receipt, barcode(case)), receiver)


def steady_log(shipment: Shipment, until: datetime, *, hours: float = 2.0) -> str:
    """A logger CSV (UTC) that stays inside the shipment's limits: for the demo and tests."""
    low, high = shipment.low_c, shipment.high_c
    if low is not None and high is not None:
        celsius = (low + high) / 2
    elif high is not None:
        celsius = high - 30  # e.g. -180 °C in a vapour shipper limited to -150 °C
    else:
        celsius = 5.0 if low is None else low + 1
    count = int(hours * 4) + 1
    start = until - timedelta(hours=hours)
    rows = [
        f"{(start + timedelta(minutes=15 * i)).astimezone(UTC):%Y-%m-%dT%H:%M:%SZ},{celsius:g}"
        for i in range(count)
    ]
    return "timestamp,celsius\n" + "\n".join(rows) + "\n"


def in_limits(parameter: ParameterSpec, batch_id: str) -> float | str:
    """A value inside a process parameter's limits (for the demo and tests)."""
    if parameter.kind is not ParameterKind.NUMBER:
        return parameter.expected or f"LOT-{batch_id}"
    low, high = parameter.low, parameter.high
    if parameter.unit in ("bags", "vials"):
        return float(int(low if low is not None else 1) + (1 if high and high > 1 else 0))
    if low is not None and high is not None:
        return round((low + high) / 2, 3)
    if low is not None:
        value = low * 1.5 if low > 0 else low + 1
        return round(min(value, 99.0) if parameter.unit == "%" else value, 3)
    if high is not None:
        return round(high - abs(high) * 0.2 if high else -1, 3)
    return 1.0


def passing(test: ReleaseTest) -> float | str:
    """A result that meets a release test (for the demo and tests)."""
    if test.expected is not None:
        return test.expected.value
    if test.low is not None and test.high is not None:
        return round((test.low + test.high) / 2, 3)
    assert test.limit is not None
    if test.comparator in (Comparator.AT_LEAST, Comparator.MORE_THAN):
        return round(min(test.limit * 1.2, 99.0) if test.unit == "%" else test.limit * 1.2, 3)
    return round(test.limit / 2, 3)


DEMO_STATES = [*HAPPY_PATH, CaseState.OUT_OF_SPECIFICATION, CaseState.CANCELLED]


def load_demo_cases(driver: Driver) -> int:
    """One demo case in every state; idempotent (cases are found by their fixed ids)."""
    created = 0
    uow = driver.bus.uow_factory()
    for number, state in enumerate(DEMO_STATES, start=1):
        case_id = f"DEMO-{number:02d}"
        with uow:
            exists = uow.cases.get(case_id) is not None
        if exists:
            continue
        route = EQUE_CEL_HK if number % 2 else ZEVOR_CEL_US
        case = driver.enrol(
            route,
            patient_name=f"Demo Patient {number:02d}",
            wristband=f"WB-{number:04d}",
            case_id=case_id,
        )
        if state is CaseState.MANUFACTURING:
            # Half-way through its batch record, so the demo shows a batch on the floor.
            case = driver.advance(case, route, state)
            driver.run_steps(case, count=4)
        else:
            case = driver.advance(case, route, state)
        if state in (CaseState.INFUSED, CaseState.FOLLOW_UP):
            driver.follow_up(case)
        created += 1
    return created


def load_demo_trial(driver: Driver) -> bool:
    """The demo trial shaped like the IMC001 IIT results (Immunofoco release, 21 March 2025:
    two dose cohorts, ten evaluable patients), its outcomes imported as a sponsor would;
    idempotent."""
    from datetime import date

    from veinline.domain.trial import seed_003_trial
    from veinline.domain.trial_records import outcome_to_data

    probe = seed_003_trial(date(2000, 1, 1))
    start = driver.clock().date() - (probe.data_cutoff - date(2000, 1, 1))
    data = seed_003_trial(start)
    uow = driver.bus.uow_factory()
    with uow:
        if uow.trials.get(data.trial.id) is not None:
            return False
    trial = data.trial
    driver.do(
        commands.CreateTrial(
            id=trial.id,
            title=trial.title,
            product_code=trial.product_code,
            criteria=trial.criteria.value,
            cohorts=[
                {"id": c.id, "dose_label": c.dose_label, "dose_cells_per_kg": c.dose_cells_per_kg}
                for c in trial.cohorts
            ],
        ),
        "physician",
    )
    driver.do(
        commands.ImportTrialOutcomes(
            trial_id=trial.id,
            outcomes=[
                {"subject": o.case_id, "cohort_id": o.cohort_id, **outcome_to_data(o)}
                for o in data.outcomes
            ],
            reason=(
                "investigator-initiated trial data "
                "(demo, shaped like the IMC001 IIT results Immunofoco reported)"
            ),
        ),
        "physician",
    )
    return True


# Fictional names for the generated cases (no real person is meant).
_GIVEN = (
    "Ada", "Bo", "Chen", "Dana", "Eli", "Fang", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena",
    "Mei", "Noor", "Otto", "Pia", "Quin", "Rui", "Sol", "Tao", "Uma", "Vik", "Wen", "Yara",
)  # fmt: skip
_FAMILY = (
    "Arden", "Brook", "Castell", "Dunmore", "Ellery", "Fairleigh", "Garrow", "Hollins",
    "Ingram", "Jessop", "Kerrow", "Lindqvist", "Marlowe", "Northcott", "Orme", "Pellow",
    "Quarry", "Rookwood", "Stanier", "Thorne", "Upfield", "Varley", "Wrenfield", "Yelland",
)  # fmt: skip


def generated_name(n: int) -> str:
    """The n-th generated patient's fictional name (distinct for the first 576, then
    numbered)."""
    given, family = _GIVEN[n % len(_GIVEN)], _FAMILY[(n // len(_GIVEN)) % len(_FAMILY)]
    lap = n // (len(_GIVEN) * len(_FAMILY))
    return f"{given} {family}" + (f" {lap + 1}" if lap else "")


def load_many_cases(
    driver: Driver, count: int, *, tell: Callable[[int], None] | None = None
) -> int:
    """`count` more demo cases, each through the journey's own handlers (so each change
    has its ledger entry): alternately at the Hong Kong and the North Carolina centre; of
    every ten, four stay enrolled, three are confirmed eligible, two are booked for
    apheresis in the coming weeks and one is cancelled. Wristbands `WB-G000001`, … follow
    on from the cases already generated, so loading again adds more. Returns how many
    were made; `tell(n)` is called after every 500."""
    uow = driver.bus.uow_factory()
    with uow:
        start = sum(1 for c in uow.cases.list() if c.wristband_id.startswith("WB-G"))
    for route in (EQUE_CEL_HK, ZEVOR_CEL_US):
        driver.prepare_manufacturing(route)
    now = driver.clock()
    for offset in range(count):
        n = start + offset
        route = EQUE_CEL_HK if n % 2 else ZEVOR_CEL_US
        case = driver.enrol(route, patient_name=generated_name(n), wristband=f"WB-G{n + 1:06d}")
        kind = n % 10
        if kind == 9:
            cancel = commands.CancelCase(case.id, "patient chose another treatment")
            driver.do(cancel, "coordinator")
        elif kind >= 4:
            driver.do(commands.ConfirmEligibility(case.id), "physician")
            if kind >= 7:
                day = (now + timedelta(days=7 + n % 28)).date().isoformat()
                driver.do(
                    commands.BookApheresis(
                        case.id, route.apheresis_site, day, route.manufacturing_site
                    ),
                    "coordinator",
                )
        if tell is not None and (offset + 1) % 500 == 0:
            tell(offset + 1)
    return count
