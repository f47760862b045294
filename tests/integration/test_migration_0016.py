"""Migration 0016 on SQLite and PostgreSQL, where a database already holds two open cases
with one wristband at one treatment centre (possible before it): the upgrade is refused
with what to do, leaves the database at 0015 with no index half-made, and goes through
once the duplicate case is cancelled."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from tests.conftest import FixedClock
from veinline.adapters import database
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.services import commands


def _indexes(app: App) -> set[str]:
    with app.engine.connect() as conn:
        return {str(i["name"]) for i in inspect(conn).get_indexes("cases")}


def test_duplicate_open_wristbands_refuse_the_upgrade_until_one_is_cancelled(
    demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    first = driver.enrol(EQUE_CEL_HK, patient_name="Ada Once", wristband="WB-DUP-1")
    second = driver.enrol(EQUE_CEL_HK, patient_name="Ada Twice", wristband="WB-DUP-2")
    engine = demo_app.engine
    command.downgrade(database.alembic_config(engine), "0015_jobs")
    assert "uq_cases_open_wristband" not in _indexes(demo_app)
    # What revision 0015 let through: the second case enrolled on the first's wristband.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cases SET wristband_hash = "
                "(SELECT wristband_hash FROM cases WHERE id = :first) WHERE id = :second"
            ),
            {"first": first.id, "second": second.id},
        )

    with pytest.raises(RuntimeError) as refused:
        database.upgrade(engine)
    told = str(refused.value)
    assert "1 wristband(s) are each on more than one open case" in told
    assert EQUE_CEL_HK.treatment_site in told and "veinline case cancel" in told
    assert database.current_revision(engine) == "0015_jobs"
    assert "uq_cases_open_wristband" not in _indexes(demo_app)

    demo_app.bus.handle(
        commands.CancelCase(case_id=second.id, reason="enrolled twice on one wristband"),
        actor=demo_app.user("coordinator"),
    )
    database.upgrade(engine)
    assert database.current_revision(engine) == database.SCHEMA_HEAD
    assert "uq_cases_open_wristband" in _indexes(demo_app)
