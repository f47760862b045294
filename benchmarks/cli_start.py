"""Benchmark: how long the `veinline` command takes to start, next to `python -c pass`.

Run from the repository root (after scripts/install, which compiles the bytecode):

    .venv/bin/python benchmarks/cli_start.py            # 11 runs of each
    .venv/bin/python benchmarks/cli_start.py --runs 21

Each command is a whole process, timed from start to exit (wall clock), in turn with the
others so a drift in the machine's speed touches them all alike; one run of each first
is not counted. `catalog list` reads a fresh SQLite database seeded with the catalogue.
Prints the median, min and max of each, and the median over `python -c pass`, and the
median CPU seconds (user + system) of each process: on a machine shared with other work
the wall clock waits for a core, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VEINLINE = str(Path(sys.executable).with_name("veinline"))


def commands() -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "veinline --help": [VEINLINE, "--help"],
        "veinline isbt check-char": [VEINLINE, "isbt", "check-char", "G123417654321"],
        "veinline catalog list": [VEINLINE, "catalog", "list"],
    }


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The command's wall and CPU seconds."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11, help="counted runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, "VEINLINE_DATABASE_URL": f"sqlite:///{Path(workdir) / 'v.db'}"}
        for seed in (["db", "upgrade"], ["catalog", "load"]):
            subprocess.run([VEINLINE, *seed], env=env, check=True, stdout=subprocess.DEVNULL)
        timed = commands()
        times: dict[str, list[float]] = {name: [] for name in timed}
        cpu: dict[str, list[float]] = {name: [] for name in timed}
        for round_ in range(args.runs + 1):
            for name, argv in timed.items():
                seconds, cpu_seconds = run_once(argv, env)
                if round_:  # the first round warms the caches and is not counted
                    times[name].append(seconds)
                    cpu[name].append(cpu_seconds)
    baseline = statistics.median(times["python -c pass"])
    print(f"CLI start, {args.runs} runs each (wall seconds; {os.cpu_count()} CPUs)")
    print(f"{'command':28s} {'median':>8s} {'min':>8s} {'max':>8s} {'× pass':>8s} {'CPU':>8s}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(
            f"{name:28s} {median:8.3f} {min(runs):8.3f} {max(runs):8.3f} {median / baseline:8.1f}"
            f" {statistics.median(cpu[name]):8.3f}"
        )


if __name__ == "__main__":
    main()
