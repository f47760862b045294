"""Random streams shared by both engines, so they can be compared replication by replication.

Each (replication, facility) pair is a *lane* with its own generator, seeded with
`SeedSequence(seed, spawn_key=(replication, facility))` — the child that
`SeedSequence(seed).spawn(...)[replication].spawn(...)[facility]` would give. A lane's
numbers therefore depend on the seed and the lane only, never on how replications are
split between workers.

A lane draws its referrals first, then blocks of variates for `BLOCK` entries each;
the n-th set goes to the n-th entry into the suite queue (in time order), whether a
new referral or a re-collected patient. Both engines follow that rule, so with the
same seed they see the same numbers and agree to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from veinline.planning.simulation.config import SimulationConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BLOCK = 1024

# The variates of one waitlist entry, by index.
PATIENCE = 0  # days a waiting patient stays on the waitlist (inf without dropout)
MANUFACTURING = 1  # multipliers of the product's mean days, each with mean 1
QC = 2
SHIP = 3
FAIL_U = 4  # uniform draw; the batch fails when it is below the product's failure rate
RECOLLECT_PATIENCE = 5  # days the patient stays on the waitlist once a batch failed
COLUMNS = 6


def lane_generator(seed: int, replication: int, facility: int) -> np.random.Generator:
    """The generator of one lane."""
    sequence = np.random.SeedSequence(seed, spawn_key=(replication, facility))
    return np.random.Generator(np.random.PCG64(sequence))


def draw_referrals(
    rng: np.random.Generator, config: SimulationConfig, facility: int
) -> tuple[FloatArray, IntArray]:
    """Referral days (a Poisson process on [0, end]) and each referral's product index."""
    end = config.end_day
    count = int(rng.poisson(config.facilities[facility].patients_per_day * end))
    # Given their number, the points of a Poisson process are uniform order statistics.
    days = np.sort(rng.random(count) * end)
    cumulative = np.cumsum([p.share for p in config.products])
    products = np.searchsorted(cumulative[:-1], rng.random(count), side="right")
    return days, products.astype(np.int64)


@dataclass(frozen=True)
class BlockPlan:
    """What `draw_block` draws for a configuration, worked out once."""

    inverse_hazard: float
    """Mean days on the waitlist before leaving it (inf: nobody leaves)."""
    lognormal: tuple[tuple[int, float], ...]
    """(column, sigma) of the stages with a lognormal multiplier."""
    triangular: tuple[tuple[int, float], ...]
    """(column, spread) of the stages with a triangular multiplier."""

    @staticmethod
    def of(config: SimulationConfig) -> BlockPlan:
        stages = ((MANUFACTURING, config.manufacturing), (QC, config.qc), (SHIP, config.ship))
        hazard = config.dropout_hazard_per_day
        return BlockPlan(
            inverse_hazard=1.0 / hazard if hazard > 0 else math.inf,
            # Lognormal with mean 1 and coefficient of variation cv: sigma² = ln(1 + cv²).
            lognormal=tuple(
                (col, math.sqrt(math.log1p(spec.cv**2)))
                for col, spec in stages
                if spec.distribution == "lognormal" and spec.cv > 0
            ),
            triangular=tuple(
                (col, spec.spread)
                for col, spec in stages
                if spec.distribution == "triangular" and spec.spread > 0
            ),
        )


def draw_block(rng: np.random.Generator, plan: BlockPlan) -> FloatArray:
    """Variates for the next `BLOCK` entries, shape (COLUMNS, BLOCK), indexed by the
    constants above."""
    block = np.ones((COLUMNS, BLOCK))
    # Three calls in a fixed order: exponentials, normals, uniforms.
    exponential = rng.standard_exponential((2, BLOCK))
    normal = rng.standard_normal((len(plan.lognormal), BLOCK))
    uniform = rng.random((len(plan.triangular) + 1, BLOCK))

    if math.isinf(plan.inverse_hazard):
        block[PATIENCE] = block[RECOLLECT_PATIENCE] = math.inf
    else:
        block[PATIENCE] = exponential[0] * plan.inverse_hazard
        block[RECOLLECT_PATIENCE] = exponential[1] * plan.inverse_hazard
    # Each stage lasts (product's mean days) × a multiplier with mean 1.
    for (col, sigma), z in zip(plan.lognormal, normal, strict=True):
        block[col] = np.exp(sigma * z - sigma * sigma / 2)
    for (col, spread), u in zip(plan.triangular, uniform[1:], strict=True):
        # Symmetric triangular on [1 - spread, 1 + spread], by its inverse CDF.
        block[col] = 1 + spread * np.sign(u - 0.5) * (1 - np.sqrt(2 * np.minimum(u, 1 - u)))
    block[FAIL_U] = uniform[0]
    return block


class Lane:
    """One lane's referrals and its generator, positioned to draw variate blocks."""

    def __init__(
        self, config: SimulationConfig, seed: int, replication: int, facility: int
    ) -> None:
        self.rng = lane_generator(seed, replication, facility)
        self.referral_days, self.products = draw_referrals(self.rng, config, facility)


class LaneStream:
    """One lane's variates, handed out entry by entry (the reference engine's view)."""

    def __init__(self, rng: np.random.Generator, plan: BlockPlan) -> None:
        self._rng = rng
        self._plan = plan
        self._block = draw_block(rng, plan)
        self._next = 0

    def next_entry(self) -> FloatArray:
        """The variates of the next entry into the suite queue, indexed by column."""
        if self._next == BLOCK:
            self._block = draw_block(self._rng, self._plan)
            self._next = 0
        draw = self._block[:, self._next]
        self._next += 1
        return draw
