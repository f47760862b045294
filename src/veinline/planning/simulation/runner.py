"""Running replications: in this process, on all local cores, or on a Dask cluster.

Replications are cut into chunks; each chunk runs in one worker and comes back as a
`ReplicationTable`. A replication's random numbers depend only on the seed and its
index (see `_streams`), so the results are the same whatever the chunking, the number
of workers or where they run.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from veinline.domain.errors import InvalidInput
from veinline.planning.simulation import fast, reference
from veinline.planning.simulation.config import DAYS_PER_YEAR, SimulationConfig
from veinline.planning.simulation.kpi import ReplicationTable, Summary, summarise

Engine = Literal["fast", "reference"]
ENGINES: tuple[Engine, ...] = ("fast", "reference")

ProgressCallback = Callable[[int], None]
"""Called with the number of replications just finished."""

# Lanes (replications × facilities) per chunk of the fast engine: wide enough that each
# NumPy call does real work (throughput levels off near a thousand lanes), narrow
# enough that a chunk of long horizons fits in memory.
FAST_LANES_PER_CHUNK = 1000
FAST_CHUNK_BYTES = 256 * 2**20
MAX_REPLICATIONS = 1_000_000
DASK_CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class Chunk:
    """A slice of replications of one configuration, run by one worker."""

    config: SimulationConfig
    seed: int
    start: int
    stop: int
    engine: Engine

    @property
    def size(self) -> int:
        return self.stop - self.start


def run_chunk(chunk: Chunk) -> ReplicationTable:
    """Run one chunk (in whichever process or Dask worker receives it)."""
    replications = range(chunk.start, chunk.stop)
    if chunk.engine == "fast":
        return fast.simulate(chunk.config, chunk.seed, replications)
    return reference.simulate(chunk.config, chunk.seed, replications)


@dataclass(frozen=True)
class SimulationResult:
    """A finished run: its inputs, the raw replications and the KPI estimates."""

    config: SimulationConfig
    seed: int
    engine: Engine
    table: ReplicationTable
    summary: Summary

    @property
    def facility_years(self) -> float:
        """Facility-years simulated, warm-up included."""
        n_fac = len(self.config.facilities)
        return len(self.table) * n_fac * self.config.end_day / DAYS_PER_YEAR

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": describe(self.config),
            "engine": self.engine,
            "seed": self.seed,
            "replications": len(self.table),
            "kpis": self.summary.as_dict(),
        }


@dataclass(frozen=True)
class SweepPoint:
    """The KPI estimates at one suite count."""

    suites: int
    summary: Summary


def describe(config: SimulationConfig) -> dict[str, Any]:
    """What a results file says about the scenario it came from."""
    start, end = config.window
    return {
        "start_date": config.start_date.isoformat(),
        "measured_from": (config.start_date + timedelta(days=start)).isoformat(),
        "measured_to": (config.start_date + timedelta(days=end)).isoformat(),
        "warmup_days": config.warmup_days,
        "years": config.years,
        "patients_per_year": round(sum(f.patients_per_day for f in config.facilities) * 365, 6),
        "facilities": [
            {"id": f.id, "suites": f.suites, "qc_daily_capacity": f.qc_capacity}
            for f in config.facilities
        ],
        "products": [
            {"code": p.code, "share": round(p.share, 6), "failure_rate": p.failure_rate}
            for p in config.products
        ],
    }


def simulate(
    config: SimulationConfig,
    *,
    replications: int,
    seed: int,
    engine: Engine = "fast",
    workers: int | None = None,
    dask_address: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Run `replications` independent replications and estimate the KPIs."""
    _check(replications, seed, engine, workers)
    with _executor(workers, dask_address) as executor:
        chunks = list(_chunks(config, seed, replications, engine, executor.parallelism))
        tables = executor.run(chunks, on_progress or _ignore)
    table = ReplicationTable.concat(tables)
    return SimulationResult(config, seed, engine, table, summarise(table, config))


