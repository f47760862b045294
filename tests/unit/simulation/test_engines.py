"""The model's behaviour, and the fast engine held to the SimPy reference."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from veinline.planning.simulation import SimulationConfig, fast, reference
from veinline.planning.simulation.kpi import ReplicationTable

from .scenarios import network, scenario, scenario_data

FIXED = {"distribution": "fixed"}
ALL_FIXED = {"manufacturing": FIXED, "qc": FIXED, "ship": FIXED}


def both(
    config: SimulationConfig, replications: range, seed: int = 1
) -> tuple[ReplicationTable, ReplicationTable]:
    return (
        reference.simulate(config, seed, replications),
        fast.simulate(config, seed, replications),
    )


def assert_same(a: ReplicationTable, b: ReplicationTable) -> None:
    for key in ("arrived", "treated", "lost", "failed"):
        assert np.array_equal(a.facility[key], b.facility[key]), key
    for key in a.facility:
        np.testing.assert_allclose(a.facility[key], b.facility[key], rtol=1e-9, err_msg=key)
    for key in a.network:
        np.testing.assert_allclose(a.network[key], b.network[key], rtol=1e-9, err_msg=key)


# --- the model, on cases worked out by hand (both engines) ---------------------------


@pytest.mark.parametrize("engine", [reference, fast])
def test_with_fixed_times_and_ample_suites_vein_to_vein_is_the_sum_of_stages(
    engine: ModuleType,
) -> None:
    data = scenario_data(durations=ALL_FIXED, product_mix={"a": 1})
    data["products"][0]["failure_rate"] = 0
    data["facilities"][0]["suites"] = 50
    del data["qc"]
    table = engine.simulate(scenario(data), 3, range(4))
    assert np.all(table.network["wait_p90"] == 0)
    assert table.network["v2v_p50"] == pytest.approx(np.full(4, 12 + 8 + 2))
    assert np.all(table.facility["lost"] == 0)  # nobody waits, so nobody leaves the waitlist
    assert np.all(table.facility["treated"] >= table.facility["arrived"] - 10)


@pytest.mark.parametrize("engine", [reference, fast])
def test_a_failed_batch_costs_a_recollection_and_a_second_run(engine: ModuleType) -> None:
    data = scenario_data(durations=ALL_FIXED, product_mix={"a": 1}, dropout_hazard_per_month=0)
    data["products"][0]["failure_rate"] = 0.5
    data["facilities"][0]["suites"] = 50
    del data["qc"]
    table = engine.simulate(scenario(data), 3, range(6))
    once, twice = 22, 22 + (12 + 8) + 21  # a second run starts after re-collection
    assert table.network["v2v_p50"] == pytest.approx(np.full(6, once))
    assert np.all(table.network["v2v_p90"] >= twice - 1e-9)
    assert table.facility["failed"].sum() > 0
    assert np.all(table.facility["lost"] == 0)


@pytest.mark.parametrize("engine", [reference, fast])
def test_a_blocked_facility_loses_its_waitlist_to_dropout(engine: ModuleType) -> None:
    data = scenario_data(durations=ALL_FIXED, dropout_hazard_per_month=30, warmup_days=0)
    data["facilities"][0]["suites"] = 1
    data["products"][0]["manufacturing_days"] = data["products"][1]["manufacturing_days"] = 5000
    table = engine.simulate(scenario(data), 3, range(3))
    arrived, lost = table.facility["arrived"][:, 0], table.facility["lost"][:, 0]
    # One patient holds the only suite all year; the rest leave within days.
    assert np.all(table.facility["treated"] == 0)
    assert np.all(lost >= arrived - 5)


@pytest.mark.parametrize("engine", [reference, fast])
def test_suite_time_never_exceeds_capacity(engine: ModuleType) -> None:
    config = scenario(patients_per_year=2000, dropout_hazard_per_month=0)
    table = engine.simulate(config, 2, range(3))
    window = config.window[1] - config.window[0]
    busy = table.facility["suite_busy_days"][:, 0]
    assert np.all(busy <= 6 * window + 1e-9) and np.all(busy > 0.95 * 6 * window)
    assert np.all(table.facility["qc_busy_days"][:, 0] <= window + 1e-9)


# --- the fast engine against the reference --------------------------------------------


def test_fast_engine_matches_reference_replication_by_replication() -> None:
    assert_same(*both(network(), range(12)))


def test_engines_match_without_dropout_and_with_qc_holding_the_whole_test() -> None:
    config = network(dropout_hazard_per_month=0, qc_slot_days=None, warmup_days=0)
    assert_same(*both(config, range(8), seed=5))


def test_engines_match_on_an_overloaded_facility_with_a_long_waitlist() -> None:
    # No dropout and demand far above capacity: the fast engine's event tables must grow.
    config = scenario(patients_per_year=600, dropout_hazard_per_month=0)
    assert_same(*both(config, range(4), seed=9))


def test_engines_match_past_the_first_block_of_random_numbers() -> None:
    config = scenario(patients_per_year=900, years=1.5)  # more than 1,024 waitlist entries
    assert_same(*both(config, range(2), seed=3))


def test_engines_agree_statistically_on_independent_draws() -> None:
    config = scenario()
    n = 200
    ref = reference.simulate(config, 101, range(n))
    fst = fast.simulate(config, 202, range(n))
    for table_key, key in [
        ("facility", "treated"),
        ("facility", "lost"),
        ("facility", "failed"),
        ("network", "wait_p50"),
        ("network", "wait_p90"),
        ("network", "v2v_p50"),
    ]:
        a = np.ravel(getattr(ref, table_key)[key])
        b = np.ravel(getattr(fst, table_key)[key])
        # Welch's two-sample z: means of 200 replications each, within 4 standard errors.
        se = np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
        assert abs(a.mean() - b.mean()) < 4 * se, key
