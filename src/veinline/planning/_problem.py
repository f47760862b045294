"""The scenario compiled to whole days and integer arrays, as every planner sees it.

Day 0 is the scenario's start date; starts run over 0..horizon-1 and a batch must end
by the horizon. The cost of a start day `t` for patient `j` is

    weight[j] * (t - earliest[j]) + miss_cost * (t > latest_start[j])

that is, priority-weighted days of waiting beyond the earliest possible start, plus a
large charge for missing the latest infusion date. A patient left out of the plan
costs as if it started on the horizon and missed its date, whatever its date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from veinline.planning.scenario import Scenario
from veinline.planning.triage import PriorityExplanation, objective_weight, triage
from veinline.planning.weights import TriageWeights

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: A missed latest infusion date costs as much as this many days of waiting by the
#: highest-priority patient: lexicographic in spirit, one miss outweighs months of waiting.
MISS_COST_DAYS = 120

NO_DEADLINE = 1 << 30


@dataclass(frozen=True)
class Option:
    """One facility a patient's centre can ship to."""

    facility: int
    transport: int
    earliest: int
    """Earliest manufacturing start at this facility (day index)."""


@dataclass(frozen=True)
class FixedWork:
    """Started work, in day indices."""

    patient: str
    facility: int
    suite: int
    """0-based suite index."""
    apheresis: int
    start: int
    end: int
    centre: int


@dataclass
class Problem:
    """The compiled scenario."""

    scenario: Scenario
    weights: TriageWeights
    horizon: int
    facility_ids: list[str]
    suites: list[int]
    closed: list[BoolArray]
    """Per facility, (suites, horizon) True where a suite is shut."""
    centre_ids: list[str]
    centre_capacity: IntArray
    qc_capacity: list[int | None]
    ids: list[str]
    """Patients to plan (not fixed), in scenario order."""
    duration: IntArray
    qc_days: IntArray
    tail: IntArray
    """Days from manufacturing end to infusion (QC + shipping)."""
    centre: IntArray
    ready: IntArray
    options: list[list[Option]]
    earliest: IntArray
    latest_start: IntArray
    weight: IntArray
    miss_cost: int
    fixed: list[FixedWork]
    explanations: dict[str, PriorityExplanation]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {pid: j for j, pid in enumerate(self.ids)}

    @property
    def size(self) -> int:
        """Number of patients to plan."""
        return len(self.ids)

    def cost(self, j: int, start: int) -> int:
        """Objective cost of starting patient j's batch on day `start`."""
        late = start > self.latest_start[j]
        return int(self.weight[j] * (start - self.earliest[j]) + (self.miss_cost if late else 0))

    def unscheduled_cost(self, j: int) -> int:
        """Objective cost of leaving patient j out of the plan."""
        return int(self.weight[j] * (self.horizon - self.earliest[j]) + self.miss_cost)

    def option(self, j: int, facility: int) -> Option | None:
        """Patient j's option at this facility, if its centre ships there."""
        for option in self.options[j]:
            if option.facility == facility:
                return option
        return None


def compile_problem(
    scenario: Scenario,
    weights: TriageWeights | None = None,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Problem:
    """Compile `scenario`; patients with fixed work (and those in `exclude`) are not planned."""
    weights = weights or scenario.triage_weights
    horizon = scenario.horizon_days
    facility_ids = [f.id for f in scenario.facilities]
    facility_index = {fid: i for i, fid in enumerate(facility_ids)}
    closed = []
    for facility in scenario.facilities:
        shut = np.zeros((facility.suites, horizon), dtype=np.bool_)
        for closure in facility.closures:
            first = max(scenario.day(closure.first_day), 0)
            last = min(scenario.day(closure.last_day), horizon - 1)
            if first <= last:
                shut[closure.suite - 1, first : last + 1] = True
        closed.append(shut)
    centre_ids = [c.id for c in scenario.apheresis_centres]
    centre_index = {cid: i for i, cid in enumerate(centre_ids)}
    products = scenario.products_by_code
    explanations = triage(scenario, weights)

    fixed = []
    for work in scenario.fixed:
        patient = scenario.patients_by_id[work.patient]
        product = products[patient.product]
        start = scenario.day(work.manufacturing_start)
        end = (
            scenario.day(work.manufacturing_end)
            if work.manufacturing_end is not None
            else start + product.manufacturing_days
        )
        fixed.append(
            FixedWork(
                patient=work.patient,
                facility=facility_index[work.facility],
                suite=work.suite - 1,
                apheresis=scenario.day(work.apheresis_date),
                start=start,
                end=end,
                centre=centre_index[patient.centre],
            )
        )
    skip = {w.patient for w in scenario.fixed} | set(exclude)
    planned = [p for p in scenario.patients if p.id not in skip]
    n = len(planned)
    duration = np.zeros(n, dtype=np.int64)
    qc_days = np.zeros(n, dtype=np.int64)
    tail = np.zeros(n, dtype=np.int64)
    centre = np.zeros(n, dtype=np.int64)
    ready = np.zeros(n, dtype=np.int64)
    earliest = np.zeros(n, dtype=np.int64)
    latest_start = np.full(n, NO_DEADLINE, dtype=np.int64)
    weight = np.zeros(n, dtype=np.int64)
    options: list[list[Option]] = []
    for j, patient in enumerate(planned):
        product = products[patient.product]
        duration[j] = product.manufacturing_days
        qc_days[j] = product.qc_days
        tail[j] = product.qc_days + product.ship_days
        centre[j] = centre_index[patient.centre]
        ready[j] = max(scenario.day(patient.ready_date), 0)
        transport = scenario.centres_by_id[patient.centre].transport_days
        opts = sorted(
            (
                Option(facility_index[fid], days, int(ready[j]) + days)
                for fid, days in transport.items()
            ),
            key=lambda o: (o.earliest, o.facility),
        )
        options.append(opts)
        earliest[j] = opts[0].earliest
        if patient.latest_infusion_date is not None:
            latest_start[j] = scenario.day(patient.latest_infusion_date) - int(
                duration[j] + tail[j]
            )
        weight[j] = objective_weight(explanations[patient.id], weights)
    top_weight = 1 + 100
    return Problem(
        scenario=scenario,
        weights=weights,
        horizon=horizon,
        facility_ids=facility_ids,
        suites=[f.suites for f in scenario.facilities],
        closed=closed,
        centre_ids=centre_ids,
        centre_capacity=np.array(
            [c.daily_capacity for c in scenario.apheresis_centres], dtype=np.int64
        ),
        qc_capacity=[scenario.qc.daily_capacity.get(fid) for fid in facility_ids],
        ids=[p.id for p in planned],
        duration=duration,
        qc_days=qc_days,
        tail=tail,
        centre=centre,
        ready=ready,
        options=options,
        earliest=earliest,
        latest_start=latest_start,
        weight=weight,
        miss_cost=MISS_COST_DAYS * top_weight,
        fixed=fixed,
        explanations=explanations,
    )
