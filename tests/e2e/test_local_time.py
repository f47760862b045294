"""Times on the pages are shown in the zone of the site where each thing happened, with
the zone named and UTC kept on hover; dates in rules are the site's (docs/architecture.md,
"Local time")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import EQUE_CEL_HK, ZEVOR_CEL_US, Driver
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.entrypoints.http.app import create_app

_TIME = re.compile(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>')


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _times(html: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in _TIME.finditer(html)]


def test_custody_times_are_shown_where_each_hand_off_happened(
    client: TestClient, demo_app: App
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    hk = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Local Time HK", wristband="WB-LT-1"),
        EQUE_CEL_HK,
        CaseState.IN_QC,
    )
    us = driver.advance(
        driver.enrol(ZEVOR_CEL_US, patient_name="Local Time US", wristband="WB-LT-2"),
        ZEVOR_CEL_US,
        CaseState.AT_MANUFACTURING,
    )
    sign_in_page(client, "coordinator")
    shown = _times(client.get(f"/cases/{hk.id}").text)
    zones = [text.rsplit(" ", 1)[1] for _, _, text in shown]
    # Newest first: received at the Suzhou facility (China Standard Time), picked up in
    # Hong Kong.
    assert zones == ["CST", "HKT"], shown
    utc, hover, text = shown[1]
    assert hover.startswith(utc[:10]) and hover.endswith("UTC · Asia/Hong_Kong")
    assert not text.endswith("UTC")
    us_zones = {t.rsplit(" ", 1)[1] for _, _, t in _times(client.get(f"/cases/{us.id}").text)}
    assert us_zones <= {"EST", "EDT"} and us_zones, us_zones

    # The batch record is shown in the facility's zone, its signatures too.
    sign_in_page(client, "operator")
    batch = client.get(f"/batches/{hk.batch_id}").text
    batch_zones = {t.rsplit(" ", 1)[1] for _, _, t in _times(batch)}
    assert batch_zones == {"CST"}, batch_zones
    assert " UTC</" not in batch


def test_form_defaults_are_in_the_zone_of_the_users_site(client: TestClient, demo_app: App) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Local Default HK", wristband="WB-LT-3"),
        EQUE_CEL_HK,
        CaseState.APHERESIS_BOOKED,
    )
    sign_in_page(client, "nurse.hk")
    page = client.get(f"/cases/{case.id}").text
    collected = re.search(r'name="collected_at"[^>]*value="([^"]+)"', page)
    assert collected is not None and collected.group(1).endswith("+08:00"), page[:200]


def test_the_work_queue_says_since_when_in_the_readers_own_time(
    client: TestClient, demo_app: App
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    for route, name in ((EQUE_CEL_HK, "Queue HK"), (ZEVOR_CEL_US, "Queue US")):
        driver.advance(
            driver.enrol(route, patient_name=name, wristband=f"WB-{name[-2:]}-Q"),
            route,
            CaseState.ELIGIBLE,
        )
    for reader, zones in (
        ("coordinator.hk", {"HKT"}),
        ("coordinator.us", {"EST", "EDT"}),
    ):
        client.cookies.clear()
        sign_in_page(client, reader)
        queue = re.search(r'data-testid="work-queue"(.*?)</ol>', client.get("/").text, re.S)
        assert queue is not None, reader
        shown = {text.rsplit(" ", 1)[1] for _, _, text in _times(queue.group(1))}
        assert shown and shown <= zones, (reader, shown)