def sweep_suites(
    config: SimulationConfig,
    suites: Sequence[int],
    *,
    facility: str | None = None,
    replications: int,
    seed: int,
    engine: Engine = "fast",
    workers: int | None = None,
    dask_address: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[SweepPoint]:
    """The KPIs at each suite count; every count sees the same patients (same seed)."""
    _check(replications, seed, engine, workers)
    if not suites:
        raise InvalidInput("give at least one suite count to sweep")
    configs = [config.with_suites(n, facility) for n in suites]
    with _executor(workers, dask_address) as executor:
        chunks = [
            chunk
            for cfg in configs
            for chunk in _chunks(cfg, seed, replications, engine, executor.parallelism)
        ]
        tables = executor.run(chunks, on_progress or _ignore)
    points = []
    for n, cfg in zip(suites, configs, strict=True):
        mine = [t for c, t in zip(chunks, tables, strict=True) if c.config is cfg]
        points.append(SweepPoint(n, summarise(ReplicationTable.concat(mine), cfg)))
    return points


def fast_lanes_per_chunk(config: SimulationConfig) -> int:
    """How many lanes the fast engine runs side by side, given the memory a lane needs."""
    referrals = max(f.patients_per_day for f in config.facilities) * config.end_day
    # Per referral: its day, product, wait and vein-to-vein (8 bytes each), with room
    # for Poisson scatter; per lane: a block of draws and the event tables.
    per_lane = 32 * (1.2 * referrals + 100) + 64 * 1024
    return max(16, min(FAST_LANES_PER_CHUNK, int(FAST_CHUNK_BYTES / per_lane)))


def _check(replications: int, seed: int, engine: str, workers: int | None) -> None:
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise InvalidInput(
            f"replications must be between 1 and {MAX_REPLICATIONS:,} (got {replications})"
        )
    if seed < 0:
        raise InvalidInput(f"the seed must be a whole number ≥ 0 (got {seed})")
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if workers is not None and workers < 1:
        raise InvalidInput(f"workers must be at least 1 (got {workers})")


def _parallelism(workers: int | None) -> int:
    return workers if workers is not None else os.cpu_count() or 1


def _chunks(
    config: SimulationConfig, seed: int, replications: int, engine: Engine, parallelism: int
) -> Iterator[Chunk]:
    if engine == "fast":
        # Few wide chunks: a step costs about the same for 100 lanes as for 300.
        lanes = replications * len(config.facilities)
        count = max(parallelism, math.ceil(lanes / fast_lanes_per_chunk(config)))
    else:
        # Several chunks per worker, so the progress bar moves and the load evens out.
        count = parallelism * 4
    size = math.ceil(replications / min(count, replications))
    for start in range(0, replications, size):
        yield Chunk(config, seed, start, min(start + size, replications), engine)


def _ignore(done: int) -> None:
    pass


class _Executor:
    """Runs chunks and returns their tables in chunk order."""

    parallelism = 1
    """How many chunks can run at once."""

    def run(self, chunks: list[Chunk], report: ProgressCallback) -> list[ReplicationTable]:
        tables = []
        for chunk in chunks:
            tables.append(run_chunk(chunk))
            report(chunk.size)
        return tables


class _LocalProcesses(_Executor):
    """Worker processes on this machine, started for the run."""

    def __init__(self, workers: int) -> None:
        self.parallelism = workers

    def run(self, chunks: list[Chunk], report: ProgressCallback) -> list[ReplicationTable]:
        if len(chunks) == 1:
            return super().run(chunks, report)
        results: dict[int, ReplicationTable] = {}
        with ProcessPoolExecutor(
            max_workers=min(self.parallelism, len(chunks)), mp_context=_process_context()
        ) as pool:
            futures: dict[Future[ReplicationTable], int] = {
                pool.submit(run_chunk, chunk): i for i, chunk in enumerate(chunks)
            }
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                report(chunks[i].size)
        return [results[i] for i in range(len(chunks))]


class _DaskCluster(_Executor):
    """The workers of a Dask cluster, through a client connected for the run."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.parallelism = max(1, sum(client.nthreads().values()))

    def run(self, chunks: list[Chunk], report: ProgressCallback) -> list[ReplicationTable]:
        from distributed import as_completed as dask_completed

        futures = self.client.map(run_chunk, chunks, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: dict[int, ReplicationTable] = {}
        done = dask_completed(futures, loop=self.client.loop, with_results=True)  # type: ignore[no-untyped-call]
        for future, table in done:
            i = index[future.key]
            results[i] = table
            report(chunks[i].size)
        return [results[i] for i in range(len(chunks))]


@contextmanager
def _executor(workers: int | None, dask_address: str | None) -> Iterator[_Executor]:
    if dask_address is None:
        parallelism = _parallelism(workers)
        yield _Executor() if parallelism == 1 else _LocalProcesses(parallelism)
        return
    from distributed import Client

    address = dask_scheduler_address(dask_address)
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InvalidInput(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield _DaskCluster(client)


def _process_context() -> multiprocessing.context.BaseContext:
    """How to start worker processes.

    Forking is instant and the children inherit the imported simulator, but forking a
    process that runs threads can deadlock the child (and Python 3.12 warns of it);
    then, and off Linux, workers start from a clean forkserver or a fresh interpreter.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def dask_scheduler_address(address: str) -> str:
    """Check a scheduler address before connecting; `host:port` means `tcp://host:port`."""
    text = address.strip()
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "tcp", text
    if (
        any(c.isspace() for c in text)
        or not rest
        or (scheme != "inproc" and not re.fullmatch(r"[^/]+:\d{1,5}", rest))
    ):
        raise InvalidInput(
            f"Dask address {address!r}: give the scheduler's address as tcp://HOST:PORT "
            "(for example tcp://10.0.0.5:8786)"
        )
    return f"{scheme}://{rest}"
