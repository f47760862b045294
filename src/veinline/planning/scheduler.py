"""The optimal planner: a priority-weighted plan with a proven bound on how good it is.

How it works, and why (measured on the 700-patient RTP year and the 10,000-patient
network, see `benchmarks/`):

1. A greedy plan books patients one by one into their earliest feasible slot, in a
   few priority orders (`_greedy.warm_start`): a feasible plan within a second.
2. The linear relaxation of the time-indexed model (one column per patient, facility
   and start day in the patient's first weeks; rows for suite-days, QC intake and
   apheresis chairs) is solved by HiGHS (`_lp`). Its prices, applied to every start
   day to the horizon (`_lagrangian`), give a lower bound on any plan. The LP is
   nearly whole; the few patients it splits are placed by a small MIP, and the
   start days it suggests are turned into a real plan by list scheduling
   (`_greedy.guided_schedule`), suite by suite: 0.1-0.5 % from the bound on the
   benchmarks. Should the LP run out of its share of the time, subgradient ascent on
   the same prices stands in (slower, and it stalls about 1 % short of the LP).
3. CP-SAT then improves the plan by large-neighbourhood search (`_lns`): it frees
   the batches of a few suites over a few weeks and re-solves that window exactly,
   suite by suite, with closures, apheresis and QC capacity, starting where the plan
   strays furthest from the relaxation.

The search stops at the time limit, or earlier when the plan is proven within
`target_gap` of the bound. CP-SAT runs with the given `workers` and `random_seed`
and a deterministic work limit per window, HiGHS's simplex is deterministic, and the
neighbourhoods are drawn from a seeded generator, so a run that ends on the gap or
on its window budget is reproducible; a run cut short by the wall-clock limit may
differ in the last windows (the plan's stats say which limit stopped it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from veinline.planning._assemble import assemble
from veinline.planning._greedy import Schedule, guided_schedule, schedule_cost, warm_start
from veinline.planning._lagrangian import LagrangianDual, capacity_for
from veinline.planning._lns import improve
from veinline.planning._lp import relax
from veinline.planning._problem import FloatArray, IntArray, Problem, compile_problem
from veinline.planning.plan_io import Plan, Stat
from veinline.planning.scenario import Scenario
from veinline.planning.weights import TriageWeights

#: Sampled list schedules tried with the final prices (facility-sized problems).
THOROUGH = 16
#: Start days per patient and facility the LP prices one by one (later days are
#: still priced for the bound, in blocks). Measured: on the 700-patient year 70 days
#: make the LP's value and the bound meet; on the 10,000-patient network 45 do.
LP_WINDOW = 70
LP_WINDOW_NETWORK = 45
#: Share of the time limit the LP may take before the subgradient ascent stands in.
LP_SHARE = 0.6


@dataclass(frozen=True)
class SolverOptions:
    """Limits and seeds of the optimal planner."""

    time_limit_s: float = 10.0
    workers: int = 1
    seed: int = 0
    target_gap: float = 0.005
    """Stop as soon as the plan is proven within this fraction of the bound."""
    relaxation: Literal["lp", "subgradient"] = "lp"
    """How the bound is found: the LP solved by HiGHS (`_lp`), or subgradient ascent
    on the prices (`_lagrangian`; also the fallback when the LP runs out of time)."""
    lp_window: int | None = None
    """Start days per patient the LP prices one by one (default `LP_WINDOW`, or
    `LP_WINDOW_NETWORK` beyond 3,000 patients)."""
    dual_share: float | None = None
    """Share of the time limit the bound may use before the search takes over; by
    default `LP_SHARE` for the LP; for the subgradient half for a facility, a third for
    bigger networks (where the neighbourhood search finds more per second)."""
    max_dual_iterations: int = 1500
    max_windows: int = 2000
    """Work limit of the neighbourhood search (windows solved)."""


@dataclass
class Progress:
    """What happened when: for the benchmarks' time-to-first-plan and time-to-gap."""

    started: float
    events: list[tuple[float, int, float | None]] = field(default_factory=list)
    best_cost: int = 0
    best_bound: float | None = None

    def record(self, cost: int | None = None, bound: float | None = None) -> None:
        """Note a better plan or a better bound."""
        if cost is not None:
            self.best_cost = cost
        if bound is not None and (self.best_bound is None or bound > self.best_bound):
            self.best_bound = bound
        self.events.append((time.perf_counter() - self.started, self.best_cost, self.best_bound))

    def time_to_gap(self, gap: float) -> float | None:
        """First time the plan was proven within `gap` of the bound."""
        for elapsed, cost, bound in self.events:
            if bound is not None and cost > 0 and (cost - bound) / cost <= gap:
                return elapsed
            if bound is not None and cost == 0:
                return elapsed
        return None


