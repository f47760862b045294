"""The work queue read model on the fakes: what waits on whom, where, and the alerts
(docs/architecture.md, "Work queues")."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import FixedClock
from tests.fakes import FakeUnitOfWork, release_panels
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, ZEVOR_CEL_US, Driver, Route
from veinline.domain.case import Case, CaseState
from veinline.domain.user import User
from veinline.entrypoints.views.work import work_queue
from veinline.services import commands, handlers
from veinline.services.messagebus import MessageBus


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain$" + password


class World:
    """The demo catalogue and users on a fake unit of work, and the demo's driver."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.uow = FakeUnitOfWork(clock)
        handlers.ensure_system_user(self.uow, clock=clock)
        self.bus = MessageBus(
            lambda: self.uow,
            {"clock": clock, "hasher": PlainHasher(), "release_panels": release_panels},
        )
        self.bus.handle(demo_command(), actor=self.user("system"))
        self.driver = Driver(self.bus, self.user, clock)
        self.count = 0

    def user(self, username: str) -> User:
        user = self.uow.users.get(username)
        assert user is not None, username
        return user

    def at(self, state: CaseState, route: Route = EQUE_CEL_HK) -> Case:
        self.count += 1
        case = self.driver.enrol(route, patient_name="Test Patient", wristband=f"WB-Q{self.count}")
        return self.driver.advance(case, route, state)

    def queue(self, username: str) -> dict[str, Any]:
        with self.uow:
            return work_queue(self.uow, self.user(username), self.clock())

    def items(self, username: str, case_id: str | None = None) -> list[tuple[str, str]]:
        """(kind, action) of each item, for one case if given."""
        return [
            (i["kind"], i["action"])
            for i in self.queue(username)["items"]
            if case_id is None or i["case_id"] == case_id
        ]


@pytest.fixture
def world(clock: FixedClock) -> World:
    return World(clock)


def test_an_enrolled_case_waits_on_a_physician_of_its_centre_only(world: World) -> None:
    case = world.at(CaseState.ENROLLED)
    assert ("case", "confirm_eligibility") in world.items("physician", case.id)
    assert ("case", "confirm_eligibility") in world.items("physician.hk", case.id)
    # Another centre's physician, and roles that do not confirm, see nothing of it.
    assert world.items("physician.us", case.id) == []
    assert world.items("coordinator", case.id) == []
    assert world.items("courier", case.id) == []


def test_each_item_says_why_and_links_to_where_it_is_done(world: World) -> None:
    case = world.at(CaseState.ELIGIBLE)
    [item] = [i for i in world.queue("coordinator")["items"] if i["case_id"] == case.id]
    assert item["action"] == "book_apheresis"
    assert item["href"] == f"/cases/{case.id}#action-book_apheresis"
    assert "apheresis is not booked" in item["why"]
    assert item["since"] is not None


def test_a_nurse_collects_on_the_booked_day_and_after_it_urgently(world: World) -> None:
    case = world.at(CaseState.APHERESIS_BOOKED)
    assert case.apheresis_date is not None
    booked = date.fromisoformat(case.apheresis_date)
    assert ("case", "collect") not in world.items("nurse", case.id)  # not today yet
    world.clock.advance(days=(booked - world.clock().date()).days)
    [today] = [i for i in world.queue("nurse")["items"] if i["case_id"] == case.id]
    assert (today["action"], today["urgency"]) == ("collect", 1)
    world.clock.advance(days=2)
    [late] = [i for i in world.queue("nurse")["items"] if i["case_id"] == case.id]
    assert late["urgency"] == 2 and "overdue" in late["why"]


def test_custody_waits_on_the_courier_then_the_facility(world: World) -> None:
    case = world.at(CaseState.COLLECTED)
    assert ("shipment", "apheresis_pickup") in world.items("courier", case.id)
    assert world.items("operator", case.id) == []
    stored = world.driver.advance(case, EQUE_CEL_HK, CaseState.AT_MANUFACTURING)
    assert stored is not None and stored.state is CaseState.AT_MANUFACTURING
    assert world.items("courier", case.id) == []
    assert ("case", "start_manufacturing") in world.items("operator.suzhou", case.id)


def test_complete_manufacturing_waits_only_once_every_step_is_signed(world: World) -> None:
    case = world.at(CaseState.MANUFACTURING)
    operator = world.items("operator", case.id)
    assert ("case", "complete_manufacturing") not in operator
    assert ("batch", "start_step") in operator
    world.driver.run_steps(case)
    assert ("case", "complete_manufacturing") in world.items("operator", case.id)


def test_a_blocked_shipment_waits_on_qa_and_alerts_the_receivers(world: World) -> None:
    # A cryopreserved product in transit with no logger readings: receipt is blocked.
    case = world.at(CaseState.SHIPPED, ZEVOR_CEL_US)
    qa = world.queue("qa")
    assert ("shipment", "dispose_excursion") in [
        (i["kind"], i["action"]) for i in qa["items"] if i["case_id"] == case.id
    ]
    assert [a["kind"] for a in qa["alerts"] if a["case_id"] == case.id] == ["blocked_shipment"]
    # The coordinator cannot scan it in yet: an alert, not an item.
    coordinator = world.queue("coordinator")
    assert not [i for i in coordinator["items"] if i["case_id"] == case.id]
    assert [a["kind"] for a in coordinator["alerts"] if a["case_id"] == case.id] == [
        "blocked_shipment"
    ]
    # QA at another facility does not see it.
    assert not [i for i in world.queue("qa2")["items"] if i["case_id"] == case.id]


