"""Benchmark: how long one user's work queue takes (docs/architecture.md, "Work queues").

Run from the repository root:

    .venv/bin/python benchmarks/bench_work_queue.py              # about a minute
    .venv/bin/python benchmarks/bench_work_queue.py --cases 1000

On an SQLite database in a temporary folder: the demo data with one demo case in every
state, plus N more enrolled cases (each waits on a physician's confirmation); then the
time `work_queue` takes for each demo role, and the number of items it lists.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, load_demo_cases
from veinline.bootstrap import bootstrap
from veinline.config import Settings
from veinline.entrypoints.views.work import work_queue

ROLES = ("coordinator", "physician", "nurse", "courier", "operator", "qc", "qa", "planner")


def run(cases: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = bootstrap(
            Settings(
                database_url=f"sqlite:///{Path(folder) / 'veinline.db'}", data_dir=Path(folder)
            ),
            hasher=Argon2Hasher(fast_for_tests=True),
        )
        app.bus.handle(demo_command(), actor=app.system_user())
        driver = Driver(app.bus, app.user, app.clock)
        load_demo_cases(driver)
        started = time.perf_counter()
        for n in range(cases):
            driver.enrol(EQUE_CEL_HK, patient_name=f"Bench Patient {n}", wristband=f"WB-Q{n}")
        print(f"enrolled {cases} more cases in {time.perf_counter() - started:.1f} s")
        for username in ROLES:
            user = app.user(username)
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                with app.uow() as uow:
                    queue = work_queue(uow, user, app.clock())
                timings.append(time.perf_counter() - started)
            best = min(timings) * 1e3
            print(
                f"{username:<12} {len(queue['items']):>5} items {len(queue['alerts']):>3} alerts"
                f"  best of {repeat}: {best:8.1f} ms"
            )
        app.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="enrolled cases to add")
    parser.add_argument("--repeat", type=int, default=3, help="runs per role (best is shown)")
    arguments = parser.parse_args()
    run(arguments.cases, arguments.repeat)


if __name__ == "__main__":
    main()
