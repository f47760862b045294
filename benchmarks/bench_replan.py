"""Benchmark: replanning the 700-patient RTP year after one batch failure (and one slip).

Run from the repository root:

    .venv/bin/python benchmarks/bench_replan.py

Plans the year once, then replans after a failure in each of several months, and
after one slip; prints the time of each replan, how many patients moved, the change
in the objective and the feasibility check.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from veinline.planning.events import BatchFailure, Slip
from veinline.planning.feasibility import check_plan
from veinline.planning.generate import facility_year
from veinline.planning.replan import ReplanOptions, replan
from veinline.planning.scheduler import SolverOptions, plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=24)
    parser.add_argument("--plan-time-limit", type=float, default=10.0)
    args = parser.parse_args()
    scenario = facility_year(suites=args.suites)
    base = plan(scenario, options=SolverOptions(time_limit_s=args.plan_time_limit))
    print(
        f"base plan: {len(scenario.patients)} patients, {args.suites} suites, objective "
        f"{base.objective:,}, gap {100 * (base.gap or 0):.2f} %"
    )
    print(f"{'event':38} {'time (s)':>9} {'moved':>6} {'objective':>12} {'change':>9} {'ok':>4}")
    times = []
    for month in (2, 4, 6, 8, 10):
        victim = sorted(
            (a for a in base.assignments if a.manufacturing_start.month == month),
            key=lambda a: a.manufacturing_start,
        )[5]
        event: BatchFailure | Slip = BatchFailure(
            patient=victim.patient, date=victim.manufacturing_start + timedelta(days=4)
        )
        times.append(_one(f"failure of {victim.patient} on {event.date}", base, scenario, event))
    victim = sorted(
        (a for a in base.assignments if a.manufacturing_start.month == 6),
        key=lambda a: a.manufacturing_start,
    )[10]
    slip = Slip(
        patient=victim.patient,
        date=victim.manufacturing_start + timedelta(days=2),
        new_manufacturing_end=victim.manufacturing_end + timedelta(days=4),
    )
    times.append(_one(f"slip of {victim.patient} by 4 days", base, scenario, slip))
    print(f"slowest replan {max(times):.3f} s, mean {sum(times) / len(times):.3f} s")


def _one(label: str, base, scenario, event) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = replan(base, scenario, event, options=ReplanOptions())
    elapsed = time.perf_counter() - started
    ok = "yes" if not check_plan(result, scenario) else "NO"
    change = result.objective - base.objective
    print(
        f"{label:38} {elapsed:>9.3f} {len(result.moves):>6} {result.objective:>12,} "
        f"{change:>+9,} {ok:>4}"
    )
    for move in result.moves[:4]:
        print(f"    {move.patient}: {move.reason}")
    return elapsed


if __name__ == "__main__":
    main()
