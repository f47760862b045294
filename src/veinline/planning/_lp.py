"""The linear relaxation of the time-indexed model, solved exactly with HiGHS.

The subgradient ascent in `_lagrangian` stalls short of the relaxation's optimum
(measured: the 10,000-patient network's bound stopped 1% below the LP value after
2,000 rounds). Solving the relaxation itself with the HiGHS simplex code that
SciPy ships gives the optimum in seconds, provided the columns are limited to the
start days a patient could sensibly use: each patient's daily candidates of a
`LagrangianDual` (its first `daily_days` start days per facility), plus leaving the
patient out.

That restricted LP is not a bound by itself (a later start day might be cheaper at
its prices), so its row prices are handed back to `LagrangianDual.evaluate`, which
prices every start day to the horizon: by weak duality its value at any
non-negative prices is a valid lower bound, equal to the LP's when no later start
day would have paid. Where one would, `relax` widens that patient's window and solves
again. The LP's solution is nearly integral (under 100 fractional
values among 600,000 columns on the network) and its start days guide the list
scheduler to a first plan close to the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from veinline.planning._lagrangian import BLOCK, Capacity, LagrangianDual
from veinline.planning._problem import FloatArray, IntArray, Problem

#: Capacities at or above this are unlimited (no row in the LP).
UNLIMITED = 1e8
#: Time the rounding MIP may take at most (less if the LP's own limit is nearer).
ROUNDING_TIME_S = 2.0


@dataclass
class Relaxation:
    """The relaxation's optimum on its columns, its valid bound and the plan it suggests."""

    value: float
    """Optimum of the restricted LP (at least the bound)."""
    bound: float
    """Lagrangian value at the LP's prices: a lower bound on every plan."""
    suggested_facility: IntArray
    """Per patient of the dual: the facility of its largest LP column (-1: left out)."""
    suggested_start: IntArray
    fractional: int
    """Columns with a value strictly between 0 and 1."""
    rounds: int
    """LP solves, each with wider windows (see `relax`)."""
    rounded: bool
    """Whether the suggestion is a whole solution of the LP's rows (see `_round`)."""
    priced_facility: IntArray
    """Per patient: the facility of its cheapest choice at the LP's prices, over every
    start day to the horizon (-1: left out)."""
    priced_start: IntArray
    wall_time_s: float


def relax(
    problem: Problem, room: Capacity, *, window: int, time_limit_s: float
) -> Relaxation | None:
    """The LP with each patient's first `window` start days, widened where the prices
    still pay for a later day, until the bound meets the LP or the time is spent.

    A patient whose cheapest choice at the LP's prices lies beyond its window gets a
    window reaching past that day, and the LP is solved again: each round's bound is
    valid, and the rounds stop when no patient wants a later day (the bound then
    equals the LP's value) or when the next round would not fit in the time left
    (about twice the last round's time). The best bound and the latest LP's plan are
    kept. None only if the first round does not finish.
    """
    started = time.perf_counter()
    deadline = started + time_limit_s
    windows = np.full(problem.size, window, dtype=np.int64)
    best: Relaxation | None = None
    rounds = 0
    while True:
        round_started = time.perf_counter()
        dual = LagrangianDual(problem, range(problem.size), room, daily_days=windows)
        result = solve_relaxation(dual, time_limit_s=deadline - round_started)
        if result is None:
            break
        rounds += 1
        if best is not None and best.bound > result.bound:
            result.bound = best.bound
        best = result
        if result.bound >= result.value - 1e-6 * max(1.0, abs(result.value)):
            break
        earliest = problem.earliest
        beyond = (result.priced_start >= 0) & (result.priced_start >= earliest + windows)
        if not beyond.any():
            break
        wanted = result.priced_start[beyond] - earliest[beyond] + BLOCK
        windows[beyond] = np.maximum(2 * windows[beyond], wanted)
        spent = time.perf_counter() - round_started
        if time.perf_counter() + 2 * spent > deadline:
            break
    if best is not None:
        best.rounds = rounds
        best.wall_time_s = time.perf_counter() - started
    return best


