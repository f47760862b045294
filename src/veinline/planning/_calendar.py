"""Exact day-by-day booking of suites, apheresis chairs and QC intake.

The greedy planners (FIFO, the warm start, repairs, replanning) book one batch at a
time into a `Calendar`, which answers "what is the earliest day this patient can
start at this facility, and in which suite?" against every capacity at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veinline.planning._problem import BoolArray, IntArray, Option, Problem


@dataclass(frozen=True)
class Booking:
    """A batch placed in the calendar: suite occupied over [start, end)."""

    facility: int
    suite: int
    apheresis: int
    start: int
    end: int
    centre: int


class Calendar:
    """What is already taken, per suite-day, centre-day and QC-day.

    For speed it keeps, per suite and day, the number of free days that start there
    (`run`), and per facility the longest such run over its suites (`longest`): the
    earliest day a batch of length p fits is the first day whose longest run is >= p.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        horizon = problem.horizon
        self.busy: list[BoolArray] = [shut.copy() for shut in problem.closed]
        self.run: list[IntArray] = []
        self.longest: list[IntArray] = []
        for busy in self.busy:
            run = np.zeros((busy.shape[0], horizon + 1), dtype=np.int64)
            for s in range(busy.shape[0]):
                run[s, :horizon] = _free_run(busy[s])
            self.run.append(run)
            self.longest.append(run.max(axis=0))
        self.centre_load: IntArray = np.zeros((len(problem.centre_ids), horizon), dtype=np.int64)
        self.qc_load: IntArray = np.zeros((len(problem.facility_ids), horizon + 1), dtype=np.int64)
        self._qc_cap = np.array(
            [cap if cap is not None else 1 << 30 for cap in problem.qc_capacity], dtype=np.int64
        )
        self._days = np.arange(horizon + 1, dtype=np.int64)
        for work in problem.fixed:
            batch = Booking(
                work.facility, work.suite, work.apheresis, work.start, work.end, work.centre
            )
            self.book(batch)

    def book(self, booking: Booking) -> None:
        """Take the suite-days, the apheresis chair and the QC intake of one batch."""
        self._mark(booking, True)

    def release(self, booking: Booking) -> None:
        """Give back what `book` took."""
        self._mark(booking, False)

    def _mark(self, booking: Booking, value: bool) -> None:
        horizon = self.problem.horizon
        lo, hi = max(booking.start, 0), min(booking.end, horizon)
        if lo < hi:
            f, s = booking.facility, booking.suite
            row = self.busy[f][s]
            row[lo:hi] = value
            if not value:
                row[lo:hi] |= self.problem.closed[f][s][lo:hi]
            self.run[f][s, :horizon] = _free_run(row)
            self.longest[f] = self.run[f].max(axis=0)
        step = 1 if value else -1
        if 0 <= booking.apheresis < horizon:
            self.centre_load[booking.centre, booking.apheresis] += step
        if 0 <= booking.end <= horizon:
            self.qc_load[booking.facility, booking.end] += step

    def earliest(
        self, j: int, option: Option, *, not_before: int = 0, not_after: int | None = None
    ) -> Booking | None:
        """The earliest feasible booking of patient j at `option`'s facility, or None."""
        problem = self.problem
        p = int(problem.duration[j])
        f = option.facility
        k = int(problem.centre[j])
        lo = max(option.earliest, not_before)
        hi = problem.horizon - p
        if not_after is not None:
            hi = min(hi, not_after)
        if lo > hi:
            return None
        days = self._days[lo : hi + 1]
        ok = self.longest[f][lo : hi + 1] >= p
        ok &= self.centre_load[k, days - option.transport] < problem.centre_capacity[k]
        ok &= self.qc_load[f, days + p] < self._qc_cap[f]
        hits = np.flatnonzero(ok)
        if hits.size == 0:
            return None
        t = lo + int(hits[0])
        suite = self.best_suite(f, p, t)
        return Booking(f, suite, t - option.transport, t, t + p, k)

    def fits(self, facility: int, suite: int, start: int, end: int) -> bool:
        """Whether the suite is free over [start, end)."""
        return bool(self.run[facility][suite, start] >= end - start)

    def free_suites(self, facility: int, start: int, end: int) -> IntArray:
        """Suites of `facility` free over [start, end)."""
        return np.flatnonzero(self.run[facility][:, start] >= end - start)

    def centre_has_room(self, centre: int, day: int) -> bool:
        """Whether the centre can take one more collection that day."""
        return bool(self.centre_load[centre, day] < self.problem.centre_capacity[centre])

    def qc_has_room(self, facility: int, day: int) -> bool:
        """Whether QC can take in one more batch that day."""
        return bool(self.qc_load[facility, day] < self._qc_cap[facility])

    def best_suite(self, facility: int, length: int, start: int, prefer: int | None = None) -> int:
        """Best fit: among suites free for `length` days from `start`, the one whose free
        stretch is shortest (so long stretches stay whole); `prefer` wins if it fits."""
        runs = self.run[facility][:, start]
        if prefer is not None and runs[prefer] >= length:
            return prefer
        fitting = np.where(runs >= length, runs, np.iinfo(np.int64).max)
        return int(np.argmin(fitting))


def _free_run(busy: BoolArray) -> IntArray:
    """For each day, how many consecutive free days start there."""
    horizon = busy.size
    positions = np.where(busy, np.arange(horizon), horizon)
    next_busy = np.minimum.accumulate(positions[::-1])[::-1]
    return np.asarray(next_busy - np.arange(horizon), dtype=np.int64)
