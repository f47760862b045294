"""Simulation throughput, in facility-years simulated per second, for both engines.

    .venv/bin/python benchmarks/bench_simulate.py            # fast and reference engines
    .venv/bin/python benchmarks/bench_simulate.py --profile  # where the fast engine spends time

Uses the RTP example (docs/planning/rtp-simulation.json: one facility, 700 patients a
year, one measured year after a 90-day warm-up). A facility-year is one facility
simulated for a year; the warm-up counts, since it is simulated like the rest. Target:
at least 1,000 facility-years per second with the fast engine on a 2-core machine.
Wall-clock figures depend on what else the machine runs; "per CPU-second" does much
less (Unix only: it reads the CPU time of this process and its workers).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import time
from pathlib import Path

from veinline.planning.simulation import Engine, SimulationConfig, load_scenario, simulate

RTP = Path(__file__).resolve().parents[1] / "docs" / "planning" / "rtp-simulation.json"
TARGET = 1_000


def cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def measure(
    config: SimulationConfig, engine: Engine, replications: int, workers: int | None, repeats: int
) -> tuple[float, float, float]:
    """Best wall-clock seconds over `repeats` runs, the CPU seconds of that run, and
    the facility-years a run simulates."""
    best, cpu, facility_years = float("inf"), 0.0, 0.0
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), cpu_seconds()
        result = simulate(config, replications=replications, seed=2, engine=engine, workers=workers)
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best, cpu = elapsed, cpu_seconds() - started_cpu
        facility_years = result.facility_years
    return best, cpu, facility_years


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=RTP)
    parser.add_argument("--replications", type=int, default=2000, help="fast engine")
    parser.add_argument("--reference-replications", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--profile", action="store_true", help="profile one fast chunk")
    args = parser.parse_args()
    config = load_scenario(args.scenario)
    cores = os.cpu_count() or 1

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(simulate, config, replications=1000, seed=2, workers=1)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return

    years = config.end_day / 365
    print(f"scenario: {args.scenario.name}, {years:.2f} simulated years per replication")
    print(
        f"{'engine':<10} {'workers':>7} {'replications':>12} {'seconds':>8} "
        f"{'facility-years/s':>17} {'per CPU-second':>15}"
    )
    runs: list[tuple[Engine, int | None, int]] = [
        ("reference", 1, args.reference_replications),
        ("fast", 1, args.replications),
        ("fast", None, args.replications),
    ]
    for engine, workers, replications in runs:
        seconds, cpu, facility_years = measure(config, engine, replications, workers, args.repeats)
        rate, per_cpu = facility_years / seconds, facility_years / cpu
        shown = workers or cores
        print(
            f"{engine:<10} {shown:>7} {replications:>12} {seconds:>8.2f} "
            f"{rate:>17,.0f} {per_cpu:>15,.0f}"
        )
        if engine == "fast" and workers is None:
            verdict = "meets" if rate >= TARGET else "misses"
            print(f"fast engine on {cores} cores {verdict} the {TARGET:,} facility-years/s target")
    print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {cores} cores")


if __name__ == "__main__":
    main()