@dataclass
class Optimised:
    """The best schedule found and how it was found."""

    schedule: Schedule
    cost: int
    bound: float
    progress: Progress
    stats: dict[str, Stat]


def optimise(problem: Problem, options: SolverOptions) -> Optimised:
    """Search for the cheapest schedule of `problem`'s planned patients."""
    progress = Progress(started=time.perf_counter())
    deadline = progress.started + options.time_limit_s
    best = warm_start(problem)
    best_cost = schedule_cost(problem, best)
    progress.record(cost=best_cost)
    first_plan_s = time.perf_counter() - progress.started
    stats: dict[str, Stat] = {"first_plan_s": round(first_plan_s, 3)}
    bound = 0.0
    method = options.relaxation
    rng = np.random.default_rng(options.seed)
    if problem.size:
        facility_sized = problem.size <= 3000

        def try_prices(facility: IntArray, start: IntArray, *, thorough: bool = False) -> None:
            nonlocal best, best_cost
            variants: list[tuple[bool, int, FloatArray | None]] = [
                (True, 0, None),
                (False, 0, None),
            ]
            if thorough:
                variants += [(True, 1, None), (True, 2, None)]
                # Sampled booking orders: ties and near-ties broken at random (seeded).
                variants += [
                    (True, 0, rng.uniform(-1.5, 1.5, problem.size)) for _ in range(THOROUGH)
                ]
            for strict, slack, jitter in variants:
                if _gap(best_cost, bound) <= options.target_gap:
                    break
                candidate = guided_schedule(
                    problem, facility, start, strict=strict, slack=slack, jitter=jitter
                )
                cost = schedule_cost(problem, candidate)
                if cost < best_cost:
                    best, best_cost = candidate, cost
                    progress.record(cost=cost)

        suggested: IntArray | None = None
        if options.relaxation == "lp":
            window = options.lp_window or (LP_WINDOW if facility_sized else LP_WINDOW_NETWORK)
            lp_share = options.dual_share if options.dual_share is not None else LP_SHARE
            relaxation = relax(
                problem,
                capacity_for(problem),
                window=window,
                time_limit_s=lp_share * options.time_limit_s,
            )
            if relaxation is not None:
                bound = max(relaxation.bound, 0.0)
                progress.record(bound=bound)
                suggested = relaxation.suggested_start
                try_prices(relaxation.suggested_facility, suggested, thorough=facility_sized)
                stats.update(
                    {
                        "lp_value": round(relaxation.value, 3),
                        "lp_fractional": relaxation.fractional,
                        "lp_rounds": relaxation.rounds,
                        "lp_s": round(relaxation.wall_time_s, 3),
                    }
                )
        if suggested is None:
            # Alone, the ascent has its share of the time; after an LP that ran out of
            # time, half of what is left.
            share = options.dual_share
            if share is None:
                share = 0.5 if facility_sized else 0.35
            until = progress.started + share * options.time_limit_s
            if method == "lp":
                now = time.perf_counter()
                until = now + (deadline - now) / 2
            method = "subgradient"
            bound = _subgradient(problem, options, progress, try_prices, stats, until)
        if _gap(best_cost, bound) > options.target_gap:
            lns = improve(
                problem,
                best,
                deadline=deadline,
                max_windows=options.max_windows,
                workers=options.workers,
                seed=options.seed,
                stop_at=lambda cost: _gap(cost, bound) <= options.target_gap,
                on_improvement=lambda cost: progress.record(cost=cost),
                focus=None if suggested is None else _astray(problem, best, suggested),
            )
            best, best_cost = lns.schedule, lns.cost
            stats.update(
                {
                    "lns_windows": lns.windows,
                    "lns_improvements": lns.improvements,
                    "lns_s": round(lns.wall_time_s, 3),
                }
            )
    elapsed = time.perf_counter() - progress.started
    stats.update(
        {
            "solver": f"ortools-cp-sat-lns+{method}",
            "wall_time_s": round(elapsed, 3),
            "stopped_by": (
                "gap"
                if _gap(best_cost, bound) <= options.target_gap
                else "time"
                if time.perf_counter() >= deadline
                else "work"
            ),
            "time_limit_s": options.time_limit_s,
            "num_workers": options.workers,
            "random_seed": options.seed,
            "target_gap": options.target_gap,
            "time_to_1pct_s": _round(progress.time_to_gap(0.01)),
            "time_to_2pct_s": _round(progress.time_to_gap(0.02)),
        }
    )
    return Optimised(best, best_cost, bound, progress, stats)


