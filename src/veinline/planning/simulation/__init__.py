"""Capacity simulation: can a facility (or a network) serve N patients a year, and how
long do they wait?

Random referrals, manufacturing, QC and shipping times, batch failures with
re-collection, and patients leaving the waitlist, over one or more years; KPIs with 95%
confidence intervals over independent replications. Two engines compute the same model:
`reference` (SimPy, one process per patient, the one to read) and `fast` (NumPy,
vectorised across replications, the one to run). See docs/planning/simulation.md.

    config = load_scenario(Path("docs/planning/rtp-simulation.json"))
    result = simulate(config, replications=200, seed=2)
    result.summary.network["wait_days_p90"]
"""

from veinline.planning.simulation.config import SimulationConfig, load_scenario, parse_scenario
from veinline.planning.simulation.kpi import Estimate, ReplicationTable, Summary
from veinline.planning.simulation.runner import (
    ENGINES,
    Engine,
    SimulationResult,
    SweepPoint,
    simulate,
    sweep_suites,
)

__all__ = [
    "ENGINES",
    "Engine",
    "Estimate",
    "ReplicationTable",
    "SimulationConfig",
    "SimulationResult",
    "Summary",
    "SweepPoint",
    "load_scenario",
    "parse_scenario",
    "simulate",
    "sweep_suites",
]
