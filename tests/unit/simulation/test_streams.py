from __future__ import annotations

import numpy as np
import pytest

from veinline.planning.simulation._streams import (
    BLOCK,
    MANUFACTURING,
    PATIENCE,
    QC,
    SHIP,
    BlockPlan,
    Lane,
    LaneStream,
    draw_block,
)

from .scenarios import scenario, scenario_data


def test_a_lane_depends_only_on_the_seed_and_its_indices() -> None:
    config = scenario()
    a, b = Lane(config, 7, 3, 0), Lane(config, 7, 3, 0)
    assert np.array_equal(a.referral_days, b.referral_days)
    assert not np.array_equal(a.referral_days, Lane(config, 7, 4, 0).referral_days)
    assert not np.array_equal(a.referral_days, Lane(config, 8, 3, 0).referral_days)


def test_lane_seeding_is_numpys_spawn_tree() -> None:
    config = scenario()
    spawned = np.random.SeedSequence(11).spawn(3)[2].spawn(1)[0]
    rng = np.random.Generator(np.random.PCG64(spawned))
    lane = Lane(config, 11, 2, 0)
    expected_count = rng.poisson(config.facilities[0].patients_per_day * config.end_day)
    assert len(lane.referral_days) == expected_count


def test_referrals_arrive_at_the_configured_rate_in_order() -> None:
    config = scenario(patients_per_year=365, years=2, warmup_days=0)
    counts = [len(Lane(config, 1, r, 0).referral_days) for r in range(400)]
    # Poisson with mean 730: the mean of 400 lanes is within 730 ± 4 standard errors.
    assert abs(np.mean(counts) - 730) < 4 * np.sqrt(730 / 400)
    days = Lane(config, 1, 0, 0).referral_days
    assert np.all(np.diff(days) >= 0) and days[0] >= 0 and days[-1] <= config.end_day


def test_products_follow_the_mix() -> None:
    config = scenario(patients_per_year=3650, product_mix={"a": 3, "b": 1})
    products = Lane(config, 5, 0, 0).products
    assert np.mean(products == 1) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    ("durations", "low", "high"),
    [
        ({"distribution": "lognormal", "cv": 0.3}, 0.0, np.inf),
        ({"distribution": "triangular", "spread": 0.5}, 0.5, 1.5),
        ({"distribution": "fixed"}, 1.0, 1.0),
    ],
)
def test_duration_multipliers_have_mean_one(
    durations: dict[str, object], low: float, high: float
) -> None:
    config = scenario(durations={"manufacturing": durations, "qc": durations, "ship": durations})
    rng = np.random.default_rng(3)
    plan = BlockPlan.of(config)
    draws = np.concatenate([draw_block(rng, plan) for _ in range(100)], axis=1)
    for column in (MANUFACTURING, QC, SHIP):
        assert draws[column].mean() == pytest.approx(1.0, abs=0.01)
        assert draws[column].min() >= low and draws[column].max() <= high


def test_lognormal_multipliers_have_the_configured_spread() -> None:
    durations = {"distribution": "lognormal", "cv": 0.2}
    config = scenario(durations={"manufacturing": durations})
    rng = np.random.default_rng(4)
    draws = np.concatenate([draw_block(rng, BlockPlan.of(config)) for _ in range(100)], axis=1)
    assert draws[MANUFACTURING].std() == pytest.approx(0.2, abs=0.01)


def test_patience_is_exponential_with_the_dropout_hazard() -> None:
    config = scenario(dropout_hazard_per_month=0.5)
    draws = np.concatenate(
        [draw_block(np.random.default_rng(i), BlockPlan.of(config)) for i in range(50)], axis=1
    )
    assert draws[PATIENCE].mean() == pytest.approx(1 / config.dropout_hazard_per_day, rel=0.03)


def test_without_dropout_nobody_runs_out_of_patience() -> None:
    config = scenario(scenario_data(dropout_hazard_per_month=0))
    assert np.all(np.isinf(draw_block(np.random.default_rng(0), BlockPlan.of(config))[PATIENCE]))


def test_a_stream_hands_out_blocks_in_order_across_block_ends() -> None:
    config = scenario()
    plan = BlockPlan.of(config)
    stream = LaneStream(np.random.default_rng(9), plan)
    handed = np.stack([stream.next_entry() for _ in range(BLOCK + 3)], axis=1)
    rng = np.random.default_rng(9)
    expected = np.concatenate([draw_block(rng, plan), draw_block(rng, plan)], axis=1)
    assert np.array_equal(handed, expected[:, : BLOCK + 3])
