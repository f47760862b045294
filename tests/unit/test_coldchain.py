"""Cold chain: limits per shipper and product, logger files, excursions and gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from veinline.adapters.seed import catalogue_command
from veinline.domain.coldchain import (
    Reading,
    ShipperType,
    TemperatureLimits,
    find_excursions,
    find_gaps,
    limits_for,
    parse_logger_csv,
)
from veinline.domain.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRESH = TemperatureLimits(low=2.0, high=8.0)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def log(*temps: float, every: int = 5) -> list[Reading]:
    """Readings every `every` minutes from T0."""
    return [Reading(at=T0 + timedelta(minutes=every * i), celsius=t) for i, t in enumerate(temps)]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- shipper types and limits -----------------------------------------------------------


def test_shipper_types_have_labels_saying_what_travels() -> None:
    assert ShipperType("fresh_2_8").label == "Fresh apheresis material, 2–8 °C"
    assert "liquid-nitrogen vapour" in ShipperType.LN2_VAPOUR.label


def test_fresh_material_travels_at_2_to_8_whatever_the_product_storage_limit() -> None:
    assert limits_for(ShipperType.FRESH_2_8, -150.0) == TemperatureLimits(low=2.0, high=8.0)
    assert limits_for(ShipperType.FRESH_2_8, None) == TemperatureLimits(low=2.0, high=8.0)


@pytest.mark.parametrize("storage_max_c", [-120.0, -150.0])
def test_ln2_limit_is_the_product_own_storage_limit(storage_max_c: float) -> None:
    limits = limits_for(ShipperType.LN2_VAPOUR, storage_max_c)
    assert limits == TemperatureLimits(low=None, high=storage_max_c)


def test_ln2_limit_comes_from_the_seed_product() -> None:
    product = next(p for p in catalogue_command().products if p.code == "eque-cel")
    assert product.storage_max_c is not None
    assert limits_for(ShipperType.LN2_VAPOUR, product.storage_max_c).high == product.storage_max_c


def test_ln2_without_a_product_storage_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="storage_max_c"):
        limits_for(ShipperType.LN2_VAPOUR, None)


@pytest.mark.parametrize("storage_max_c", [150.0, 0.0, -200.0, float("nan")])
def test_ln2_limit_that_no_vapour_shipper_means_is_refused(storage_max_c: float) -> None:
    with pytest.raises(InvalidInput, match="storage limit"):
        limits_for(ShipperType.LN2_VAPOUR, storage_max_c)


def test_limits_with_low_above_high_are_refused() -> None:
    with pytest.raises(InvalidInput, match="above the high limit"):
        TemperatureLimits(low=8.0, high=2.0)


def test_limits_are_inclusive() -> None:
    assert FRESH.breach(2.0) is None
    assert FRESH.breach(8.0) is None
    assert FRESH.breach(8.1) == "high"
    assert FRESH.breach(1.9) == "low"
    assert FRESH.label == "2 to 8 °C"
    assert TemperatureLimits(low=None, high=-150.0).label == "at or below -150 °C"


# --- excursions -------------------------------------------------------------------------


def test_log_within_limits_has_no_excursion() -> None:
    assert find_excursions(log(4.0, 5.5, 2.0, 8.0, 6.1), FRESH) == []


def test_single_high_spike_is_one_excursion_lasting_until_back_in_range() -> None:
    [spike] = find_excursions(log(5.0, 5.0, 9.4, 5.0, 5.0), FRESH)
    assert spike.direction == "high"
    assert (spike.start, spike.end) == (at(10), at(15))
    assert spike.duration == timedelta(minutes=5)
    assert spike.extreme == 9.4
    assert spike.limit == 8.0
    assert spike.readings == 1
    assert spike.open is False


def test_long_excursion_reports_its_extreme_and_reading_count() -> None:
    [long] = find_excursions(log(6.0, 8.5, 10.0, 12.3, 11.0, 9.0, 7.9), FRESH)
    assert long.readings == 5
    assert long.extreme == 12.3
    assert (long.start, long.end) == (at(5), at(30))
    assert long.to_dict() == {
        "start": "2026-03-02T08:05:00+00:00",
        "end": "2026-03-02T08:30:00+00:00",
        "duration_seconds": 1500,
        "direction": "high",
        "extreme_c": 12.3,
        "limit_c": 8.0,
        "readings": 5,
        "open": False,
    }


def test_excursion_still_open_at_the_end_of_the_log_is_flagged_open() -> None:
    [tail] = find_excursions(log(5.0, 5.0, 9.0, 11.0), FRESH)
    assert tail.open is True
    assert (tail.start, tail.end) == (at(10), at(15))
    assert tail.readings == 2


def test_fresh_material_too_cold_is_a_low_excursion() -> None:
    [cold] = find_excursions(log(4.0, 1.5, 0.2, 3.0), FRESH)
    assert cold.direction == "low"
    assert cold.extreme == 0.2
    assert cold.limit == 2.0


def test_crossing_straight_from_high_to_low_gives_two_excursions() -> None:
    high, low = find_excursions(log(9.0, 1.0, 5.0), FRESH)
    assert (high.direction, high.end) == ("high", at(5))
    assert (low.direction, low.start, low.end) == ("low", at(5), at(10))


def test_separate_excursions_are_reported_separately_in_time_order() -> None:
    found = find_excursions(log(9.0, 5.0, 9.5, 5.0), FRESH)
    assert [e.start for e in found] == [at(0), at(10)]


def test_ln2_shipment_warming_above_the_product_limit_is_an_excursion() -> None:
    limits = limits_for(ShipperType.LN2_VAPOUR, -150.0)
    found = find_excursions(log(-190.0, -185.0, -149.5, -160.0), limits)
    assert [(e.direction, e.extreme, e.limit) for e in found] == [("high", -149.5, -150.0)]
    # Colder is never an excursion in a vapour shipper.
    assert find_excursions(log(-196.0, -195.0), limits) == []


def test_excursions_are_found_in_unsorted_readings() -> None:
    readings = log(5.0, 9.0, 5.0)
    [spike] = find_excursions(list(reversed(readings)), FRESH)
    assert (spike.start, spike.end) == (at(5), at(10))


# --- gaps -------------------------------------------------------------------------------


def test_gaps_longer_than_the_interval_are_reported() -> None:
    readings = [Reading(at(m), 5.0) for m in (0, 5, 10, 55, 60, 90)]
    gaps = find_gaps(readings, timedelta(minutes=30))
    assert [(g.start, g.end) for g in gaps] == [(at(10), at(55))]
    assert gaps[0].duration == timedelta(minutes=45)
    assert gaps[0].to_dict() == {
        "start": "2026-03-02T08:10:00+00:00",
        "end": "2026-03-02T08:55:00+00:00",
        "duration_seconds": 2700,
    }


def test_regular_log_has_no_gaps() -> None:
    assert find_gaps(log(5.0, 5.0, 5.0, every=15), timedelta(minutes=15)) == []


def test_zero_gap_interval_is_refused() -> None:
    with pytest.raises(InvalidInput, match="interval"):
        find_gaps(log(5.0), timedelta(0))


# --- logger files -----------------------------------------------------------------------


def test_logger_csv_with_header_and_offsets_is_read_in_utc() -> None:
    text = "timestamp,temperature_c\n2026-03-02T16:00:00+08:00,4.5\n2026-03-02T08:05:00Z,5\n"
    readings = parse_logger_csv(text, default_tz=SHANGHAI)
    assert [(r.at, r.celsius, r.line) for r in readings] == [
        (at(0), 4.5, 2),
        (at(5), 5.0, 3),
    ]
    assert readings[0].to_dict() == {
        "at": "2026-03-02T08:00:00+00:00",
        "celsius": 4.5,
        "line": 2,
    }


def test_naive_timestamps_are_read_in_the_default_zone() -> None:
    readings = parse_logger_csv("time,°C\n2026-03-02 16:00:00,4.5\n", default_tz=SHANGHAI)
    assert readings[0].at == at(0)


def test_semicolon_file_with_decimal_commas_and_no_header_is_read() -> None:
    text = "2026-03-02T16:00;4,5\r\n2026-03-02T16:05;-3,25\r\n"
    readings = parse_logger_csv(text, default_tz=SHANGHAI)
    assert [r.celsius for r in readings] == [4.5, -3.25]


@pytest.mark.parametrize(
    "header", ["datetime,temp", "Timestamp,Temperature (°C)", "time;temp_c", "\ufefftime,°C"]
)
def test_common_header_names_are_accepted(header: str) -> None:
    sep = ";" if ";" in header else ","
    text = f"{header}\n2026-03-02T08:00:00Z{sep}5.0\n"
    assert len(parse_logger_csv(text, default_tz=UTC)) == 1


def test_blank_and_comment_lines_are_skipped_but_lines_keep_their_numbers() -> None:
    text = "# logger SN 1234\ntimestamp,temperature_c\n\n2026-03-02T08:00:00Z,5.0\n"
    assert parse_logger_csv(text, default_tz=UTC)[0].line == 4


def test_out_of_order_readings_are_sorted() -> None:
    text = "2026-03-02T08:05:00Z,6\n2026-03-02T08:00:00Z,5\n"
    readings = parse_logger_csv(text, default_tz=UTC)
    assert [r.celsius for r in readings] == [5.0, 6.0]


def test_duplicate_timestamp_is_refused_naming_both_lines() -> None:
    # The same instant, written in two zones.
    text = "time,temp\n2026-03-02T08:00:00Z,5\n2026-03-02T16:00:00+08:00,5\n"
    with pytest.raises(InvalidInput, match=r"line 3: .* repeats line 2"):
        parse_logger_csv(text, default_tz=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,temp\n2026-03-02T08:00:00Z,5\n2026-03-02T08:05:00Z,warm\n", "line 3: 'warm'"),
        ("time,temp\n2026-03-02T08:00:00Z,5\n02/03/2026 08:05,5\n", "line 3: '02/03/2026"),
        ("time,temp\n2026-03-02,5\n", "line 2: '2026-03-02' is not a date and time"),
        ("time,temp\n2026-03-02T08:00:00Z\n", "line 2: expected a timestamp and a temperature"),
        ("time,temp\n2026-03-02T08:00:00Z,5,7\n", "line 2: expected a timestamp"),
        ("time,temp\n2026-03-02T08:00:00Z,-999\n", "line 2: -999 °C is below absolute zero"),
        ("time,temp\n2026-03-02T08:00:00Z,nan\n", "line 2: 'nan'"),
        ("time,temp\n2026-13-02T08:00:00Z,5\n", "line 2: .* not an ISO 8601 timestamp"),
        ("time,temp_f\n2026-03-02T08:00:00Z,41\n", "line 1: temperatures must be in °C"),
        ("time,humidity\n2026-03-02T08:00:00Z,41\n", "line 1: the second column"),
        ("probe,temp\n2026-03-02T08:00:00Z,41\n", "line 1: the first column"),
        ("time,temp,humidity\n2026-03-02T08:00:00Z,5,41\n", "line 1: expected two columns"),
    ],
)
def test_malformed_logger_lines_are_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_logger_csv(text, default_tz=UTC)


@pytest.mark.parametrize("text", ["", "\n\n", "timestamp,temperature_c\n", "# only a note\n"])
def test_logger_file_without_readings_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="no readings"):
        parse_logger_csv(text, default_tz=UTC)


def test_parsed_log_feeds_excursions_and_gaps() -> None:
    text = (
        "timestamp,temperature_c\n"
        "2026-03-02T08:00:00Z,5\n"
        "2026-03-02T08:05:00Z,8.6\n"
        "2026-03-02T09:05:00Z,5\n"
    )
    readings = parse_logger_csv(text, default_tz=UTC)
    [excursion] = find_excursions(readings, FRESH)
    [gap] = find_gaps(readings, timedelta(minutes=30))
    # The gap hides how long the excursion really lasted: QA sees both.
    assert (excursion.start, excursion.end) == (gap.start, gap.end) == (at(5), at(65))
