"""Simulation throughput, in facility-years simulated per second, for both engines.

    .venv/bin/python benchmarks/bench_simulate.py            # fast and reference engines
    .venv/bin/python benchmarks/bench_simulate.py --profile  # where the fast engine spends time

Uses the RTP example (docs/planning/rtp-simulation.json: one facility, 700 patients a
year, one measured year after a 90-day warm-up). A facility-year is one facility
simulated for a year; the warm-up counts, since it is simulated like the rest. Target:
at least 1,000 facility-years per second with the fast engine on a 2-core machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

from veinline.planning.simulation import Engine, SimulationConfig, load_scenario, simulate

RTP = Path(__file__).resolve().parents[1] / "docs" / "planning" / "rtp-simulation.json"
TARGET = 1_000


def measure(
    config: SimulationConfig, engine: Engine, replications: int, workers: int | None, repeats: int
) -> tuple[float, float]:
    """Best elapsed seconds over `repeats` runs, and facility-years per second."""
    best = float("inf")
    facility_years = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        result = simulate(config, replications=replications, seed=2, engine=engine, workers=workers)
        best = min(best, time.perf_counter() - started)
        facility_years = result.facility_years
    return best, facility_years / best


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
    header = ("engine", "workers", "replications", "seconds", "facility-years/s")
    print(f"{header[0]:<10} {header[1]:>7} {header[2]:>12} {header[3]:>8} {header[4]:>17}")
    runs: list[tuple[Engine, int | None, int]] = [
        ("reference", 1, args.reference_replications),
        ("fast", 1, args.replications),
        ("fast", None, args.replications),
    ]
    for engine, workers, replications in runs:
        seconds, rate = measure(config, engine, replications, workers, args.repeats)
        shown = workers or cores
        print(f"{engine:<10} {shown:>7} {replications:>12} {seconds:>8.2f} {rate:>17,.0f}")
        if engine == "fast" and workers is None:
            verdict = "meets" if rate >= TARGET else "misses"
            print(f"fast engine on {cores} cores {verdict} the {TARGET:,} facility-years/s target")


if __name__ == "__main__":
    main()
