"""Search and lists that scale (docs/architecture.md, "Search and lists"), on SQLite and
PostgreSQL: the database's page of cases is the one the authority table allows, found by
any identifier, by wristband or name only for the care team, paged in a fixed number of
statements; the ledger filtered and paged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, generated_name, load_many_cases
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import InvalidInput
from veinline.domain.user import Role
from veinline.entrypoints.views import cases as views
from veinline.services import authority, ledger
from veinline.services.authority import Read, Where
from veinline.services.unit_of_work import AbstractUnitOfWork, CaseQuery, LedgerQuery


@pytest.fixture
def world(demo_app: App, clock: FixedClock) -> tuple[App, Case]:
    """24 generated cases at both demo centres and one Hong Kong case in manufacturing
    (with a DIN, a batch and a shipment to be found by)."""
    driver = Driver(demo_app.bus, demo_app.user, clock)
    load_many_cases(driver, 24)
    made = driver.enrol(EQUE_CEL_HK, patient_name="Odalys Penhallow", wristband="WB-OP-1")
    return demo_app, driver.advance(made, EQUE_CEL_HK, CaseState.MANUFACTURING)


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", note)


def _ids(uow: AbstractUnitOfWork, user_name: str, query: CaseQuery, *, sql: bool) -> list[str]:
    user = uow.users.get(user_name)
    assert user is not None
    shown, full = authority.reach(user, Read.CASE)
    find = uow.find_cases if sql else lambda *a: AbstractUnitOfWork.find_cases(uow, *a)
    return [c.id for c in find(query, shown, full).cases]


def test_each_users_page_holds_exactly_the_cases_the_authority_table_shows_them(
    world: tuple[App, Case],
) -> None:
    app, _ = world
    with app.uow() as uow:
        every = uow.cases.list()
        users = [u for u in uow.users.list() if u.role is not Role.ADMIN]
        for user in users:
            shown, full = authority.reach(user, Read.CASE)
            page = uow.find_cases(CaseQuery(page_size=100), shown, full)
            expected = {c.id for c in every if authority.visible(user, Read.CASE, Where.of_case(c))}
            assert {c.id for c in page.cases} == expected, user.username
            assert page.total == len(expected) == sum(page.by_state.values())
            seen_in_full = {
                c.id
                for c in every
                if authority.sees(user, Read.CASE, Where.of_case(c)) is authority.DataClass.FULL
            }
            assert {c.id for c in every if full.covers(c)} & expected == seen_in_full & expected


@pytest.mark.parametrize(
    "query",
    [
        CaseQuery(),
        CaseQuery(state="eligible"),
        CaseQuery(product="zevor-cel", state="apheresis_booked"),
        CaseQuery(site="demo-hk-treatment", page=2, page_size=5),
        CaseQuery(text="ada"),
        CaseQuery(text=generated_name(3)),
        CaseQuery(text="WB-G000005"),
        CaseQuery(text="c20"),
    ],
)
def test_the_database_answers_as_the_reading_of_every_case_does(
    world: tuple[App, Case], query: CaseQuery
) -> None:
    app, _ = world
    with app.uow() as uow:
        for name in ("coordinator", "coordinator.hk", "courier", "operator", "planner"):
            assert _ids(uow, name, query, sql=True) == _ids(uow, name, query, sql=False), name


def test_a_case_is_found_by_every_identifier_it_carries(world: tuple[App, Case]) -> None:
    app, made = world
    with app.uow() as uow:
        batch = uow.batches.find(case_id=made.id)[0]
        shipment = uow.shipments.find(case_id=made.id)[0]
        courier = uow.users.get("courier")
        assert courier is not None
        for text in (
            made.id,
            made.id[:8].lower(),
            made.coi,
            made.current_din,
            batch.id,
            shipment.id,
        ):
            board = views.case_board(uow, courier, CaseQuery(text=str(text)))
            found = [c["id"] for column in board["columns"] for c in column["cases"]]
            assert made.id in found, text
            if text != made.id[:8].lower():
                assert found == [made.id], text


def test_a_wristband_or_a_name_finds_a_patient_only_for_those_who_see_the_patient(
    world: tuple[App, Case],
) -> None:
    app, made = world
    with app.uow() as uow:
        for text in ("WB-OP-1", "penhallow", "Odalys  Penhallow"):
            for name, finds in (
                ("coordinator.hk", True),
                ("physician", True),
                ("coordinator.us", False),  # another centre's patient
                ("courier", False),
                ("operator", False),
                ("planner", False),
            ):
                user = uow.users.get(name)
                assert user is not None
                board = views.case_board(uow, user, CaseQuery(text=text))
                found = [c["id"] for column in board["columns"] for c in column["cases"]]
                assert (found == [made.id]) is finds, (text, name, found)
                assert (board["total"] == 1) is finds


def test_a_page_takes_the_same_few_statements_whatever_it_shows(world: tuple[App, Case]) -> None:
    app, _ = world
    counts = []
    for size, text in ((5, ""), (50, ""), (50, "Ada"), (5, "Ada")):
        with app.uow() as uow:
            user = uow.users.get("coordinator")
            assert user is not None
            with statements(app) as seen:
                board = views.case_board(uow, user, CaseQuery(text=text, page_size=size))
            assert board["columns"]
            counts.append((text, len(seen)))
    plain = {n for text, n in counts if not text}
    named = {n for text, n in counts if text}
    # the counts per state and the page; a name search opens the names once more
    assert plain == {2} and named == {3}


def test_pages_follow_on_and_a_page_past_the_end_shows_the_last(world: tuple[App, Case]) -> None:
    app, _ = world
    with app.uow() as uow:
        user = uow.users.get("coordinator")
        assert user is not None
        first = views.case_board(uow, user, CaseQuery(page_size=10))
        second = views.case_board(uow, user, CaseQuery(page=2, page_size=10))
        last = views.case_board(uow, user, CaseQuery(page=99, page_size=10))
        bounded = views.case_board(uow, user, CaseQuery(page_size=5000))
        with pytest.raises(InvalidInput, match="there is no case state 'lost'"):
            views.case_board(uow, user, CaseQuery(state="lost"))

    def ids(board: dict[str, object]) -> list[str]:
        columns = board["columns"]
        assert isinstance(columns, list)
        return [c["id"] for column in columns for c in column["cases"]]

    assert first["total"] == 25 and first["pages"] == 3 and len(ids(first)) == 10
    assert not set(ids(first)) & set(ids(second)) and len(ids(second)) == 10
    assert last["page"] == 3 and len(ids(last)) == 5
    assert bounded["page_size"] == 100
    order = [s.value for s in CaseState]
    states = [order.index(c["state"]) for c in first["columns"] for c in c["cases"]]
    assert states == sorted(states)


def test_the_ledger_is_filtered_by_record_actor_action_and_day_and_paged(
    world: tuple[App, Case], clock: FixedClock
) -> None:
    app, made = world
    qa = app.user("qa")
    today = clock().date().isoformat()
    everything, total = ledger.page(app.uow(), LedgerQuery(page_size=100), actor=qa)
    assert [e.seq for e in everything] == sorted((e.seq for e in everything), reverse=True)
    of_case, n = ledger.page(
        app.uow(), LedgerQuery(entity_type="case", entity_id=made.id), actor=qa
    )
    assert n == len(of_case) > 3 and {e.entity_id for e in of_case} == {made.id}
    enrolled, n = ledger.page(
        app.uow(), LedgerQuery(action="case.enrolled", page=2, page_size=10), actor=qa
    )
    assert n == 25 and len(enrolled) == 10 and {e.action for e in enrolled} == {"case.enrolled"}
    physician, n = ledger.page(app.uow(), LedgerQuery(actor="physician"), actor=qa)
    assert n and {e.actor for e in physician} == {"physician"}
    assert ledger.page(app.uow(), LedgerQuery(since=today, until=today), actor=qa)[1] == total
    assert ledger.page(app.uow(), LedgerQuery(until="2000-01-01"), actor=qa)[1] == 0
    with pytest.raises(InvalidInput, match="must be a date like"):
        ledger.page(app.uow(), LedgerQuery(since="yesterday"), actor=qa)
    with pytest.raises(InvalidInput, match="after it ends"):
        ledger.page(app.uow(), LedgerQuery(since="2026-05-02", until="2026-05-01"), actor=qa)
