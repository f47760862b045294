"""Key performance indicators: per replication, then a mean and a 95% confidence interval.

Each replication yields one value per KPI (a count, a utilisation, a percentile of the
waits it saw); the estimate is the mean of those values over independent replications
with a Student-t interval — the replication/deletion method of simulation output
analysis (Law, *Simulation Modeling and Analysis*, ch. 9).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from veinline.planning.simulation.config import DAYS_PER_YEAR, SimulationConfig

FloatArray = npt.NDArray[np.float64]

COUNTS = ("arrived", "treated", "lost", "failed", "suite_busy_days", "qc_busy_days")
PERCENTILES = (("wait", 50), ("wait", 90), ("v2v", 50), ("v2v", 90))
PERCENTILE_KEYS = tuple(f"{name}_p{q}" for name, q in PERCENTILES)

# Printed order and meaning of the KPIs in a summary.
KPI_LABELS: dict[str, str] = {
    "arrived_per_year": "patients referred per year",
    "treated_per_year": "patients infused per year",
    "lost_per_year": "patients lost while waiting, per year",
    "failed_batches_per_year": "batches failed (patient re-collected), per year",
    "suite_utilisation": "share of suite time manufacturing",
    "qc_utilisation": "share of QC intake slots in use",
    "wait_days_p50": "referral → manufacturing start, median (days)",
    "wait_days_p90": "referral → manufacturing start, 90th percentile (days)",
    "vein_to_vein_days_p50": "apheresis → infusion, median (days)",
    "vein_to_vein_days_p90": "apheresis → infusion, 90th percentile (days)",
}


@dataclass(frozen=True)
class ReplicationTable:
    """Raw results of a set of replications, one row per replication.

    `facility[name]` has shape (replications, facilities) for the counts in `COUNTS`
    and the per-facility percentiles; `network[name]` has shape (replications,) for
    the percentiles of all the network's patients pooled.
    """

    replications: npt.NDArray[np.int64]
    facility: Mapping[str, FloatArray]
    network: Mapping[str, FloatArray]

    def __len__(self) -> int:
        return len(self.replications)

    @staticmethod
    def concat(tables: Iterable[ReplicationTable]) -> ReplicationTable:
        """Join chunks and put the rows in replication order."""
        parts = list(tables)
        if not parts:
            raise ValueError("no tables to join")
        replications = np.concatenate([t.replications for t in parts])
        order = np.argsort(replications, kind="stable")
        return ReplicationTable(
            replications=replications[order],
            facility={
                k: np.concatenate([t.facility[k] for t in parts])[order] for k in parts[0].facility
            },
            network={
                k: np.concatenate([t.network[k] for t in parts])[order] for k in parts[0].network
            },
        )


def build_table(
    replications: Sequence[int],
    counts: Mapping[str, FloatArray],
    waits: FloatArray,
    vein_to_vein: FloatArray,
) -> ReplicationTable:
    """Assemble a table from per-lane counts (R, F) and samples (R, F, N), NaN-padded."""
    facility = {k: np.asarray(counts[k], dtype=np.float64) for k in COUNTS}
    network: dict[str, FloatArray] = {}
    for name, samples in (("wait", waits), ("v2v", vein_to_vein)):
        r, f, n = samples.shape
        qs = [q for sample_name, q in PERCENTILES if sample_name == name]
        per_facility = percentiles(samples, qs)
        pooled = percentiles(samples.reshape(r, f * n), qs)
        for i, q in enumerate(qs):
            facility[f"{name}_p{q}"] = per_facility[i]
            network[f"{name}_p{q}"] = pooled[i]
    return ReplicationTable(np.asarray(replications, dtype=np.int64), facility, network)


def percentiles(samples: FloatArray, qs: Sequence[float]) -> list[FloatArray]:
    """Percentiles along the last axis, ignoring NaN; NaN where a row has no values.

    Same "linear" rule as `numpy.percentile`, written out so an empty row is a NaN and
    not a warning.
    """
    ordered = np.sort(samples, axis=-1)  # NaN sorts last
    n = np.sum(~np.isnan(ordered), axis=-1)
    last = np.maximum(n - 1, 0)
    result = []
    for q in qs:
        h = last * (q / 100.0)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, last)
        a = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
        b = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
        value = a + (b - a) * (h - lo)
        result.append(np.where(n > 0, value, np.nan))
    return result


@dataclass(frozen=True)
class Estimate:
    """A KPI's mean over replications with its 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    """Replications that produced a value (a percentile needs at least one patient)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean": _finite(self.mean),
            "ci95": [_finite(self.low), _finite(self.high)],
            "replications": self.n,
        }


