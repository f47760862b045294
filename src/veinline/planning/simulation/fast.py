"""The fast engine: the reference model, vectorised across replications with NumPy.

Each lane (one facility in one replication) is a small discrete-event simulation. All
lanes advance together in cycles of two steps, each a few dozen whole-array operations:

1. every lane takes its next *waitlist entry* (a referral, or a re-collected patient
   coming back), in time order;
2. every lane takes its earliest *batch leaving manufacturing* into QC, in time order.

Two classic results keep a lane's state small:

- A first-come-first-served pool of c servers is described by the times at which each
  server next falls free (the Kiefer–Wolfowitz workload vector, Kiefer & Wolfowitz
  1955). A patient who joins the waitlist at time e gets the earliest-free suite at
  max(e, its free time) — decided at entry. Abandonment fits in: a patient whose
  patience runs out first never takes the suite, which goes to the next in line (FIFO
  with reneging). QC intake is the same with QC slots.
- The two kinds of event only meet through failed batches, whose patients come back to
  the waitlist. A batch's QC time and outcome are drawn when it starts, so a waiting
  batch that will fail gives a date before which its patient cannot be back; an entry
  waits (its lane idles a step) only while such a date lies before it. A batch enters
  QC only once no earlier batch can still appear, i.e. when it is due no later than
  the lane's next entry. Each queue thus sees its events in time order, as in SimPy.

Random numbers come from `_streams` exactly as in the SimPy model, so with the same
seed the two engines agree replication by replication, to rounding.

Speed comes from doing little per step: every lane computes the step's handler with
whole-array arithmetic (about a microsecond an operation) and lanes the step does not
apply to write back what they read; arrays are indexed flat (lane × width + column),
which NumPy gathers faster than a pair of index arrays; an event's data moves as one
opaque row. Profile with `benchmarks/bench_simulate.py --profile`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from veinline.planning.simulation._streams import (
    BLOCK,
    COLUMNS,
    FAIL_U,
    MANUFACTURING,
    PATIENCE,
    QC,
    RECOLLECT_PATIENCE,
    SHIP,
    BlockPlan,
    Lane,
    draw_block,
)
from veinline.planning.simulation.config import SimulationConfig
from veinline.planning.simulation.kpi import ReplicationTable, build_table

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Columns of a batch on its way to QC, and of a patient on the way back.
REFERRED, FIRST_START, PRODUCT, QC_DAYS, FAILS, SHIP_DAYS, RECOLLECT, ENTRY = range(8)
BATCH_COLUMNS, PATIENT_COLUMNS = 8, 3


class _Table:
    """Per lane, a small unordered set of pending events: a day and a row of data.

    A lane's events sit in columns [0, count) in no order; empty columns hold the day
    inf, so a lane without events has inf as its earliest day.
    """

    def __init__(self, lanes: int, width: int, columns: int) -> None:
        self.lanes, self.width, self.columns = lanes, width, columns
        self.day = np.full((lanes, width), np.inf)
        self.data = np.zeros((lanes * width, columns))
        self.count = np.zeros(lanes, dtype=np.int64)
        self.offset = np.arange(lanes) * width
        self._view()

    def _view(self) -> None:
        # The data as one opaque item per event, so a whole row moves in one go.
        self.rows = self.data.view(np.dtype((np.void, 8 * self.columns))).reshape(-1)

    def earliest(self) -> tuple[IntArray, FloatArray]:
        """Each lane's earliest event: its flat position and its day (inf: none)."""
        at = self.offset + self.day.argmin(axis=1)
        return at, self.day.reshape(-1)[at]

    def read(self, at: IntArray) -> FloatArray:
        result: FloatArray = np.take(self.rows, at).view(np.float64).reshape(-1, self.columns)
        return result

    def add(self, lanes: IntArray, day: FloatArray, data: FloatArray) -> None:
        """Append an event (its day, its row of data) to each of `lanes`."""
        if lanes.size == 0:
            return
        if (self.count[lanes] >= self.width).any():
            self._grow()
        at = self.offset[lanes] + self.count[lanes]
        self.day.reshape(-1)[at] = day
        self.rows[at] = np.ascontiguousarray(data).view(self.rows.dtype).reshape(-1)
        self.count[lanes] += 1

    def remove(self, lanes: IntArray, at: IntArray) -> None:
        """Remove the event at flat position `at` from each of `lanes`; the last fills the gap."""
        if lanes.size == 0:
            return
        last = self.offset[lanes] + self.count[lanes] - 1
        day = self.day.reshape(-1)
        day[at] = day[last]
        self.rows[at] = self.rows[last]
        day[last] = np.inf
        self.count[lanes] -= 1

    def _grow(self) -> None:
        """Double every lane's width (a long waitlist has many batches booked)."""
        old, new = self.width, 2 * self.width
        day = np.full((self.lanes, new), np.inf)
        day[:, :old] = self.day
        data = np.zeros((self.lanes, new, self.columns))
        data[:, :old] = self.data.reshape(self.lanes, old, self.columns)
        self.day, self.data, self.width = day, data.reshape(-1, self.columns), new
        self.offset = np.arange(self.lanes) * new
        self._view()

    def find(self, lanes: IntArray, column: int, value: FloatArray) -> IntArray:
        """Flat position, in each of `lanes`, of the event whose `column` equals `value`."""
        data = self.data[:, column].reshape(self.lanes, self.width)[lanes]
        at: IntArray = self.offset[lanes] + (data == value[:, None]).argmax(axis=1)
        return at


