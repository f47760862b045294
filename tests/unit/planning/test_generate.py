from __future__ import annotations

from veinline.planning.generate import facility_year, network_year, small


def test_the_same_seed_gives_the_same_scenario() -> None:
    assert small(seed=4) == small(seed=4)
    assert small(seed=4) != small(seed=5)


def test_a_facility_year_has_700_patients_and_the_suites_asked_for() -> None:
    scenario = facility_year(suites=27)
    assert len(scenario.patients) == 700
    assert scenario.facilities[0].suites == 27
    assert {c.transport_days["RTP"] for c in scenario.apheresis_centres} == {1, 2}


def test_a_network_links_every_centre_to_a_home_facility() -> None:
    scenario = network_year(patients=200, facilities=5, centres=40, suites=4)
    assert len(scenario.facilities) == 5
    assert len(scenario.apheresis_centres) == 40
    assert all(len(c.transport_days) in (1, 2) for c in scenario.apheresis_centres)
    assert any(len(c.transport_days) == 2 for c in scenario.apheresis_centres)
