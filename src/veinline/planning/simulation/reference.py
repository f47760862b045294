"""The reference model in SimPy: one process per patient, written to be read.

A patient is referred, joins the facility's waitlist for a manufacturing suite (first
come, first served), and may leave it (progression, death) at a constant hazard. When a
suite frees up the patient is collected and manufacturing starts at once (apheresis is
booked for the suite's start; the inbound courier is part of `manufacturing_days`).
The batch then goes to QC, which takes in at most `qc.daily_capacity` batches a day
(each holds a QC slot for its first `qc_slot_days`); release testing takes `qc_days`.
A batch out of specification sends the patient back to the waitlist after
`recollection_days` (the dropout hazard runs meanwhile); a released batch ships and is
infused on arrival.

`fast.py` computes the same model without SimPy; `tests/unit/simulation` holds them to
each other.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy

from veinline.planning.simulation._streams import (
    FAIL_U,
    MANUFACTURING,
    PATIENCE,
    QC,
    RECOLLECT_PATIENCE,
    SHIP,
    BlockPlan,
    Lane,
    LaneStream,
)
from veinline.planning.simulation.config import SimulationConfig
from veinline.planning.simulation.kpi import COUNTS, ReplicationTable, build_table

Process = Generator[simpy.Event, Any, None]


class Facility:
    """One facility in one replication: its suites, its QC and what it recorded."""

    def __init__(
        self,
        env: simpy.Environment,
        config: SimulationConfig,
        index: int,
        lane: Lane,
        plan: BlockPlan,
    ) -> None:
        facility = config.facilities[index]
        self.env = env
        self.config = config
        self.lane = lane
        self.stream = LaneStream(lane.rng, plan)
        self.suites = simpy.Resource(env, capacity=facility.suites)
        self.qc = (
            None
            if facility.qc_capacity is None
            else simpy.Resource(env, capacity=facility.qc_capacity)
        )
        self.window = config.window
        self.counts = dict.fromkeys(COUNTS, 0.0)
        self.waits: list[float] = []
        self.vein_to_vein: list[float] = []

    def in_window(self, day: float) -> bool:
        return self.window[0] <= day <= self.window[1]

    def busy_in_window(self, start: float, end: float) -> float:
        return max(0.0, min(end, self.window[1]) - max(start, self.window[0]))

    def referrals(self) -> Process:
        for day, product in zip(self.lane.referral_days, self.lane.products, strict=True):
            yield self.env.timeout(float(day) - self.env.now)
            if self.in_window(self.env.now):
                self.counts["arrived"] += 1
            self.env.process(self.patient(self.env.now, int(product)))

    def patient(self, referred: float, product: int) -> Process:
        env, p = self.env, self.config.products[product]
        first_start: float | None = None
        while True:
            # Joining the waitlist takes the lane's next set of variates (see _streams).
            draw = self.stream.next_entry()
            with self.suites.request() as slot:
                patience = float(draw[PATIENCE])
                if math.isinf(patience):
                    yield slot
                else:
                    outcome = yield slot | env.timeout(patience)
                    if slot not in outcome:
                        self.count_if_in_window("lost")
                        return
                start = env.now
                if first_start is None:
                    first_start = start
                    if self.in_window(start):
                        self.waits.append(start - referred)
                done = start + p.manufacturing_days * float(draw[MANUFACTURING])
                self.counts["suite_busy_days"] += self.busy_in_window(start, done)
                yield env.timeout(done - start)

            qc_days = p.qc_days * float(draw[QC])
            if self.qc is None:
                released = env.now + qc_days
            else:
                with self.qc.request() as qc_slot:
                    yield qc_slot
                    released = env.now + qc_days
                    slot_days = self.config.qc_slot_days
                    held = qc_days if slot_days is None else min(slot_days, qc_days)
                    self.counts["qc_busy_days"] += self.busy_in_window(env.now, env.now + held)
                    yield env.timeout(held)
            yield env.timeout(released - env.now)

            if float(draw[FAIL_U]) < p.failure_rate:
                self.count_if_in_window("failed")
                wait = float(draw[RECOLLECT_PATIENCE])
                if wait < self.config.recollection_days:
                    yield env.timeout(wait)
                    self.count_if_in_window("lost")
                    return
                yield env.timeout(self.config.recollection_days)
                continue

            yield env.timeout(p.ship_days * float(draw[SHIP]))
            if self.in_window(env.now):
                self.counts["treated"] += 1
                self.vein_to_vein.append(env.now - first_start)
            return

    def count_if_in_window(self, name: str) -> None:
        if self.in_window(self.env.now):
            self.counts[name] += 1


def run_replication(config: SimulationConfig, seed: int, replication: int) -> list[Facility]:
    """Run one replication of the whole network; facilities share the clock only."""
    env = simpy.Environment()
    plan = BlockPlan.of(config)
    facilities = [
        Facility(env, config, i, Lane(config, seed, replication, i), plan)
        for i in range(len(config.facilities))
    ]
    for facility in facilities:
        env.process(facility.referrals())
    env.run(until=config.end_day)
    return facilities


def simulate(config: SimulationConfig, seed: int, replications: Sequence[int]) -> ReplicationTable:
    """Run the given replications one after another and tabulate them."""
    runs = [run_replication(config, seed, r) for r in replications]
    n_fac = len(config.facilities)
    counts = {
        k: np.array([[f.counts[k] for f in run] for run in runs]).reshape(len(runs), n_fac)
        for k in COUNTS
    }
    return build_table(
        replications,
        counts,
        _pad([[f.waits for f in run] for run in runs], n_fac),
        _pad([[f.vein_to_vein for f in run] for run in runs], n_fac),
    )


def _pad(samples: list[list[list[float]]], n_fac: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    width = max((len(s) for run in samples for s in run), default=0)
    out = np.full((len(samples), n_fac, max(width, 1)), np.nan)
    for r, run in enumerate(samples):
        for f, values in enumerate(run):
            out[r, f, : len(values)] = values
    return out
