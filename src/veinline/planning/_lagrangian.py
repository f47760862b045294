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
blocks of a week, then of four weeks, each block costed at its first day (costs only
grow with the day) plus its cheapest prices, which keeps the bound valid while
cutting the work for a 10,000-patient network by four fifths. Starts that no suite can take
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

#: Start days priced one by one after a patient's earliest start (a facility; networks
#: use fewer, see `scheduler`).
DAILY_DAYS = 42
#: Width of the blocks that cover later start days, for MID_DAYS after the daily ones.
BLOCK = 7
MID_DAYS = 42
#: Width of the blocks beyond MID_DAYS (a multiple of BLOCK).
COARSE = 28


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
    """Prices on suite-days, QC intake and apheresis chairs for a group of patients.

    Candidates, per patient and facility, sorted by patient: each start day of the first
    `daily_days` (one number, or one per patient), then blocks of `BLOCK` days until
    `MID_DAYS`, then blocks of `COARSE` days to the horizon.
    """

    def __init__(
        self,
        problem: Problem,
        patients: Sequence[int],
        room: Capacity,
        *,
        daily_days: int | IntArray = DAILY_DAYS,
    ) -> None:
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
        self.duration = problem.duration[idx]
        self.centre_of = problem.centre[idx]
        self.unscheduled = (
            self.weight * (horizon - self.earliest) + float(problem.miss_cost)
        ).astype(np.float64)
        self.transport_of = np.full((self.n, self.nf), -1, dtype=np.int64)
        groups: dict[tuple[int, int, int, int], int] = {}
        pair_m, pair_g, pair_first = [], [], []
        for m, j in enumerate(idx):
            p = int(problem.duration[j])
            k = int(problem.centre[j])
            for option in problem.options[int(j)]:
                self.transport_of[m, option.facility] = option.transport
                if option.earliest > horizon - p:
                    continue
                key = (option.facility, p, k, option.transport)
                pair_m.append(m)
                pair_g.append(groups.setdefault(key, len(groups)))
                pair_first.append(option.earliest)
        self.groups = groups
        ng = len(groups)
        self.group_f = np.array([key[0] for key in groups], dtype=np.int64).reshape(ng)
        self.group_p = np.array([key[1] for key in groups], dtype=np.int64).reshape(ng)
        self.group_k = np.array([key[2] for key in groups], dtype=np.int64).reshape(ng)
        self.group_tr = np.array([key[3] for key in groups], dtype=np.int64).reshape(ng)
        pm = np.asarray(pair_m, dtype=np.int64)
        pg = np.asarray(pair_g, dtype=np.int64)
        first = np.asarray(pair_first, dtype=np.int64)
        last = horizon - self.group_p[pg]
        # Region boundaries per pair.
        daily = np.broadcast_to(np.asarray(daily_days, dtype=np.int64), (self.n,))[pm]
        fine_from = np.minimum(-(-(first + daily) // BLOCK) * BLOCK, last + 1)
        coarse_from = np.maximum(-(-(first + daily + MID_DAYS) // COARSE) * COARSE, fine_from)
        coarse_from = np.minimum(coarse_from, last + 1)
        coarse_from = -(-coarse_from // COARSE) * COARSE
        daily_count = np.maximum(fine_from - first, 0)
        fine_count = np.maximum(
            (np.minimum(coarse_from, last + 1) - fine_from + BLOCK - 1) // BLOCK, 0
        )
        coarse_count = np.maximum(last // COARSE - coarse_from // COARSE + 1, 0)
        per_pair = daily_count + fine_count + coarse_count
        # Expand pairs into candidates, in pair order (pairs are in patient order).
        total = int(per_pair.sum())
        pair_of = np.repeat(np.arange(pm.size), per_pair)
        rank = np.arange(total) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        d_n = daily_count[pair_of]
        f_n = fine_count[pair_of]
        kind = np.where(rank < d_n, 0, np.where(rank < d_n + f_n, 1, 2))
        start = np.where(
            kind == 0,
            first[pair_of] + rank,
            np.where(
                kind == 1,
                fine_from[pair_of] + (rank - d_n) * BLOCK,
                coarse_from[pair_of] + (rank - d_n - f_n) * COARSE,
            ),
        )
        group = pg[pair_of]
        job = pm[pair_of]
        # Daily starts that no suite can take are dropped.
        longest = max(len(t) for t in room.startable) if room.startable else 1
        ok_table = np.zeros((self.nf, longest, horizon + 1), dtype=np.bool_)
        for f, table in enumerate(room.startable):
            ok_table[f, : table.shape[0], :horizon] = table
        keep = (kind != 0) | ok_table[self.group_f[group], self.group_p[group], start]
        self.c_job = job[keep]
        self.c_kind = kind[keep]
        self.c_start = start[keep]
        self.c_group = group[keep]
        self.c_fac = self.group_f[self.c_group]
        self.c_cost = self._cost(self.c_job, self.c_start)
        self.c_daily = np.flatnonzero(self.c_kind == 0)
        self.c_fine = np.flatnonzero(self.c_kind == 1)
        self.c_coarse = np.flatnonzero(self.c_kind == 2)
        daily = self.c_daily
        self.d_p = self.group_p[self.c_group[daily]]
        self.d_apheresis = self.c_start[daily] - self.group_tr[self.c_group[daily]]
        self.d_centre = self.group_k[self.c_group[daily]]
        self.job_start = np.searchsorted(self.c_job, np.arange(self.n))
        self.has_candidates = np.bincount(self.c_job, minlength=self.n) > 0
        # Days a group may start on, padded to whole coarse blocks, for block minima.
        self.padded = (horizon // COARSE + 1) * COARSE
        self.group_ok = np.zeros((ng, self.padded), dtype=np.bool_)
        for key, g in groups.items():
            f, p, _, tr = key
            ok = room.startable[f][p][: horizon - p + 1].copy()
            ok[: max(tr, 0)] = False  # collection would fall before day 0
            self.group_ok[g, : ok.size] = ok
        self.days = np.arange(self.padded)

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
        value = self.c_cost.copy()
        chosen_day = self.c_start.copy()
        # Daily candidates: exact prices.
        daily = self.c_daily
        f = self.c_fac[daily]
        t = self.c_start[daily]
        p = self.d_p
        value[daily] += (
            prefix[f, t + p] - prefix[f, t] + qc[f, t + p] + centre[self.d_centre, self.d_apheresis]
        )
        # Blocks: the cheapest price of any day in the block, per group.
        gf, gp = self.group_f[:, None], self.group_p[:, None]
        days = self.days[None, :]
        end = np.minimum(days + gp, horizon)
        begin = np.minimum(days, horizon)
        collect = np.clip(days - self.group_tr[:, None], 0, horizon - 1)
        price = (
            prefix[gf, end]
            - prefix[gf, begin]
            + qc[gf, end]
            + centre[self.group_k[:, None], collect]
        )
        price = np.where(self.group_ok, price, np.inf)
        ng = price.shape[0]
        fine = price.reshape(ng, self.padded // BLOCK, BLOCK)  # ng may be 0
        fine_min = fine.min(axis=2)
        fine_arg = fine.argmin(axis=2)
        ratio = COARSE // BLOCK
        coarse = fine_min.reshape(ng, self.padded // COARSE, ratio)
        coarse_min = coarse.min(axis=2)
        coarse_arg = coarse.argmin(axis=2)
        sel = self.c_fine
        g, blk = self.c_group[sel], self.c_start[sel] // BLOCK
        value[sel] += fine_min[g, blk]
        chosen_day[sel] = blk * BLOCK + fine_arg[g, blk]
        sel = self.c_coarse
        g, blk = self.c_group[sel], self.c_start[sel] // COARSE
        sub = blk * ratio + coarse_arg[g, blk]
        value[sel] += coarse_min[g, blk]
        chosen_day[sel] = sub * BLOCK + fine_arg[g, sub]
        # Per patient: the cheapest candidate, or leaving the patient out.
        best = self.unscheduled.copy()
        if value.size:
            segment_min = np.minimum.reduceat(value, self.job_start[self.has_candidates])
            best[self.has_candidates] = np.minimum(best[self.has_candidates], segment_min)
        total = float(best.sum())
        total -= float((suite * self.room.suite).sum())
        total -= float((qc * self.room.qc).sum())
        total -= float((centre * self.room.centre).sum())
        hits = np.flatnonzero(value <= best[self.c_job] + 1e-9)
        hit_job = self.c_job[hits]
        first_hit = hits[np.r_[True, hit_job[1:] != hit_job[:-1]]] if hits.size else hits
        chosen_start = np.full(self.n, -1, dtype=np.int64)
        chosen_fac = np.full(self.n, -1, dtype=np.int64)
        chosen_start[self.c_job[first_hit]] = chosen_day[first_hit]
        chosen_fac[self.c_job[first_hit]] = self.c_fac[first_hit]
        out = self.unscheduled <= best + 1e-9
        chosen_start[out] = -1
        chosen_fac[out] = -1
        return total, chosen_fac, chosen_start, self._subgradient(chosen_fac, chosen_start)

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
        shown: IntArray | None = None
        for done in range(1, iterations + 1):
            value, fac, start, grads = self.evaluate(*prices)
            if done == 1 or value > best + 1e-6 * max(1.0, abs(best)):
                best, best_fac, best_start, stall = value, fac, start, 0
            else:
                stall += 1
            if on_snapshot is not None and done % snapshot_every == 0:
                # Alternate between the latest prices and the best ones so far.
                if (done // snapshot_every) % 2 and shown is not best_start:
                    on_snapshot(best_fac, best_start)
                    shown = best_start
                else:
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