def plan(
    scenario: Scenario,
    *,
    options: SolverOptions | None = None,
    weights: TriageWeights | None = None,
) -> Plan:
    """The optimal plan for `scenario` (see the module docstring for the method)."""
    options = options or SolverOptions()
    problem = compile_problem(scenario, weights)
    result = optimise(problem, options)
    return assemble(
        problem, result.schedule, policy="optimal", bound=result.bound, stats=result.stats
    )


def _subgradient(
    problem: Problem,
    options: SolverOptions,
    progress: Progress,
    try_prices: Callable[..., None],
    stats: dict[str, Stat],
    until: float,
) -> float:
    """The bound by subgradient ascent on the prices, until `until` (perf_counter), when
    the LP is not asked for or did not finish in its share of the time."""
    facility_sized = problem.size <= 3000
    dual = LagrangianDual(
        problem,
        list(range(problem.size)),
        capacity_for(problem),
        daily_days=42 if facility_sized else 28,
    )
    # On big networks a list schedule costs seconds and the neighbourhood search
    # gains more per second: price snapshots only once, at the end.
    every = 25 if facility_sized else options.max_dual_iterations + 1
    result = dual.run(
        iterations=options.max_dual_iterations,
        deadline=until,
        upper_bound=lambda: float(progress.best_cost),
        on_snapshot=try_prices,
        snapshot_every=every,
        target_gap=options.target_gap,
    )
    bound = max(result.bound, 0.0)
    progress.record(bound=bound)
    try_prices(result.suggested_facility, result.suggested_start, thorough=facility_sized)
    stats.update({"dual_iterations": result.iterations, "dual_s": round(result.wall_time_s, 3)})
    return bound


def _astray(problem: Problem, schedule: Schedule, suggested: IntArray) -> list[int]:
    """Patients the plan starts later than the relaxation did (or leaves out), the
    costliest delay first: the neighbourhood search starts its windows on them."""
    delays = []
    for j in range(problem.size):
        booking = schedule.get(j)
        cost = problem.unscheduled_cost(j) if booking is None else problem.cost(j, booking.start)
        hoped = int(suggested[j])
        floor = problem.unscheduled_cost(j) if hoped < 0 else problem.cost(j, hoped)
        if cost > floor:
            delays.append((floor - cost, j))
    return [j for _, j in sorted(delays)]


def _gap(cost: int, bound: float) -> float:
    if cost <= 0:
        return 0.0
    return (cost - bound) / cost


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