def estimate(values: FloatArray) -> Estimate:
    """Mean and Student-t 95% interval of the finite values."""
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(np.mean(finite))
    if n == 1:
        return Estimate(mean, math.nan, math.nan, 1)
    half = t_quantile_975(n - 1) * float(np.std(finite, ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class Summary:
    """KPI estimates for the network and for each facility."""

    replications: int
    network: dict[str, Estimate]
    facilities: dict[str, dict[str, Estimate]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "replications": self.replications,
            "network": {k: v.as_dict() for k, v in self.network.items()},
            "facilities": {
                fid: {k: v.as_dict() for k, v in kpis.items()}
                for fid, kpis in self.facilities.items()
            },
        }


def summarise(table: ReplicationTable, config: SimulationConfig) -> Summary:
    """Turn raw replication rows into KPI estimates."""
    start, end = config.window
    years = (end - start) / DAYS_PER_YEAR
    length = end - start
    suites = np.array([f.suites for f in config.facilities], dtype=np.float64)
    qc_slots = np.array([f.qc_capacity or 0 for f in config.facilities], dtype=np.float64)
    fac = table.facility

    def kpis(
        counts: Mapping[str, FloatArray],
        suite_days: FloatArray,
        qc_slot_days: FloatArray,
        samples: Mapping[str, FloatArray],
    ) -> dict[str, Estimate]:
        qc = (
            counts["qc_busy_days"] / qc_slot_days
            if np.all(qc_slot_days > 0)
            else np.full(len(table), np.nan)
        )
        return {
            "arrived_per_year": estimate(counts["arrived"] / years),
            "treated_per_year": estimate(counts["treated"] / years),
            "lost_per_year": estimate(counts["lost"] / years),
            "failed_batches_per_year": estimate(counts["failed"] / years),
            "suite_utilisation": estimate(counts["suite_busy_days"] / suite_days),
            "qc_utilisation": estimate(qc),
            "wait_days_p50": estimate(samples["wait_p50"]),
            "wait_days_p90": estimate(samples["wait_p90"]),
            "vein_to_vein_days_p50": estimate(samples["v2v_p50"]),
            "vein_to_vein_days_p90": estimate(samples["v2v_p90"]),
        }

    capacity = np.full(len(table), suites.sum() * length)
    with_qc = qc_slots > 0
    network_counts = {k: fac[k].sum(axis=1) for k in COUNTS}
    # Network QC use counts only the facilities whose QC capacity is limited.
    network_counts["qc_busy_days"] = fac["qc_busy_days"][:, with_qc].sum(axis=1)
    qc_capacity = np.full(len(table), qc_slots.sum() * length if with_qc.any() else 0.0)
    network = kpis(network_counts, capacity, qc_capacity, table.network)
    facilities = {
        f.id: kpis(
            {k: fac[k][:, i] for k in COUNTS},
            np.full(len(table), suites[i] * length),
            np.full(len(table), qc_slots[i] * length),
            {k: fac[k][:, i] for k in PERCENTILE_KEYS},
        )
        for i, f in enumerate(config.facilities)
    }
    return Summary(len(table), network, facilities)


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5);
    # beyond 30 degrees of freedom it is exact to the third decimal.
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
