"""The fast engine: the reference model, vectorised across replications with NumPy.

Each lane (one facility in one replication) is a small discrete-event simulation; all
lanes advance together, one event per lane per step, so a step is a few dozen array
operations over all lanes instead of thousands of Python generator switches.

Two classic results keep the per-lane state small:

- A first-come-first-served pool of c servers is described by the times at which each
  server next falls free (the Kiefer–Wolfowitz workload vector, Kiefer & Wolfowitz
  1955). A patient who joins the waitlist at time e gets the earliest-free suite at
  max(e, its free time). Abandonment fits in: a patient whose patience runs out first
  never takes the suite, so it goes to the next one in line (FIFO with reneging).
- For FIFO to hold, entries into a queue must be handled in time order. Each lane keeps
  a small event table (batches leaving manufacturing, re-collected patients coming
  back); a step takes, per lane, the earliest of that table and the next referral.

Random numbers come from `_streams` exactly as in the SimPy model, so with the same
seed the two engines agree replication by replication, to rounding. Arrays are indexed
flat (lane × width + column): NumPy gathers and scatters one index array much faster
than a pair of them.
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


# Payload columns of an event in a lane's table.
KIND, REFERRED, FIRST_START, PRODUCT, QC_DAYS, FAILS, SHIP_DAYS, RECOLLECT = range(8)
PAYLOAD = 8
# An event's payload as one opaque item: NumPy moves whole rows much faster this way.
ROW = np.dtype((np.void, PAYLOAD * 8))
BATCH_DONE = 0.0  # a batch leaves manufacturing and goes to QC
PATIENT_BACK = 1.0  # a re-collected patient rejoins the waitlist


class _Lanes:
    """The state of every lane in a chunk, one row per lane.

    Every step runs both handlers (a waitlist entry, a batch arriving at QC) over all
    lanes and keeps, per lane, the result of the one that applies: whole-array
    arithmetic with masks costs about a microsecond per operation, gathering a subset
    several times that. Writes that do not apply go to a spare column.
    """

    def __init__(self, config: SimulationConfig, lanes: Sequence[Lane]) -> None:
        self.config = config
        self.plan = BlockPlan.of(config)
        self.rngs = [lane.rng for lane in lanes]
        self.n = n = len(lanes)
        n_fac = len(config.facilities)
        self.start, self.end = config.window
        self.last_day = config.end_day

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

        # Event tables; the last column is the spare that takes writes that do not apply.
        self.capacity = self.suites + 16
        self.event_day = np.full((n, self.capacity + 1), np.inf)
        self.event_data = np.zeros((n * (self.capacity + 1), PAYLOAD))
        self.event_rows = self.event_data.view(ROW).reshape(-1)
        self.events = np.zeros(n, dtype=np.int64)

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
        """Advance every lane, one event at a time, until all have passed the last day."""
        lanes = np.arange(self.n)
        recollection = self.config.recollection_days
        qc_slot_days = self.config.qc_slot_days
        while True:
            # The next event per lane: its next referral or the earliest in its table.
            referral_at = self.row_start + self.next_referral
            referral_day = self.referral_day[referral_at]
            width = self.capacity + 1
            slot = self.event_day.argmin(axis=1)
            at = lanes * width + slot
            event_day = self.event_day.reshape(-1)[at]
            fresh = referral_day <= event_day
            day = np.minimum(referral_day, event_day)
            active = day <= self.last_day
            if not active.any():
                return
            day = np.where(active, day, 0.0)  # finished lanes compute on harmless numbers
            data = np.take(self.event_rows, at).view(np.float64).reshape(-1, PAYLOAD)
            popped = active & ~fresh
            to_qc = popped & (data[:, KIND] == BATCH_DONE)
            entering = active & ~to_qc
            self.next_referral += active & fresh

            # Waitlist entry (a referral, or a re-collected patient back).
            referred = np.where(fresh, day, data[:, REFERRED])
            first_start = np.where(fresh, np.nan, data[:, FIRST_START])
            product = np.where(
                fresh, self.referral_product[referral_at], data[:, PRODUCT].astype(np.int64)
            )
            entry = self.entries
            self.entries = entry + entering
            new_block = entering & (entry % BLOCK == 0) & (entry > 0)
            if new_block.any():
                for lane in np.flatnonzero(new_block):
                    self.variates[lane * BLOCK : (lane + 1) * BLOCK] = draw_block(
                        self.rngs[lane], self.plan
                    ).T
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
            lost = entering & (start > gives_up)
            kept = entering & ~lost
            done = start + self.manufacturing_days[product] * draw[:, MANUFACTURING]
            suite_free[suite] = np.where(kept, done, free_at)
            self.suite_busy += np.where(kept, self.busy_in_window(start, done), 0.0)
            first = kept & np.isnan(first_start)
            self.waits[self.row_start + self.waited] = start - referred
            self.waited += first & self.in_window(start)
            first_start = np.where(first, start, first_start)

            # A batch leaves manufacturing: QC intake (FIFO), then release or failure.
            qc = self.qc_base + self.qc_free.argmin(axis=1)
            qc_free = self.qc_free.reshape(-1)
            qc_free_at = qc_free[qc]
            qc_start = np.maximum(day, qc_free_at)
            qc_days = data[:, QC_DAYS]
            released = qc_start + qc_days
            held = qc_days if qc_slot_days is None else np.minimum(qc_slot_days, qc_days)
            takes_slot = to_qc & self.qc_limited
            qc_free[qc] = np.where(takes_slot, qc_start + held, qc_free_at)
            self.qc_busy += np.where(
                takes_slot, self.busy_in_window(qc_start, qc_start + held), 0.0
            )
            fails = to_qc & (data[:, FAILS] > 0)
            self.failed += fails & self.in_window(released)
            patience = data[:, RECOLLECT]
            leaves = fails & (patience < recollection)
            infused = released + data[:, SHIP_DAYS]
            treated = to_qc & ~fails & self.in_window(infused)
            self.vein_to_vein[self.row_start + self.treated] = infused - first_start
            self.treated += treated
            self.lost += (lost & self.in_window(gives_up)) | (
                leaves & self.in_window(released + patience)
            )
            back = fails & ~leaves

            # Table: the popped event's slot takes the new one, else the last fills it.
            new_day = np.where(kept, done, released + recollection)
            push = (kept | back) & (new_day <= self.last_day)
            append = push & ~popped
            if append.any() and (self.events[append] >= self.capacity).any():
                self._grow()
                width = self.capacity + 1
            spare = self.capacity
            target = lanes * width + np.where(push, np.where(popped, slot, self.events), spare)
            event_days = self.event_day.reshape(-1)
            event_days[target] = np.where(push, new_day, np.inf)
            new = np.empty((self.n, PAYLOAD))
            new[:, KIND] = np.where(kept, BATCH_DONE, PATIENT_BACK)
            new[:, REFERRED] = referred
            new[:, FIRST_START] = first_start
            new[:, PRODUCT] = product
            new[:, QC_DAYS] = self.qc_days[product] * draw[:, QC]
            new[:, FAILS] = draw[:, FAIL_U] < self.failure_rate[product]
            new[:, SHIP_DAYS] = self.ship_days[product] * draw[:, SHIP]
            new[:, RECOLLECT] = draw[:, RECOLLECT_PATIENCE]
            self.event_rows[target] = new.view(ROW).reshape(-1)
            self.events += append
            removed = popped & ~push
            last = lanes * width + np.where(removed, self.events - 1, spare)
            gap = lanes * width + np.where(removed, slot, spare)
            event_days[gap] = event_days[last]
            self.event_rows[gap] = self.event_rows[last]
            event_days[last] = np.inf
            self.events -= removed

    def _grow(self) -> None:
        """Double every lane's event table (a long waitlist has many batches booked)."""
        old = self.capacity
        new = 2 * old
        day = np.full((self.n, new + 1), np.inf)
        day[:, :old] = self.event_day[:, :old]
        data = np.zeros((self.n, new + 1, PAYLOAD))
        data[:, :old] = self.event_data.reshape(self.n, old + 1, PAYLOAD)[:, :old]
        self.event_day, self.event_data = day, data.reshape(-1, PAYLOAD)
        self.event_rows = self.event_data.view(ROW).reshape(-1)
        self.capacity = new

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