def test_a_batch_with_an_open_major_deviation_is_never_listed_as_ready(world: World) -> None:
    case = world.at(CaseState.IN_QC, ZEVOR_CEL_US)
    world.driver.test_batch(case)
    assert ("release", "release") in world.items("qa", case.id)
    world.bus.handle(
        commands.RaiseDeviation(str(case.batch_id), "incubator door found open", "major"),
        actor=world.user("operator"),
    )
    qa = world.items("qa", case.id)
    assert ("release", "release") not in qa
    assert ("release", "close_deviation") in qa
    assert ("deviation", "investigate_deviation") in qa
    held = next(i for i in world.queue("qa")["items"] if i["action"] == "close_deviation")
    assert held["urgency"] == 2 and "major deviation" in held["why"]


def test_qc_waits_for_missing_results(world: World) -> None:
    case = world.at(CaseState.IN_QC)
    assert ("qc", "enter_result") in world.items("qc", case.id)
    world.driver.test_batch(case)
    assert ("qc", "enter_result") not in world.items("qc", case.id)


def test_a_grade_3_crs_alerts_the_care_team_only(world: World) -> None:
    case = world.at(CaseState.INFUSED)
    crs = {
        "temperature_c": 39.2,
        "fever_masked_by_treatment": False,
        "hypotension": True,
        "vasopressors": ["norepinephrine"],
        "oxygen": {"device": "none"},
        "death_from_crs": False,
    }
    today = world.clock().date().isoformat()
    world.bus.handle(
        commands.RecordAssessment(case.id, "crs", today, crs), actor=world.user("physician")
    )
    alerts = [a for a in world.queue("physician")["alerts"] if a["case_id"] == case.id]
    assert [a["kind"] for a in alerts] == ["toxicity"]
    assert "grade 3" in alerts[0]["message"]
    assert [a for a in world.queue("nurse")["alerts"] if a["kind"] == "toxicity"]
    # The facility sees identifiers only: no clinical alert.
    assert not [a for a in world.queue("operator")["alerts"] if a["kind"] == "toxicity"]


def test_an_expedited_safety_report_is_listed_then_alerts_once_overdue(world: World) -> None:
    case = world.at(CaseState.FOLLOW_UP, ZEVOR_CEL_US)
    event = {
        "term": "Parkinsonism",
        "grade": 3,
        "serious": True,
        "outcome": "not_recovered",
        "expected": False,
    }
    today = world.clock().date()
    world.bus.handle(
        commands.RecordAssessment(case.id, "adverse_event", today.isoformat(), event),
        actor=world.user("physician"),
    )
    [item] = [i for i in world.queue("physician")["items"] if i["kind"] == "safety_report"]
    assert (today + timedelta(days=15)).isoformat() in item["why"]
    assert not [a for a in world.queue("physician")["alerts"] if a["kind"] == "safety_report"]
    world.clock.advance(days=16)
    alerts = [a for a in world.queue("physician")["alerts"] if a["kind"] == "safety_report"]
    assert len(alerts) == 1 and "overdue" in alerts[0]["message"]


def test_the_queue_is_most_urgent_first_then_oldest(world: World) -> None:
    world.at(CaseState.ENROLLED)
    world.at(CaseState.RECEIVED_AT_SITE)
    items = world.queue("physician")["items"]
    assert [i["action"] for i in items][:1] == ["infuse"]
    urgencies = [i["urgency"] for i in items]
    assert urgencies == sorted(urgencies, reverse=True)


def test_planners_and_administrators_have_their_own_home(world: World) -> None:
    case = world.at(CaseState.ELIGIBLE)
    planner = world.queue("planner")
    assert planner["home"] == "planner"
    assert ("case", "plan") in [(i["kind"], i["action"]) for i in planner["items"]]
    admin = world.queue("admin")
    assert admin["home"] == "admin" and admin["items"] == []
    assert world.queue("coordinator")["home"] == "queue"
    assert case.id in {i["case_id"] for i in planner["items"]}


def test_the_queue_comes_a_page_at_a_time_with_the_whole_queues_counts(world: World) -> None:
    for state in (CaseState.ENROLLED,) * 4 + (CaseState.RECEIVED_AT_SITE,):
        world.at(state)
    physician = world.user("physician")
    with world.uow:
        whole = work_queue(world.uow, physician, world.clock(), page_size=100)
        pages = [
            work_queue(world.uow, physician, world.clock(), page=n, page_size=2) for n in (1, 2, 3)
        ]
    assert whole["total"] == len(whole["items"]) == 5 and whole["pages"] == 1
    assert [p["page"] for p in pages] == [1, 2, 3] and {p["pages"] for p in pages} == {3}
    assert [i for p in pages for i in p["items"]] == whole["items"]
    assert all(p["counts"] == whole["counts"] == {"case": 5} for p in pages)
    assert pages[0]["items"][0]["action"] == "infuse"  # the most urgent on the first page
    # A page past the last is the last; at most 100 a page.
    with world.uow:
        beyond = work_queue(world.uow, physician, world.clock(), page=9, page_size=2)
        big = work_queue(world.uow, physician, world.clock(), page_size=1000)
    assert beyond["page"] == 3 and beyond["items"] == pages[2]["items"]
    assert big["page_size"] == 100


def test_veinline_work_pages_as_the_api_does() -> None:
    from veinline.entrypoints.cli import work as cli_work
    from veinline.services.unit_of_work import MAX_PAGE_SIZE, PAGE_SIZE

    assert (cli_work._PAGE_SIZE, cli_work._MAX_PAGE_SIZE) == (PAGE_SIZE, MAX_PAGE_SIZE)
