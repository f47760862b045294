from __future__ import annotations

import pytest

from tests.unit.planning.helpers import day, patient, tiny
from veinline.planning.feasibility import check_plan
from veinline.planning.fifo import fifo_plan
from veinline.planning.generate import small


def test_fifo_books_in_waiting_list_order_whatever_the_urgency() -> None:
    scenario = tiny(
        patients=[
            patient("P1", urgency=5, waitlisted_since=day(-1)),
            patient("P2", urgency=1, waitlisted_since=day(-30)),
            patient("P3", urgency=3),
        ]
    )
    result = fifo_plan(scenario)
    order = [a.patient for a in sorted(result.assignments, key=lambda a: a.manufacturing_start)]
    assert order == ["P2", "P1", "P3"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_fifo_plan_passes_the_feasibility_checker(seed: int) -> None:
    scenario = small(seed=seed, suites=(2, 2), centres=4)
    assert check_plan(fifo_plan(scenario), scenario) == []


def test_fifo_claims_no_bound() -> None:
    result = fifo_plan(small(seed=1))
    assert (result.policy, result.bound, result.gap) == ("fifo", None, None)