def solve_relaxation(dual: LagrangianDual, *, time_limit_s: float) -> Relaxation | None:
    """Solve the LP over `dual`'s daily candidates; None if HiGHS ran out of time."""
    started = time.perf_counter()
    horizon, nf, nk, n = dual.horizon, dual.nf, dual.nk, dual.n
    room = dual.room
    daily = dual.c_daily
    job = dual.c_job[daily]
    fac = dual.c_fac[daily]
    start = dual.c_start[daily]
    length = dual.d_p
    nc = daily.size
    # Rows: suite-days (f, d), then QC intake (f, d), then apheresis chairs (k, d).
    qc_row0 = nf * horizon
    centre_row0 = qc_row0 + nf * (horizon + 1)
    nrows = centre_row0 + nk * horizon
    col_suite = np.repeat(np.arange(nc), length)
    offset = np.arange(col_suite.size) - np.repeat(np.cumsum(length) - length, length)
    row_suite = fac[col_suite] * horizon + start[col_suite] + offset
    row_qc = qc_row0 + fac * (horizon + 1) + start + length
    row_centre = centre_row0 + dual.d_centre * horizon + dual.d_apheresis
    rows = np.concatenate([row_suite, row_qc, row_centre])
    cols = np.concatenate([col_suite, np.arange(nc), np.arange(nc)])
    capacity = np.concatenate([room.suite.ravel(), room.qc.ravel(), room.centre.ravel()])
    a_ub = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(nrows, nc + n))
    # Rows that can never bind (unlimited QC, or more room than columns) are dropped.
    used = np.bincount(rows, minlength=nrows)
    keep = np.flatnonzero((capacity < UNLIMITED) & (used > capacity))
    a_ub = a_ub[keep]
    a_eq = sp.csr_matrix(
        (np.ones(nc + n), (np.concatenate([job, np.arange(n)]), np.arange(nc + n))),
        shape=(n, nc + n),
    )
    cost = np.concatenate([dual.c_cost[daily], dual.unscheduled])
    remaining = time_limit_s - (time.perf_counter() - started)
    if remaining <= 0:
        return None
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=capacity[keep],
        A_eq=a_eq,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs-ds",
        options={"time_limit": remaining, "presolve": True},
    )
    if result.status != 0 or result.ineqlin is None:
        return None
    x = np.asarray(result.x, dtype=np.float64)
    rounding_s = min(ROUNDING_TIME_S, max(0.1, time_limit_s - (time.perf_counter() - started)))
    whole = _round(
        x, cost, a_ub, capacity[keep], n, np.concatenate([job, np.arange(n)]), rounding_s
    )
    prices = np.zeros(nrows)
    prices[keep] = np.maximum(-np.asarray(result.ineqlin.marginals, dtype=np.float64), 0.0)
    suite = prices[:qc_row0].reshape(nf, horizon)
    qc = prices[qc_row0:centre_row0].reshape(nf, horizon + 1)
    centre = prices[centre_row0:].reshape(nk, horizon)
    bound, priced_facility, priced_start, _ = dual.evaluate(suite, qc, centre)
    rounded = whole if whole is not None else x
    facility, first = _largest_columns(rounded[:nc], job, fac, start, rounded[nc:], n)
    return Relaxation(
        value=float(result.fun),
        bound=bound,
        suggested_facility=facility,
        suggested_start=first,
        fractional=int(((x > 1e-6) & (x < 1 - 1e-6)).sum()),
        rounds=1,
        rounded=whole is not None,
        priced_facility=priced_facility,
        priced_start=priced_start,
        wall_time_s=time.perf_counter() - started,
    )


def _largest_columns(
    x: FloatArray, job: IntArray, fac: IntArray, start: IntArray, skip: FloatArray, n: int
) -> tuple[IntArray, IntArray]:
    """Per patient, the (facility, start) of its largest column; -1 where leaving it
    out weighs more. Ties go to the earlier start (columns are in start order)."""
    facility = np.full(n, -1, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((-x, job))
    top = order[np.r_[True, job[order][1:] != job[order][:-1]]] if order.size else order
    better = x[top] > skip[job[top]]
    facility[job[top[better]]] = fac[top[better]]
    first[job[top[better]]] = start[top[better]]
    return facility, first


def _round(
    x: FloatArray,
    cost: FloatArray,
    a_ub: sp.csr_matrix,
    b_ub: FloatArray,
    n: int,
    owner: IntArray,
    time_limit_s: float,
) -> FloatArray | None:
    """A whole (0/1) solution of the LP's rows near `x`: patients whose LP choice is
    already whole keep it, the few split between start days are placed by a small MIP
    on the room they leave (HiGHS branch and bound, under a second on the benchmarks). None if
    that MIP fails within its time."""
    split = np.zeros(n, dtype=np.bool_)
    split[owner[(x > 1e-6) & (x < 1 - 1e-6)]] = True
    if not split.any():
        return np.round(x)
    free = split[owner]
    kept = np.where(free, 0.0, np.round(x))
    a_free = a_ub.tocsc()[:, np.flatnonzero(free)]
    room = b_ub - a_ub @ kept
    rows = np.flatnonzero(np.asarray(abs(a_free).sum(axis=1)).ravel() > 0)
    members = owner[free]
    patients, local = np.unique(members, return_inverse=True)
    one_each = sp.csr_matrix(
        (np.ones(members.size), (local, np.arange(members.size))),
        shape=(patients.size, members.size),
    )
    result = milp(
        cost[free],
        constraints=[
            LinearConstraint(a_free[rows], -np.inf, room[rows]),
            LinearConstraint(one_each, 1, 1),
        ],
        integrality=np.ones(members.size),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit_s},
    )
    if result.x is None:
        return None
    kept[np.flatnonzero(free)] = np.round(result.x)
    return kept
