"""Benchmark: plans for a facility year and a network year, against first come, first served.

Run from the repository root:

    .venv/bin/python benchmarks/bench_plan.py            # everything (about 2 minutes)
    .venv/bin/python benchmarks/bench_plan.py --skip-network

Prints, per scenario: time to the first plan, time until the plan is proven within
1% (facility) or 2% (network) of the bound, the final objective, bound and gap, and
FIFO against the plan: patients treated by their latest infusion date and
priority-weighted waiting. Every plan is also run through the feasibility checker.
"""

from __future__ import annotations

import argparse
import time

from veinline.planning.feasibility import check_plan
from veinline.planning.fifo import fifo_plan
from veinline.planning.generate import facility_year, network_year
from veinline.planning.plan_io import Plan
from veinline.planning.scenario import Scenario
from veinline.planning.scheduler import SolverOptions, plan


def run(name: str, scenario: Scenario, time_limit: float, target: float, seed: int) -> None:
    started = time.perf_counter()
    baseline = fifo_plan(scenario)
    fifo_s = time.perf_counter() - started
    result = plan(scenario, options=SolverOptions(time_limit_s=time_limit, seed=seed))
    key = "time_to_1pct_s" if target <= 0.01 else "time_to_2pct_s"
    within = result.stats.get(key)
    print(f"\n== {name}: {len(scenario.patients)} patients, time limit {time_limit:g} s")
    print(f"   time to first plan           {result.stats['first_plan_s']} s")
    print(
        f"   time to within {target:.0%} of bound  "
        + (f"{within} s" if within is not None else "not reached")
    )
    stopped = result.stats["stopped_by"]
    print(f"   wall time                    {result.stats['wall_time_s']} s ({stopped})")
    print(f"   objective / bound            {result.objective:,} / {result.bound:,}")
    print(f"   final gap                    {100 * (result.gap or 0):.2f} %")
    stats = result.stats
    bound_by = (
        f"LP {stats['lp_s']} s ({stats['lp_fractional']} split values)"
        if "lp_s" in stats
        else f"{stats.get('dual_iterations')} pricing rounds"
    )
    print(
        f"   search                       {bound_by}, {stats.get('lns_windows', 0)} CP-SAT "
        f"windows ({stats.get('lns_improvements', 0)} improved)"
    )
    _compare(baseline, result, fifo_s)
    for label, checked in (("plan", result), ("fifo", baseline)):
        violations = check_plan(checked, scenario)
        print(f"   feasibility ({label})           {len(violations)} violations")


def _compare(fifo: Plan, optimal: Plan, fifo_s: float) -> None:
    f, o = fifo.metrics, optimal.metrics
    print(f"   {'':28} {'FIFO':>12} {'plan':>12}")
    print(
        f"   {'treated by latest date':28} {f.treated_by_deadline:>8}/{f.with_deadline:<3}"
        f" {o.treated_by_deadline:>8}/{o.with_deadline:<3}"
    )
    print(f"   {'missed latest date':28} {f.missed_deadline:>12} {o.missed_deadline:>12}")
    print(f"   {'not planned':28} {f.unscheduled:>12} {o.unscheduled:>12}")
    print(f"   {'priority-weighted wait':28} {f.weighted_wait:>12,} {o.weighted_wait:>12,}")
    print(f"   {'mean wait (days)':28} {f.mean_wait_days:>12.2f} {o.mean_wait_days:>12.2f}")
    print(f"   {'longest wait (days)':28} {f.max_wait_days:>12} {o.max_wait_days:>12}")
    print(f"   {'objective':28} {fifo.objective:>12,} {optimal.objective:>12,}")
    print(f"   {'time (s)':28} {fifo_s:>12.2f} {optimal.stats['wall_time_s']:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--network-time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-network", action="store_true")
    parser.add_argument("--suites", type=int, nargs="*", default=[24, 27])
    args = parser.parse_args()
    for suites in args.suites:
        run(
            f"RTP facility year, {suites} suites",
            facility_year(suites=suites),
            args.time_limit,
            0.01,
            args.seed,
        )
    if not args.skip_network:
        run(
            "network year, 5 facilities x 70 suites, 40 centres",
            network_year(),
            args.network_time_limit,
            0.02,
            args.seed,
        )


if __name__ == "__main__":
    main()
