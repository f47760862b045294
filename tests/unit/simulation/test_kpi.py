from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from veinline.planning.simulation.kpi import (
    COUNTS,
    ReplicationTable,
    build_table,
    estimate,
    percentiles,
    summarise,
    t_quantile_975,
)

from .scenarios import network


def test_percentiles_follow_numpy_and_skip_missing_values() -> None:
    rng = np.random.default_rng(0)
    samples = rng.random((4, 50))
    samples[1, 30:] = np.nan
    p50, p90 = percentiles(samples, [50, 90])
    for row in range(4):
        values = samples[row][~np.isnan(samples[row])]
        assert p50[row] == pytest.approx(np.percentile(values, 50))
        assert p90[row] == pytest.approx(np.percentile(values, 90))


def test_a_row_without_values_has_no_percentile_and_no_warning() -> None:
    samples = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (p50,) = percentiles(samples, [50])
    assert math.isnan(p50[0]) and p50[1] == 1.0


@pytest.mark.parametrize(
    ("df", "quantile"), [(1, 12.706), (4, 2.776), (30, 2.042), (60, 2.000), (120, 1.980)]
)
def test_t_quantiles_match_the_published_table(df: int, quantile: float) -> None:
    assert t_quantile_975(df) == pytest.approx(quantile, abs=1e-3)


def test_the_interval_is_students_t_around_the_mean() -> None:
    e = estimate(np.array([1.0, 2.0, 3.0]))
    half = 4.303 * 1.0 / math.sqrt(3)
    assert (e.mean, e.n) == (2.0, 3)
    assert (e.low, e.high) == pytest.approx((2 - half, 2 + half), abs=1e-3)


def test_replications_without_a_value_are_left_out_of_the_estimate() -> None:
    e = estimate(np.array([np.nan, 4.0, np.nan]))
    assert (e.mean, e.n) == (4.0, 1)
    assert math.isnan(e.low) and e.as_dict()["ci95"] == [None, None]


def test_joined_chunks_come_back_in_replication_order() -> None:
    def chunk(first: int) -> ReplicationTable:
        counts = {k: np.full((2, 1), float(first)) for k in COUNTS}
        samples = np.full((2, 1, 3), float(first))
        return build_table([first, first + 1], counts, samples, samples)

    joined = ReplicationTable.concat([chunk(4), chunk(0), chunk(2)])
    assert list(joined.replications) == [0, 1, 2, 3, 4, 5]
    assert list(joined.facility["arrived"][:, 0]) == [0, 0, 2, 2, 4, 4]
    assert list(joined.network["wait_p50"]) == [0, 0, 2, 2, 4, 4]


def test_utilisation_is_busy_time_over_capacity_in_the_window() -> None:
    config = network(years=2, warmup_days=0)  # east: 6 suites, 1 QC slot; west: 4 suites
    window = 2 * 365.0
    counts = {k: np.zeros((1, 2)) for k in COUNTS}
    counts["suite_busy_days"] = np.array([[6 * window * 0.5, 4 * window * 1.0]])
    counts["qc_busy_days"] = np.array([[window * 0.25, 0.0]])
    counts["treated"] = np.array([[100.0, 60.0]])
    empty = np.full((1, 2, 1), np.nan)
    summary = summarise(build_table([0], counts, empty, empty), config)
    assert summary.facilities["east"]["suite_utilisation"].mean == pytest.approx(0.5)
    assert summary.network["suite_utilisation"].mean == pytest.approx((3 + 4) / 10)
    assert summary.network["qc_utilisation"].mean == pytest.approx(0.25)  # west has no limit
    assert math.isnan(summary.facilities["west"]["qc_utilisation"].mean)
    assert summary.network["treated_per_year"].mean == pytest.approx(80)
