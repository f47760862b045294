from __future__ import annotations

import numpy as np
import pytest

from veinline.domain.errors import InvalidInput
from veinline.planning.simulation import ReplicationTable, runner, simulate, sweep_suites

from .scenarios import network, scenario


def assert_identical(a: ReplicationTable, b: ReplicationTable) -> None:
    assert np.array_equal(a.replications, b.replications)
    for key in a.facility:
        assert np.array_equal(a.facility[key], b.facility[key], equal_nan=True), key
    for key in a.network:
        assert np.array_equal(a.network[key], b.network[key], equal_nan=True), key


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_same_seed_gives_identical_results_whatever_the_worker_count(engine: runner.Engine) -> None:
    config = network()
    one = simulate(config, replications=24, seed=42, engine=engine, workers=1)
    two = simulate(config, replications=24, seed=42, engine=engine, workers=2)
    assert_identical(one.table, two.table)


def test_chunk_boundaries_do_not_change_a_replication() -> None:
    config = scenario()
    whole = runner.run_chunk(runner.Chunk(config, 3, 0, 10, "fast"))
    parts = [runner.run_chunk(runner.Chunk(config, 3, a, b, "fast")) for a, b in ((0, 3), (3, 10))]
    assert_identical(whole, ReplicationTable.concat(parts))


def test_a_different_seed_gives_different_results() -> None:
    a = simulate(scenario(), replications=5, seed=1, workers=1)
    b = simulate(scenario(), replications=5, seed=2, workers=1)
    assert not np.array_equal(a.table.facility["arrived"], b.table.facility["arrived"])


def test_progress_counts_every_replication_once() -> None:
    reported: list[int] = []
    simulate(
        scenario(),
        replications=30,
        seed=1,
        engine="reference",
        workers=1,
        on_progress=reported.append,
    )
    assert sum(reported) == 30 and len(reported) > 1


def test_runs_on_a_dask_cluster_with_the_same_results() -> None:
    from distributed import LocalCluster

    config = network()
    local = simulate(config, replications=10, seed=8, workers=1)
    cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=None)  # type: ignore[no-untyped-call]
    with cluster:
        remote = simulate(config, replications=10, seed=8, dask_address=cluster.scheduler_address)
    assert_identical(local.table, remote.table)


def test_an_unreachable_dask_scheduler_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "DASK_CONNECT_TIMEOUT", "0.5s")
    with pytest.raises(
        InvalidInput, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        simulate(scenario(), replications=2, seed=1, dask_address="127.0.0.1:9")


@pytest.mark.parametrize("address", ["", "two words:1", "tcp://host", "http//x:1"])
def test_a_malformed_dask_address_is_refused_before_connecting(address: str) -> None:
    with pytest.raises(InvalidInput, match="tcp://HOST:PORT"):
        runner.dask_scheduler_address(address)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replications": 0, "seed": 1}, "replications must be between 1"),
        ({"replications": 2, "seed": -1}, "seed must be a whole number"),
        ({"replications": 2, "seed": 1, "workers": 0}, "workers must be at least 1"),
        ({"replications": 2, "seed": 1, "engine": "quick"}, "engine must be one of"),
    ],
)
def test_bad_run_settings_are_user_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        simulate(scenario(), **kwargs)  # type: ignore[arg-type]


def test_a_sweep_gives_every_suite_count_the_same_patients() -> None:
    points = sweep_suites(
        scenario(patients_per_year=300), [4, 6, 12], replications=20, seed=4, workers=1
    )
    assert [p.suites for p in points] == [4, 6, 12]
    arrived = {p.summary.network["arrived_per_year"].mean for p in points}
    assert len(arrived) == 1  # common random numbers
    waits = [p.summary.network["wait_days_p50"].mean for p in points]
    treated = [p.summary.network["treated_per_year"].mean for p in points]
    assert waits[0] > waits[1] > waits[2]
    assert treated[0] < treated[1] < treated[2]


def test_a_sweep_of_a_network_needs_the_facility_named() -> None:
    with pytest.raises(InvalidInput, match="name the one whose suites vary"):
        sweep_suites(network(), [4, 5], replications=2, seed=1, workers=1)
    points = sweep_suites(network(), [2, 8], facility="west", replications=4, seed=1, workers=1)
    west = [p.summary.facilities["west"]["suite_utilisation"].mean for p in points]
    assert west[0] > west[1]


def test_results_as_json_carry_each_kpi_with_its_interval() -> None:
    result = simulate(scenario(), replications=5, seed=1, workers=1)
    data = result.as_dict()
    assert data["seed"] == 1 and data["engine"] == "fast" and data["replications"] == 5
    assert data["scenario"]["measured_from"] == "2026-01-31"
    wait = data["kpis"]["network"]["wait_days_p90"]
    assert wait["ci95"][0] <= wait["mean"] <= wait["ci95"][1]
    assert set(data["kpis"]["facilities"]) == {"east"}
    assert result.facility_years == pytest.approx(5 * (30 + 365) / 365)


def test_long_horizons_run_in_narrower_chunks_to_bound_memory() -> None:
    one_year = runner.fast_lanes_per_chunk(scenario(patients_per_year=700, years=1))
    fifty = runner.fast_lanes_per_chunk(scenario(patients_per_year=700, years=50))
    assert one_year == runner.FAST_LANES_PER_CHUNK
    assert 16 <= fifty < one_year / 4
