"""Benchmark: what sealing patient data costs (docs/security.md, "Patient data at rest").

Run from the repository root:

    .venv/bin/python benchmarks/bench_crypto.py              # about 20 seconds
    .venv/bin/python benchmarks/bench_crypto.py --cases 500

Prints the keyring's seal, open and digest rates for a name-sized value, then, on an
SQLite database in a temporary folder with the demo and N more enrolled cases: the time
to read every case (each opens its sealed columns) and the time `rekey.rotate` takes to
re-seal every sealed value under a new key.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from veinline.adapters import crypto, rekey
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import bootstrap
from veinline.config import Settings


def rates(n: int) -> None:
    ring = crypto.Keyring.generate()
    value = "Zelda Quixote-Marchbanks"
    started = time.perf_counter()
    sealed = [ring.seal(value, "cases.patient_name") for _ in range(n)]
    seal_s = time.perf_counter() - started
    started = time.perf_counter()
    for token in sealed:
        ring.open(token, "cases.patient_name")
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n):
        ring.lookup("wristband", "WB-0001")
    digest_s = time.perf_counter() - started
    print(f"seal   {n / seal_s:>10,.0f} values/s  ({seal_s / n * 1e6:.1f} µs each)")
    print(f"open   {n / open_s:>10,.0f} values/s  ({open_s / n * 1e6:.1f} µs each)")
    print(f"digest {n / digest_s:>10,.0f} values/s  ({digest_s / n * 1e6:.1f} µs each)")


def database(cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'veinline.db'}"
        ring = crypto.Keyring.generate()
        app = bootstrap(
            Settings(database_url=url, data_dir=Path(folder)),
            hasher=Argon2Hasher(fast_for_tests=True),
            keyring=ring,
        )
        app.bus.handle(demo_command(), actor=app.system_user())
        driver = Driver(app.bus, app.user, app.clock)
        started = time.perf_counter()
        for n in range(cases):
            driver.enrol(EQUE_CEL_HK, patient_name=f"Bench Patient {n}", wristband=f"WB-B{n}")
        enrol_s = time.perf_counter() - started
        started = time.perf_counter()
        with app.uow() as uow:
            count = len(uow.cases.list())
        read_s = time.perf_counter() - started
        crypto.attach(
            app.engine, crypto.Keyring(crypto.new_data_key(), ring._digest_key, (ring.current,))
        )
        started = time.perf_counter()
        done = rekey.rotate(app.engine, actor=app.system_user(), clock=app.clock)
        rotate_s = time.perf_counter() - started
        app.engine.dispose()
    print(f"enrol {cases} cases: {enrol_s:.2f} s ({enrol_s / cases * 1e3:.1f} ms each)")
    print(f"read all {count} cases: {read_s * 1e3:.1f} ms")
    print(f"rotate {done.total} sealed values: {rotate_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    rates(args.values)
    database(args.cases)


if __name__ == "__main__":
    main()
