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


class _Lanes:
    """The state of every lane in a chunk, as arrays with one row per lane.

    An event in a lane's table is a day and a code: the patient's index within the lane
    (≥ 0) for a batch leaving manufacturing, -1 - index for a re-collected patient
    coming back to the waitlist. What a batch needs later (its QC days, whether it
    fails, its shipping days) is drawn when manufacturing starts and kept per patient:
    a patient has at most one batch in progress.
    """

    def __init__(self, config: SimulationConfig, lanes: Sequence[Lane]) -> None:
        self.config = config
        self.plan = BlockPlan.of(config)
        self.rngs = [lane.rng for lane in lanes]
        n_lanes = len(lanes)
        n_fac = len(config.facilities)
        self.start, self.end = config.window
        self.last_day = config.end_day

        # Per patient (lane × patients): one spare column past the longest list, so a
        # lane that has used up its referrals reads an infinite next referral day.
        self.width = width = max(len(lane.referral_days) for lane in lanes) + 1
        self.referral_day = np.full((n_lanes, width), np.inf)
        self.product = np.zeros((n_lanes, width), dtype=np.int64)
        for i, lane in enumerate(lanes):
            self.referral_day[i, : len(lane.referral_days)] = lane.referral_days
            self.product[i, : len(lane.products)] = lane.products
        self.referral_day = self.referral_day.ravel()
        self.product = self.product.ravel()
        self.lane_patients = np.arange(n_lanes) * width
        self.next_referral = np.zeros(n_lanes, dtype=np.int64)
        self.first_start = np.full(n_lanes * width, np.nan)
        self.batch_qc_days = np.zeros(n_lanes * width)
        self.batch_fails = np.zeros(n_lanes * width, dtype=np.bool_)
        self.batch_ship_days = np.zeros(n_lanes * width)
        self.batch_patience = np.zeros(n_lanes * width)
        self.waits = np.full(n_lanes * width, np.nan)
        self.vein_to_vein = np.full(n_lanes * width, np.nan)

        # Lanes are replication-major: lane i is facility i % n_fac. Missing suites and
        # QC slots are never free (inf); unlimited QC is one slot always free (-inf).
        facilities = [config.facilities[i % n_fac] for i in range(n_lanes)]
        self.suites = max(f.suites for f in config.facilities)
        self.suite_free = np.full((n_lanes, self.suites), np.inf)
        self.qc_slots = max(f.qc_capacity or 1 for f in config.facilities)
        self.qc_free = np.full((n_lanes, self.qc_slots), np.inf)
        for i, f in enumerate(facilities):
            self.suite_free[i, : f.suites] = 0.0
            if f.qc_capacity is None:
                self.qc_free[i, 0] = -np.inf
            else:
                self.qc_free[i, : f.qc_capacity] = 0.0
        self.qc_limited = np.array([f.qc_capacity is not None for f in facilities])

        self.entries = np.zeros(n_lanes, dtype=np.int64)
        self.blocks_loaded = np.zeros(n_lanes, dtype=np.int64)
        self.variates = np.empty((COLUMNS, n_lanes * BLOCK))
        for i, rng in enumerate(self.rngs):
            self.variates[:, i * BLOCK : (i + 1) * BLOCK] = draw_block(rng, self.plan)

        self.table_width = self.suites + 16
        self.event_day = np.full((n_lanes, self.table_width), np.inf)
        self.event_code = np.zeros(n_lanes * self.table_width, dtype=np.int64)
        self.events = np.zeros(n_lanes, dtype=np.int64)

        products = config.products
        self.manufacturing_days = np.array([p.manufacturing_days for p in products])
        self.qc_days = np.array([p.qc_days for p in products])
        self.ship_days = np.array([p.ship_days for p in products])
        self.failure_rate = np.array([p.failure_rate for p in products])

        self.lost = np.zeros(n_lanes)
        self.failed = np.zeros(n_lanes)
        self.treated = np.zeros(n_lanes)
        self.suite_busy = np.zeros(n_lanes)
        self.qc_busy = np.zeros(n_lanes)

    def in_window(self, day: FloatArray) -> BoolArray:
        result: BoolArray = (day >= self.start) & (day <= self.end)
        return result

    def busy_in_window(self, start: FloatArray, end: FloatArray) -> FloatArray:
        busy: FloatArray = np.maximum(np.minimum(end, self.end) - np.maximum(start, self.start), 0)
        return busy

    def run(self) -> None:
        """Advance every lane, one event at a time, until all have passed the last day."""
        all_lanes = np.arange(len(self.rngs))
        while True:
            referral_day = self.referral_day[self.lane_patients + self.next_referral]
            slot = all_lanes * self.table_width + self.event_day.argmin(axis=1)
            flat_day = self.event_day.reshape(-1)
            event_day = flat_day[slot]
            active = np.minimum(referral_day, event_day) <= self.last_day
            if not active.any():
                return
            take_referral = active & (referral_day <= event_day)

            # Pop table events; the lane's last event fills the gap.
            popped = np.flatnonzero(active & ~take_referral)
            where = slot[popped]
            code = self.event_code[where]
            day = event_day[popped]
            last = popped * self.table_width + self.events[popped] - 1
            flat_day[where] = flat_day[last]
            self.event_code[where] = self.event_code[last]
            flat_day[last] = np.inf
            self.events[popped] -= 1

            fresh = np.flatnonzero(take_referral)
            patient = self.next_referral[fresh]
            self.next_referral[fresh] = patient + 1
            back = code < 0
            qc = ~back
            to_qc = self._enter(
                np.concatenate([fresh, popped[back]]),
                np.concatenate([referral_day[fresh], day[back]]),
                np.concatenate([patient, -1 - code[back]]),
            )
            to_waitlist = self._quality_control(popped[qc], day[qc], code[qc])
            self._push(*(np.concatenate(parts) for parts in zip(to_qc, to_waitlist, strict=True)))

    def _enter(
        self, lanes: IntArray, day: FloatArray, patient: IntArray
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """Patients join the waitlist: each takes a suite when one frees, unless gone by then."""
        entry = self.entries[lanes]
        self.entries[lanes] = entry + 1
        for lane in lanes[entry // BLOCK != self.blocks_loaded[lanes]]:
            self.variates[:, lane * BLOCK : (lane + 1) * BLOCK] = draw_block(
                self.rngs[lane], self.plan
            )
            self.blocks_loaded[lane] += 1
        draw = self.variates[:, lanes * BLOCK + entry % BLOCK]

        suite = lanes * self.suites + self.suite_free[lanes].argmin(axis=1)
        suite_free = self.suite_free.reshape(-1)
        start = np.maximum(day, suite_free[suite])
        gives_up = day + draw[PATIENCE]
        lost = start > gives_up
        self.lost[lanes[lost & self.in_window(gives_up)]] += 1

        kept = ~lost
        lanes, patient, start, suite, draw = (
            lanes[kept],
            patient[kept],
            start[kept],
            suite[kept],
            draw[:, kept],
        )
        key = self.lane_patients[lanes] + patient
        product = self.product[key]
        done = start + self.manufacturing_days[product] * draw[MANUFACTURING]
        suite_free[suite] = done
        self.suite_busy[lanes] += self.busy_in_window(start, done)

        first = np.isnan(self.first_start[key])
        self.first_start[key[first]] = start[first]
        waited = first & self.in_window(start)
        self.waits[key[waited]] = start[waited] - self.referral_day[key[waited]]

        self.batch_qc_days[key] = self.qc_days[product] * draw[QC]
        self.batch_fails[key] = draw[FAIL_U] < self.failure_rate[product]
        self.batch_ship_days[key] = self.ship_days[product] * draw[SHIP]
        self.batch_patience[key] = draw[RECOLLECT_PATIENCE]
        return lanes, done, patient

    def _quality_control(
        self, lanes: IntArray, day: FloatArray, patient: IntArray
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """Batches leave manufacturing: QC intake (FIFO), then release or re-collection."""
        key = self.lane_patients[lanes] + patient
        slot = lanes * self.qc_slots + self.qc_free[lanes].argmin(axis=1)
        qc_free = self.qc_free.reshape(-1)
        start = np.maximum(day, qc_free[slot])
        qc_days = self.batch_qc_days[key]
        released = start + qc_days
        slot_days = self.config.qc_slot_days
        held = qc_days if slot_days is None else np.minimum(slot_days, qc_days)
        limited = self.qc_limited[lanes]
        qc_free[slot[limited]] = (start + held)[limited]
        self.qc_busy[lanes[limited]] += self.busy_in_window(start, start + held)[limited]

        fails = self.batch_fails[key]
        self.failed[lanes[fails & self.in_window(released)]] += 1
        patience = self.batch_patience[key]
        recollection = self.config.recollection_days
        gives_up = fails & (patience < recollection)
        self.lost[lanes[gives_up & self.in_window(released + patience)]] += 1

        infused = released + self.batch_ship_days[key]
        treated = ~fails & self.in_window(infused)
        self.treated[lanes[treated]] += 1
        key = key[treated]
        self.vein_to_vein[key] = infused[treated] - self.first_start[key]

        back = fails & ~gives_up
        return lanes[back], (released + recollection)[back], -1 - patient[back]

    def _push(self, lanes: IntArray, day: FloatArray, code: IntArray) -> None:
        """Add events to lanes' tables (each lane at most once); drop those after the end."""
        due = day <= self.last_day
        lanes, day, code = lanes[due], day[due], code[due]
        if lanes.size == 0:
            return
        slot = self.events[lanes]
        if slot.max() >= self.table_width:
            self._grow()
        where = lanes * self.table_width + slot
        self.event_day.reshape(-1)[where] = day
        self.event_code[where] = code
        self.events[lanes] = slot + 1

    def _grow(self) -> None:
        """Double every lane's event table (a long waitlist has many batches booked)."""
        n_lanes, width = self.event_day.shape
        day = np.full((n_lanes, 2 * width), np.inf)
        day[:, :width] = self.event_day
        code = np.zeros((n_lanes, 2 * width), dtype=np.int64)
        code[:, :width] = self.event_code.reshape(n_lanes, width)
        self.event_day, self.event_code, self.table_width = day, code.reshape(-1), 2 * width


def simulate(config: SimulationConfig, seed: int, replications: Sequence[int]) -> ReplicationTable:
    """Run the given replications side by side and tabulate them."""
    n_rep, n_fac = len(replications), len(config.facilities)
    if n_rep == 0:
        raise ValueError("no replications to run")
    state = _Lanes(config, [Lane(config, seed, r, f) for r in replications for f in range(n_fac)])
    state.run()
    arrived = state.in_window(state.referral_day).reshape(n_rep * n_fac, -1).sum(axis=1)
    counts = {
        "arrived": arrived.astype(np.float64),
        "treated": state.treated,
        "lost": state.lost,
        "failed": state.failed,
        "suite_busy_days": state.suite_busy,
        "qc_busy_days": state.qc_busy,
    }
    return build_table(
        replications,
        {k: v.reshape(n_rep, n_fac) for k, v in counts.items()},
        state.waits.reshape(n_rep, n_fac, -1),
        state.vein_to_vein.reshape(n_rep, n_fac, -1),
    )