class _Lanes:
    """The state of every lane in a chunk, one row per lane."""

    def __init__(self, config: SimulationConfig, lanes: Sequence[Lane]) -> None:
        self.config = config
        self.plan = BlockPlan.of(config)
        self.rngs = [lane.rng for lane in lanes]
        self.n = n = len(lanes)
        n_fac = len(config.facilities)
        self.start, self.end = config.window
        self.last_day = config.end_day
        self.recollection = config.recollection_days

        # Referrals, one spare column so a lane past its last referral reads inf.
        self.width = width = max(len(lane.referral_days) for lane in lanes) + 1
        referral_day = np.full((n, width), np.inf)
        product = np.zeros((n, width), dtype=np.int64)
        for i, lane in enumerate(lanes):
            referral_day[i, : len(lane.referral_days)] = lane.referral_days
            product[i, : len(lane.products)] = lane.products
        self.referral_day = referral_day.reshape(-1)
        self.referral_product = product.reshape(-1)
        self.row_start = np.arange(n) * width  # also the start of each lane's sample buffer
        self.next_referral = np.zeros(n, dtype=np.int64)
        # Samples are appended at a lane's count; a write past the count is scratch.
        self.waits = np.full(n * width, np.nan)
        self.waited = np.zeros(n, dtype=np.int64)
        self.vein_to_vein = np.full(n * width, np.nan)

        # Lanes are replication-major: lane i is facility i % n_fac. Missing suites and
        # QC slots are never free (inf); unlimited QC is one slot always free (-inf).
        facilities = [config.facilities[i % n_fac] for i in range(n)]
        self.suites = max(f.suites for f in config.facilities)
        self.suite_free = np.full((n, self.suites), np.inf)
        self.qc_slots = max(f.qc_capacity or 1 for f in config.facilities)
        self.qc_free = np.full((n, self.qc_slots), np.inf)
        for i, f in enumerate(facilities):
            self.suite_free[i, : f.suites] = 0.0
            if f.qc_capacity is None:
                self.qc_free[i, 0] = -np.inf
            else:
                self.qc_free[i, : f.qc_capacity] = 0.0
        self.qc_limited = np.array([f.qc_capacity is not None for f in facilities])
        self.suite_base = np.arange(n) * self.suites
        self.qc_base = np.arange(n) * self.qc_slots

        self.entries = np.zeros(n, dtype=np.int64)
        self.variate_base = np.arange(n) * BLOCK
        self.variates = np.empty((n * BLOCK, COLUMNS))
        for i, rng in enumerate(self.rngs):
            self.variates[i * BLOCK : (i + 1) * BLOCK] = draw_block(rng, self.plan).T
        self.variate_rows = self.variates.view(np.dtype((np.void, COLUMNS * 8))).reshape(-1)

        self.to_qc = _Table(n, self.suites + 16, BATCH_COLUMNS)
        self.coming_back = _Table(n, 8, PATIENT_COLUMNS)
        # Batches on their way to QC that will fail and whose patient will come back:
        # the earliest day the patient could be back, and the batch's entry number.
        self.failing = _Table(n, 4, 1)

        products = config.products
        self.manufacturing_days = np.array([p.manufacturing_days for p in products])
        self.qc_days = np.array([p.qc_days for p in products])
        self.ship_days = np.array([p.ship_days for p in products])
        self.failure_rate = np.array([p.failure_rate for p in products])

        self.lost = np.zeros(n, dtype=np.int64)
        self.failed = np.zeros(n, dtype=np.int64)
        self.treated = np.zeros(n, dtype=np.int64)
        self.suite_busy = np.zeros(n)
        self.qc_busy = np.zeros(n)

    def in_window(self, day: FloatArray) -> BoolArray:
        result: BoolArray = (day >= self.start) & (day <= self.end)
        return result

    def busy_in_window(self, start: FloatArray, end: FloatArray) -> FloatArray:
        busy: FloatArray = np.maximum(np.minimum(end, self.end) - np.maximum(start, self.start), 0)
        return busy

    def run(self) -> None:
        """Run cycles of an entry step and a QC step until no lane has an event left."""
        while True:
            entered = self._entry_step()
            tested = self._qc_step()
            if not (entered or tested):
                return

    def _next_entry(self) -> tuple[IntArray, FloatArray, IntArray, FloatArray, BoolArray]:
        """Per lane: its next referral and next returning patient, and which comes first."""
        referral_at = self.row_start + self.next_referral
        referral_day = self.referral_day[referral_at]
        back_at, back_day = self.coming_back.earliest()
        return referral_at, referral_day, back_at, back_day, back_day < referral_day

    def _entry_step(self) -> bool:
        """Each lane's next waitlist entry takes a suite when one frees, unless gone by then."""
        referral_at, referral_day, back_at, back_day, is_back = self._next_entry()
        day = np.minimum(referral_day, back_day)
        _, back_by = self.failing.earliest()
        go = (day <= self.last_day) & (day < back_by)
        if not go.any():
            return False
        day = np.where(go, day, 0.0)  # idle lanes compute on harmless numbers
        back = self.coming_back.read(back_at)
        referred = np.where(is_back, back[:, REFERRED], day)
        first_start = np.where(is_back, back[:, FIRST_START], np.nan)
        product = np.where(
            is_back, back[:, PRODUCT].astype(np.int64), self.referral_product[referral_at]
        )
        self.next_referral += go & ~is_back
        returning = np.flatnonzero(go & is_back)
        self.coming_back.remove(returning, back_at[returning])

        entry = self.entries
        self.entries = entry + go
        new_block = go & (entry % BLOCK == 0) & (entry > 0)
        for lane in np.flatnonzero(new_block):
            block = draw_block(self.rngs[lane], self.plan)
            self.variates[lane * BLOCK : (lane + 1) * BLOCK] = block.T
        draw = (
            np.take(self.variate_rows, self.variate_base + entry % BLOCK)
            .view(np.float64)
            .reshape(-1, COLUMNS)
        )

        suite = self.suite_base + self.suite_free.argmin(axis=1)
        suite_free = self.suite_free.reshape(-1)
        free_at = suite_free[suite]
        start = np.maximum(day, free_at)
        gives_up = day + draw[:, PATIENCE]
        lost = go & (start > gives_up)
        kept = go & ~lost
        self.lost += lost & self.in_window(gives_up)
        done = start + self.manufacturing_days[product] * draw[:, MANUFACTURING]
        suite_free[suite] = np.where(kept, done, free_at)
        self.suite_busy += np.where(kept, self.busy_in_window(start, done), 0.0)
        first = kept & np.isnan(first_start)
        self.waits[self.row_start + self.waited] = start - referred
        self.waited += first & self.in_window(start)
        first_start = np.where(first, start, first_start)

        batch = np.empty((self.n, BATCH_COLUMNS))
        batch[:, REFERRED] = referred
        batch[:, FIRST_START] = first_start
        batch[:, PRODUCT] = product
        batch[:, QC_DAYS] = qc_days = self.qc_days[product] * draw[:, QC]
        batch[:, FAILS] = fails = draw[:, FAIL_U] < self.failure_rate[product]
        batch[:, SHIP_DAYS] = self.ship_days[product] * draw[:, SHIP]
        batch[:, RECOLLECT] = patience = draw[:, RECOLLECT_PATIENCE]
        batch[:, ENTRY] = entry
        booked = kept & (done <= self.last_day)
        lanes = np.flatnonzero(booked)
        self.to_qc.add(lanes, done[lanes], batch[lanes])
        # QC starts no sooner than `done`, so the patient is back no sooner than this.
        lanes = np.flatnonzero(booked & fails & (patience >= self.recollection))
        back_by = done[lanes] + qc_days[lanes] + self.recollection
        self.failing.add(lanes, back_by, batch[lanes, ENTRY:])
        return True

    def _qc_step(self) -> bool:
        """Each lane's earliest batch out of manufacturing goes through QC, if no earlier
        batch can still appear: release and shipping, or failure and re-collection."""
        at, day = self.to_qc.earliest()
        _, referral_day, _, back_day, _ = self._next_entry()
        go = (day <= self.last_day) & (day <= np.minimum(referral_day, back_day))
        if not go.any():
            return False
        day = np.where(go, day, 0.0)
        batch = self.to_qc.read(at)
        lanes = np.flatnonzero(go)
        self.to_qc.remove(lanes, at[lanes])
        failing = go & (batch[:, FAILS] > 0) & (batch[:, RECOLLECT] >= self.recollection)
        lanes = np.flatnonzero(failing)
        self.failing.remove(lanes, self.failing.find(lanes, 0, batch[lanes, ENTRY]))

        qc = self.qc_base + self.qc_free.argmin(axis=1)
        qc_free = self.qc_free.reshape(-1)
        qc_free_at = qc_free[qc]
        start = np.maximum(day, qc_free_at)
        qc_days = batch[:, QC_DAYS]
        released = start + qc_days
        slot_days = self.config.qc_slot_days
        held = qc_days if slot_days is None else np.minimum(slot_days, qc_days)
        takes_slot = go & self.qc_limited
        qc_free[qc] = np.where(takes_slot, start + held, qc_free_at)
        self.qc_busy += np.where(takes_slot, self.busy_in_window(start, start + held), 0.0)

        fails = go & (batch[:, FAILS] > 0)
        self.failed += fails & self.in_window(released)
        patience = batch[:, RECOLLECT]
        leaves = fails & (patience < self.recollection)
        self.lost += leaves & self.in_window(released + patience)
        infused = released + batch[:, SHIP_DAYS]
        treated = go & ~fails & self.in_window(infused)
        self.vein_to_vein[self.row_start + self.treated] = infused - batch[:, FIRST_START]
        self.treated += treated

        back_day = released + self.recollection
        lanes = np.flatnonzero(fails & ~leaves & (back_day <= self.last_day))
        self.coming_back.add(lanes, back_day[lanes], batch[lanes, :PATIENT_COLUMNS])
        return True

    def samples(self) -> tuple[FloatArray, FloatArray]:
        """Waits and vein-to-vein times per lane, NaN past each lane's count."""
        position = np.arange(self.width)
        waits = self.waits.reshape(self.n, self.width)
        v2v = self.vein_to_vein.reshape(self.n, self.width)
        return (
            np.where(position < self.waited[:, None], waits, np.nan),
            np.where(position < self.treated[:, None], v2v, np.nan),
        )


def simulate(config: SimulationConfig, seed: int, replications: Sequence[int]) -> ReplicationTable:
    """Run the given replications side by side and tabulate them."""
    n_rep, n_fac = len(replications), len(config.facilities)
    if n_rep == 0:
        raise ValueError("no replications to run")
    state = _Lanes(config, [Lane(config, seed, r, f) for r in replications for f in range(n_fac)])
    state.run()
    arrived = state.in_window(state.referral_day).reshape(state.n, -1).sum(axis=1)
    counts = {
        "arrived": arrived,
        "treated": state.treated,
        "lost": state.lost,
        "failed": state.failed,
        "suite_busy_days": state.suite_busy,
        "qc_busy_days": state.qc_busy,
    }
    waits, vein_to_vein = state.samples()
    return build_table(
        replications,
        {k: v.astype(np.float64).reshape(n_rep, n_fac) for k, v in counts.items()},
        waits.reshape(n_rep, n_fac, -1),
        vein_to_vein.reshape(n_rep, n_fac, -1),
    )
