"""Lower bound and guidance: the Lagrangian dual of the time-indexed model.

The time-indexed model has one 0/1 choice per patient, facility and start day; its
linear relaxation is tight for weighted waiting times but has far too many columns
for a simplex code on this machine (GLOP took 45 s on one 2,000-patient facility).
Relaxing the capacity rows with prices instead leaves one tiny problem per patient
— pick the start day whose cost plus the prices of the suite-days, QC intake and
apheresis chair it uses is least — which numpy solves for every patient at once.

For any non-negative prices the sum of those minima, less the priced capacity, is
a lower bound on every plan (weak duality), so the bound is valid whenever the
search stops. Prices are improved by a deflected subgradient method with a Polyak
step; the maximum is the linear-relaxation bound.

Start days close to a patient's earliest day are priced one by one; later ones in
blocks of `BLOCK` days, each block costed at its first day (costs only grow with
the day) plus its cheapest prices, which keeps the bound valid while cutting the
work for a 10,000-patient network by three quarters. Starts that no suite can take
(a whole-facility shutdown) are left out.

Suite closures count here as a smaller number of suites on the closed days; which
suite is closed matters only to the exact planners (`_calendar.py`), so the bound
is a relaxation there too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from veinline.planning._problem import NO_DEADLINE, BoolArray, FloatArray, IntArray, Problem

#: Start days priced one by one after a patient's earliest start.
DAILY_DAYS = 42
#: Width of the blocks that cover later start days.
BLOCK = 7


@dataclass
class Capacity:
    """Room left for the patients in the bound, after fixed work and outside bookings."""

    suite: FloatArray
    """(facilities, horizon) suites free per day."""
    qc: FloatArray
    """(facilities, horizon + 1) QC intake per day (large where unlimited)."""
    centre: FloatArray
    """(centres, horizon) collections per day."""
    startable: list[BoolArray]
    """Per facility, (max duration + 1, horizon): True where a batch of that length
    can start on that day in at least one suite."""


def capacity_for(problem: Problem, exclude_patients: frozenset[int] = frozenset()) -> Capacity:
    """Room left by fixed work (patients in `exclude_patients` are ignored here)."""
    horizon = problem.horizon
    nf = len(problem.facility_ids)
    suite = np.zeros((nf, horizon))
    qc = np.full((nf, horizon + 1), 1e9)
    for f in range(nf):
        suite[f] = problem.suites[f] - problem.closed[f].sum(axis=0)
        cap = problem.qc_capacity[f]
        if cap is not None:
            qc[f] = cap
    centre = np.repeat(problem.centre_capacity.astype(float)[:, None], horizon, axis=1)
    for work in problem.fixed:
        lo, hi = max(work.start, 0), min(work.end, horizon)
        if lo < hi:
            suite[work.facility, lo:hi] -= 1
        if 0 <= work.end <= horizon:
            qc[work.facility, work.end] -= 1
        if 0 <= work.apheresis < horizon:
            centre[work.centre, work.apheresis] -= 1
    longest = int(problem.duration.max()) if problem.size else 1
    startable = []
    for f in range(nf):
        # A suite can take a batch of length p on day t if it is open on all of
        # [t, t + p): count open-run lengths per suite.
        shut = problem.closed[f]
        run = np.zeros_like(shut, dtype=np.int64)
        ahead = np.zeros(shut.shape[0], dtype=np.int64)
        for d in range(horizon - 1, -1, -1):
            ahead = np.where(shut[:, d], 0, ahead + 1)
            run[:, d] = ahead
        best = run.max(axis=0)
        table = np.zeros((longest + 1, horizon), dtype=np.bool_)
        for p in range(1, longest + 1):
            table[p] = best >= p
        startable.append(table)
    return Capacity(np.maximum(suite, 0), np.maximum(qc, 0), np.maximum(centre, 0), startable)


@dataclass
class DualResult:
    """The best bound found, and the start days it suggests."""

    bound: float
    iterations: int
    wall_time_s: float
    suggested_start: IntArray
    """Per model patient: the start day of its cheapest priced choice (-1: none)."""
    suggested_facility: IntArray


class LagrangianDual:
    """Prices on suite-days, QC intake and apheresis chairs for a group of patients."""

    def __init__(self, problem: Problem, patients: Sequence[int], room: Capacity) -> None:
        self.problem = problem
        self.patients = np.asarray(patients, dtype=np.int64)
        self.n = int(self.patients.size)
        horizon = problem.horizon
        self.horizon = horizon
        self.nf = len(problem.facility_ids)
        self.nk = len(problem.centre_ids)
        self.room = room
        idx = self.patients
        self.weight = problem.weight[idx].astype(np.float64)
        self.earliest = problem.earliest[idx]
        self.latest = problem.latest_start[idx]
        self.unscheduled = np.array(
            [problem.unscheduled_cost(int(j)) for j in idx], dtype=np.float64
        )
        daily: list[tuple[int, int, int, int]] = []  # (m, f, t, group)
        blocks: list[tuple[int, int, int, int, int]] = []  # (m, f, block, first day, group)
        groups: dict[tuple[int, int, int, int], int] = {}
        for m, j in enumerate(idx):
            p = int(problem.duration[j])
            k = int(problem.centre[j])
            last = horizon - p
            for option in problem.options[int(j)]:
                f = option.facility
                key = (f, p, k, option.transport)
                g = groups.setdefault(key, len(groups))
                ok = room.startable[f][p]
                daily_end = min(last, option.earliest + DAILY_DAYS)
                first_block = -(-(daily_end + 1) // BLOCK)
                daily_end = min(last, first_block * BLOCK - 1)
                for t in range(option.earliest, daily_end + 1):
                    if ok[t]:
                        daily.append((m, f, t, g))
                for b in range(first_block, last // BLOCK + 1):
                    first = max(b * BLOCK, option.earliest)
                    if first <= last and ok[first : min(last, b * BLOCK + BLOCK - 1) + 1].any():
                        blocks.append((m, f, b, first, g))
        self.groups = groups
        self.transport_of = np.full((self.n, self.nf), -1, dtype=np.int64)
        for m, j in enumerate(idx):
            for option in problem.options[int(j)]:
                self.transport_of[m, option.facility] = option.transport
        self.duration = problem.duration[idx]
        self.centre_of = problem.centre[idx]
        self.group_f = np.array([key[0] for key in groups], dtype=np.int64)
        self.group_p = np.array([key[1] for key in groups], dtype=np.int64)
        self.group_k = np.array([key[2] for key in groups], dtype=np.int64)
        self.group_tr = np.array([key[3] for key in groups], dtype=np.int64)
        day_rows = np.array(daily, dtype=np.int64).reshape(-1, 4)
        block_rows = np.array(blocks, dtype=np.int64).reshape(-1, 5)
        self.d_job, self.d_fac = day_rows[:, 0], day_rows[:, 1]
        self.d_start, self.d_group = day_rows[:, 2], day_rows[:, 3]
        self.b_job, self.b_fac = block_rows[:, 0], block_rows[:, 1]
        self.b_block, self.b_first, self.b_group = (
            block_rows[:, 2],
            block_rows[:, 3],
            block_rows[:, 4],
        )
        self.d_cost = self._cost(self.d_job, self.d_start)
        self.b_cost = self._cost(self.b_job, self.b_first)
        self.d_p = self.group_p[self.d_group]
        self.d_apheresis = self.d_start - self.group_tr[self.d_group]
        self.d_centre = self.group_k[self.d_group]
        self.blocks_per_row = horizon // BLOCK + 1
        # Days a group may start on (startable and inside the horizon), for block minima.
        self.group_ok = np.zeros((len(groups), self.blocks_per_row * BLOCK), dtype=np.bool_)
        for key, g in groups.items():
            f, p, _, tr = key
            ok = room.startable[f][p][: horizon - p + 1].copy()
            ok[: max(tr, 0)] = False  # collection would fall before day 0
            self.group_ok[g, : ok.size] = ok

    def _cost(self, job: IntArray, start: IntArray) -> FloatArray:
        late = (start > self.latest[job]) & (self.latest[job] < NO_DEADLINE)
        cost = self.weight[job] * (start - self.earliest[job]) + late * float(
            self.problem.miss_cost
        )
        return np.asarray(cost, dtype=np.float64)

    # -- one evaluation -------------------------------------------------------

    def evaluate(
        self, suite: FloatArray, qc: FloatArray, centre: FloatArray
    ) -> tuple[float, IntArray, IntArray, tuple[FloatArray, FloatArray, FloatArray]]:
        """Dual value, each patient's chosen (facility, start) (-1: unscheduled), subgradient."""
        horizon = self.horizon
        prefix = np.zeros((self.nf, horizon + 1))
        np.cumsum(suite, axis=1, out=prefix[:, 1:])
        # Daily candidates.
        f, t, p = self.d_fac, self.d_start, self.d_p
        d_val = (
            self.d_cost
            + prefix[f, t + p]
            - prefix[f, t]
            + qc[f, t + p]
            + centre[self.d_centre, self.d_apheresis]
        )
        # Block candidates: cheapest price within the block, per group.
        days = np.arange(self.blocks_per_row * BLOCK)
        gp = self.group_p
        gf = self.group_f
        end = np.minimum(days[None, :] + gp[:, None], horizon)
        start_c = np.minimum(days, horizon)[None, :].repeat(len(gp), axis=0)
        aph = days[None, :] - self.group_tr[:, None]
        price = (
            prefix[gf[:, None], end]
            - prefix[gf[:, None], start_c]
            + qc[gf[:, None], end]
            + centre[self.group_k[:, None], np.clip(aph, 0, horizon - 1)]
        )
        price = np.where(self.group_ok, price, np.inf)
        blocked = price.reshape(len(gp), self.blocks_per_row, BLOCK)
        block_min = blocked.min(axis=2)
        block_arg = blocked.argmin(axis=2)
        # The first block of a patient may start after the block's first day.
        b_price = block_min[self.b_group, self.b_block]
        partial = self.b_first > self.b_block * BLOCK
        if partial.any():
            rows = np.flatnonzero(partial)
            for r in rows:
                g, blk, first = self.b_group[r], self.b_block[r], self.b_first[r]
                seg = price[g, first : blk * BLOCK + BLOCK]
                b_price[r] = seg.min()
        b_val = self.b_cost + b_price
        b_day = self.b_block * BLOCK + block_arg[self.b_group, self.b_block]
        if partial.any():
            for r in np.flatnonzero(partial):
                g, blk, first = self.b_group[r], self.b_block[r], self.b_first[r]
                seg = price[g, first : blk * BLOCK + BLOCK]
                b_day[r] = first + int(seg.argmin())
        # Per patient minimum over daily, block and unscheduled choices.
        best = self.unscheduled.copy()
        np.minimum.at(best, self.d_job, d_val)
        np.minimum.at(best, self.b_job, b_val)
        finite = np.isfinite(best)
        value = float(best[finite].sum())
        value -= float((suite * self.room.suite).sum())
        value -= float((qc * self.room.qc).sum())
        value -= float((centre * self.room.centre).sum())
        chosen_start = np.full(self.n, -1, dtype=np.int64)
        chosen_fac = np.full(self.n, -1, dtype=np.int64)
        # Blocks first, then daily, so a tie goes to the exactly priced day.
        hit = np.flatnonzero(b_val <= best[self.b_job] + 1e-9)
        chosen_start[self.b_job[hit]] = b_day[hit]
        chosen_fac[self.b_job[hit]] = self.b_fac[hit]
        hit = np.flatnonzero(d_val <= best[self.d_job] + 1e-9)[::-1]
        chosen_start[self.d_job[hit]] = self.d_start[hit]
        chosen_fac[self.d_job[hit]] = self.d_fac[hit]
        unscheduled = self.unscheduled <= best + 1e-9
        chosen_start[unscheduled] = -1
        chosen_fac[unscheduled] = -1
        return value, chosen_fac, chosen_start, self._subgradient(chosen_fac, chosen_start)

    def _subgradient(
        self, fac: IntArray, start: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        horizon = self.horizon
        on = np.flatnonzero(start >= 0)
        f, t = fac[on], start[on]
        p = self.duration[on]
        k = self.centre_of[on]
        transport = self.transport_of[on, f]
        load = np.zeros((self.nf, horizon + 1))
        np.add.at(load, (f, t), 1.0)
        np.add.at(load, (f, np.minimum(t + p, horizon)), -1.0)
        suite = np.cumsum(load, axis=1)[:, :horizon] - self.room.suite
        qc = np.zeros((self.nf, horizon + 1))
        np.add.at(qc, (f, t + p), 1.0)
        qc -= self.room.qc
        centre = np.zeros((self.nk, horizon))
        np.add.at(centre, (k, t - transport), 1.0)
        centre -= self.room.centre
        return suite, qc, centre

    # -- the ascent -------------------------------------------------------------

    def run(
        self,
        *,
        iterations: int,
        deadline: float,
        upper_bound: Callable[[], float],
        on_snapshot: Callable[[IntArray, IntArray], None] | None = None,
        snapshot_every: int = 25,
        target_gap: float = 0.0,
    ) -> DualResult:
        """Deflected subgradient ascent; stops at `iterations`, `deadline` (perf_counter)
        or when the bound is within `target_gap` of `upper_bound()`."""
        started = time.perf_counter()
        prices = [
            np.zeros((self.nf, self.horizon)),
            np.zeros((self.nf, self.horizon + 1)),
            np.zeros((self.nk, self.horizon)),
        ]
        best = -np.inf
        best_fac = np.full(self.n, -1, dtype=np.int64)
        best_start = np.full(self.n, -1, dtype=np.int64)
        previous: list[FloatArray] | None = None
        stall = 0
        delta = 0.0
        done = 0
        for done in range(1, iterations + 1):
            value, fac, start, grads = self.evaluate(*prices)
            if done == 1 or value > best + 1e-6 * max(1.0, abs(best)):
                best, best_fac, best_start, stall = value, fac, start, 0
            else:
                stall += 1
            if on_snapshot is not None and done % snapshot_every == 0:
                on_snapshot(fac, start)
            ub = upper_bound()
            if ub - best <= target_gap * max(abs(ub), 1.0) or time.perf_counter() > deadline:
                break
            if done == 1:
                delta = max(0.5 * (ub - value), 1.0)
            if stall >= 15:
                delta *= 0.5
                stall = 0
            # Only components that can move count (a zero price cannot go lower).
            moving = [
                np.where((price <= 0) & (g < 0), 0.0, g)
                for price, g in zip(prices, grads, strict=True)
            ]
            direction = (
                moving
                if previous is None
                else [g + 0.5 * q for g, q in zip(moving, previous, strict=True)]
            )
            previous = direction
            norm = sum(float((g * g).sum()) for g in direction)
            if norm <= 0:
                break
            step = (min(best + delta, ub) - value) / norm
            if step <= 0:
                step = delta / norm
            prices = [
                np.maximum(price + step * g, 0.0)
                for price, g in zip(prices, direction, strict=True)
            ]
        return DualResult(
            bound=float(best),
            iterations=done,
            wall_time_s=time.perf_counter() - started,
            suggested_start=best_start,
            suggested_facility=best_fac,
        )
