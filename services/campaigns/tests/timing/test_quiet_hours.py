"""Quiet hours on the contact's clock: the window's JSON, tightening it, and holding a send until
the window opens, exactly, across daylight-saving changes in both hemispheres."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from switchboard.campaigns.timing import (
    ClosedWindowError,
    DailyWindow,
    SendWindow,
    is_allowed,
    next_allowed,
    next_local_time,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

DEFAULT = SendWindow()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def window(**json: Any) -> SendWindow:
    return SendWindow.model_validate(json)


def hours(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


class TestSendWindow:
    def test_by_default_every_day_is_open_from_8_to_21(self) -> None:
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            assert DEFAULT.on(day) == DailyWindow(start=time(8), end=time(21))

    def test_weekdays_override_the_daily_window_and_null_closes_a_day(self) -> None:
        shaped = window(
            daily=hours("09:00", "20:00"), weekdays={"sat": hours("10:00", "18:00"), "sun": None}
        )

        assert shaped.on("fri") == DailyWindow(start=time(9), end=time(20))
        assert shaped.on("sat") == DailyWindow(start=time(10), end=time(18))
        assert shaped.on("sun") is None

    def test_a_null_daily_window_opens_only_the_days_named(self) -> None:
        shaped = window(daily=None, weekdays={"sat": hours("10:00", "12:00")})

        assert shaped.on("sat") is not None
        assert shaped.on("mon") is None

    def test_json_round_trips_with_times_as_hh_mm(self) -> None:
        shaped = window(weekdays={"sun": None, "sat": hours("10:30", "18:00")})

        dumped = shaped.model_dump(mode="json")

        assert dumped == {
            "daily": {"start": "08:00", "end": "21:00"},
            "weekdays": {"sun": None, "sat": {"start": "10:30", "end": "18:00"}},
        }
        assert SendWindow.model_validate(dumped) == shaped

    @pytest.mark.parametrize(
        ("start", "end"),
        [("21:00", "21:00"), ("21:00", "08:00"), pytest.param("22:00", "06:00", id="overnight")],
    )
    def test_a_window_must_start_before_it_ends_the_same_day(self, start: str, end: str) -> None:
        with pytest.raises(ValidationError, match="starts before it ends"):
            window(daily=hours(start, end))

    @pytest.mark.parametrize("written", ["8:00", "08:00:00", "24:00", "08:60", "08:00Z", 28800])
    def test_times_are_written_hh_mm(self, written: object) -> None:
        with pytest.raises(ValidationError, match="HH:MM"):
            window(daily={"start": written, "end": "21:00"})

    @pytest.mark.parametrize(
        "json",
        [
            pytest.param({"weekdays": {"saturday": None}}, id="unknown-weekday"),
            pytest.param({"dialy": hours("08:00", "21:00")}, id="unknown-field"),
        ],
    )
    def test_unknown_keys_are_refused(self, json: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            SendWindow.model_validate(json)

    @pytest.mark.parametrize(
        "json",
        [
            pytest.param({"daily": None}, id="daily-null"),
            pytest.param(
                {"weekdays": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
                id="every-weekday-null",
            ),
        ],
    )
    def test_a_window_closed_every_day_is_refused(self, json: dict[str, Any]) -> None:
        with pytest.raises(ValidationError, match="at least one day"):
            SendWindow.model_validate(json)


class TestIntersect:
    def test_each_day_keeps_the_hours_both_allow(self) -> None:
        tenant = window(daily=hours("09:00", "22:00"))

        assert DEFAULT.intersect(tenant).on("wed") == DailyWindow(start=time(9), end=time(21))

    def test_platform_tenant_and_region_rules_combine_day_by_day(self) -> None:
        tenant = window(weekdays={"sun": None})
        region = window(daily=hours("08:00", "20:00"), weekdays={"sat": hours("10:00", "18:00")})

        effective = DEFAULT.intersect(tenant).intersect(region)

        assert effective.on("mon") == DailyWindow(start=time(8), end=time(20))
        assert effective.on("sat") == DailyWindow(start=time(10), end=time(18))
        assert effective.on("sun") is None

    def test_a_day_whose_hours_do_not_overlap_is_closed(self) -> None:
        mornings = window(weekdays={"fri": hours("08:00", "12:00")})
        afternoons = window(weekdays={"fri": hours("12:00", "17:00")})

        effective = mornings.intersect(afternoons)

        assert effective.on("fri") is None
        assert effective.on("thu") == DEFAULT.on("thu")

    def test_the_order_does_not_matter(self) -> None:
        first = window(daily=hours("07:00", "19:00"), weekdays={"sat": None})
        second = window(
            daily=None, weekdays={"sat": hours("10:00", "11:00"), "mon": DEFAULT.on("mon")}
        )

        one_way, other_way = first.intersect(second), second.intersect(first)

        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            assert one_way.on(day) == other_way.on(day)
        assert one_way.on("mon") == DailyWindow(start=time(8), end=time(19))

    def test_windows_sharing_no_hour_on_any_day_are_an_error(self) -> None:
        weekdays = window(weekdays={"sat": None, "sun": None})
        weekends = window(daily=None, weekdays={"sat": hours("10:00", "18:00")})

        with pytest.raises(ClosedWindowError, match="share no hour"):
            weekdays.intersect(weekends)


class TestIsAllowed:
    @pytest.mark.parametrize(
        ("local", "allowed"),
        [
            (datetime(2024, 6, 5, 7, 59, 59), False),
            (datetime(2024, 6, 5, 8, 0), True),
            (datetime(2024, 6, 5, 20, 59, 59, 999999), True),
            (datetime(2024, 6, 5, 21, 0), False),
        ],
    )
    def test_the_start_is_allowed_and_the_end_is_not(self, local: datetime, allowed: bool) -> None:
        assert is_allowed(local.replace(tzinfo=NEW_YORK), NEW_YORK, DEFAULT) is allowed

    def test_the_contacts_clock_decides_not_utc(self) -> None:
        # 03:00 UTC is 08:30 in Kolkata, and 23:00 the evening before in New York.
        assert is_allowed(utc(2024, 6, 5, 3, 0), KOLKATA, DEFAULT)
        assert not is_allowed(utc(2024, 6, 5, 3, 0), NEW_YORK, DEFAULT)

    def test_a_closed_day_allows_nothing(self) -> None:
        no_sundays = window(weekdays={"sun": None})

        assert not is_allowed(datetime(2024, 6, 9, 12, 0, tzinfo=NEW_YORK), NEW_YORK, no_sundays)

    def test_a_naive_datetime_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            is_allowed(datetime(2024, 6, 5, 12, 0), NEW_YORK, DEFAULT)


class TestNextAllowed:
    def test_inside_the_window_the_send_goes_now(self) -> None:
        at = datetime(2024, 6, 5, 10, 0, 0, 123456, tzinfo=NEW_YORK)

        sent = next_allowed(at, NEW_YORK, DEFAULT)

        assert sent == at
        assert sent.tzinfo is UTC

    def test_before_opening_it_waits_for_the_opening_that_day(self) -> None:
        assert next_allowed(utc(2024, 6, 5, 10, 0), NEW_YORK, DEFAULT) == utc(2024, 6, 5, 12, 0)

    def test_at_closing_it_waits_for_the_next_days_opening(self) -> None:
        at = datetime(2024, 6, 5, 21, 0, tzinfo=NEW_YORK)

        assert next_allowed(at, NEW_YORK, DEFAULT) == utc(2024, 6, 6, 12, 0)

    def test_at_is_read_in_any_time_zone(self) -> None:
        # 07:00 in Paris is 01:00 in New York.
        at = datetime(2024, 6, 5, 7, 0, tzinfo=ZoneInfo("Europe/Paris"))

        assert next_allowed(at, NEW_YORK, DEFAULT) == utc(2024, 6, 5, 12, 0)

    def test_closed_days_are_skipped(self) -> None:
        weekdays_only = window(weekdays={"sat": None, "sun": None})
        friday_night = datetime(2024, 6, 7, 21, 30, tzinfo=NEW_YORK)

        assert next_allowed(friday_night, NEW_YORK, weekdays_only) == utc(2024, 6, 10, 12, 0)

    def test_a_weekday_rule_sets_that_days_opening(self) -> None:
        late_saturdays = window(weekdays={"sat": hours("10:00", "18:00")})
        friday_night = datetime(2024, 6, 7, 21, 30, tzinfo=NEW_YORK)

        assert next_allowed(friday_night, NEW_YORK, late_saturdays) == utc(2024, 6, 8, 14, 0)

    def test_a_half_hour_offset(self) -> None:
        # 00:00 UTC is 05:30 in Kolkata: 08:00 there is 02:30 UTC.
        assert next_allowed(utc(2024, 6, 5, 0, 0), KOLKATA, DEFAULT) == utc(2024, 6, 5, 2, 30)

    def test_a_three_quarter_hour_offset(self) -> None:
        # June is winter on the Chatham Islands (UTC+12:45): 08:00 there is 19:15 UTC.
        assert next_allowed(utc(2024, 6, 4, 12, 0), CHATHAM, DEFAULT) == utc(2024, 6, 4, 19, 15)

    @pytest.mark.parametrize(
        ("at", "opening"),
        [
            pytest.param(utc(2024, 1, 10, 20, 0), utc(2024, 1, 10, 21, 0), id="january-summer"),
            pytest.param(utc(2024, 7, 10, 20, 0), utc(2024, 7, 10, 22, 0), id="july-winter"),
        ],
    )
    def test_southern_summer_time_runs_over_new_year(self, at: datetime, opening: datetime) -> None:
        assert next_allowed(at, SYDNEY, DEFAULT) == opening

    def test_an_opening_skipped_by_spring_forward_opens_at_the_jump(self) -> None:
        # 2024-03-10, New York: 01:59:59 EST is followed by 03:00 EDT (07:00 UTC).
        early = window(daily=hours("02:30", "21:00"))

        assert next_allowed(utc(2024, 3, 10, 5, 0), NEW_YORK, early) == utc(2024, 3, 10, 7, 0)

    def test_a_window_wholly_skipped_by_spring_forward_waits_a_day(self) -> None:
        skipped = window(daily=hours("02:00", "02:45"))

        sent = next_allowed(utc(2024, 3, 10, 5, 0), NEW_YORK, skipped)

        assert sent == utc(2024, 3, 11, 6, 0)  # 02:00 EDT on Monday

    def test_southern_spring_forward(self) -> None:
        # 2024-10-06, Sydney: 01:59:59 AEST is followed by 03:00 AEDT (16:00 UTC the day before).
        early = window(daily=hours("02:30", "21:00"))

        assert next_allowed(utc(2024, 10, 5, 14, 0), SYDNEY, early) == utc(2024, 10, 5, 16, 0)

    def test_london_spring_forward(self) -> None:
        # 2024-03-31, London: 00:59:59 GMT is followed by 02:00 BST (01:00 UTC).
        early = window(daily=hours("01:30", "21:00"))

        assert next_allowed(utc(2024, 3, 31, 0, 0), LONDON, early) == utc(2024, 3, 31, 1, 0)

    @pytest.mark.parametrize(
        ("zone", "opens", "at", "opening"),
        [
            # New York, 2024-11-03: 01:30 EDT (05:30 UTC), and again 01:30 EST (06:30 UTC).
            pytest.param(
                NEW_YORK, "01:30", utc(2024, 11, 3, 4, 0), utc(2024, 11, 3, 5, 30), id="new-york"
            ),
            # London, 2024-10-27: 01:30 BST (00:30 UTC), and again 01:30 GMT (01:30 UTC).
            pytest.param(
                LONDON, "01:30", utc(2024, 10, 26, 23, 0), utc(2024, 10, 27, 0, 30), id="london"
            ),
            # Sydney, 2024-04-07: 02:30 AEDT (15:30 UTC), and again 02:30 AEST (16:30 UTC).
            pytest.param(
                SYDNEY, "02:30", utc(2024, 4, 6, 14, 0), utc(2024, 4, 6, 15, 30), id="sydney"
            ),
        ],
    )
    def test_an_opening_the_fall_back_repeats_opens_at_its_first_reading(
        self, zone: ZoneInfo, opens: str, at: datetime, opening: datetime
    ) -> None:
        opens_in_repeated_hour = window(daily=hours(opens, "21:00"))

        assert next_allowed(at, zone, opens_in_repeated_hour) == opening

    def test_the_repeated_hour_reopens_a_window_the_first_pass_closed(self) -> None:
        # New York, 2024-11-03: 01:50 EDT is past 01:45, but the clock then goes back to 01:00.
        small_hours = window(daily=hours("01:00", "01:45"))

        assert not is_allowed(utc(2024, 11, 3, 5, 50), NEW_YORK, small_hours)
        assert next_allowed(utc(2024, 11, 3, 5, 50), NEW_YORK, small_hours) == utc(
            2024, 11, 3, 6, 0
        )
        assert is_allowed(utc(2024, 11, 3, 6, 30), NEW_YORK, small_hours)  # the second 01:30
        assert not is_allowed(utc(2024, 11, 3, 6, 45), NEW_YORK, small_hours)  # the second 01:45

    def test_a_window_that_never_opens_is_an_error(self) -> None:
        never = SendWindow.model_construct(daily=None, weekdays={})

        with pytest.raises(ClosedWindowError, match="does not open"):
            next_allowed(utc(2024, 6, 5, 12, 0), NEW_YORK, never)

    def test_a_naive_datetime_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            next_allowed(datetime(2024, 6, 5, 12, 0), NEW_YORK, DEFAULT)


def first_allowed_minutes(minutes: list[datetime], allowed: list[bool]) -> list[datetime | None]:
    """For each minute, the first of it and the minutes after it that the window allows."""
    first: list[datetime | None] = [None] * len(minutes)
    following: datetime | None = None
    for index in reversed(range(len(minutes))):
        following = minutes[index] if allowed[index] else following
        first[index] = following
    return first


class TestNextAllowedAcrossDaylightSavingWeeks:
    """Every 7 minutes and 30 seconds over three days around a change, the result is the
    earliest instant the window allows that is not before the send, checked minute by minute
    (windows, offsets and changes all fall on whole minutes)."""

    @pytest.mark.parametrize(
        ("zone", "start", "json"),
        [
            pytest.param(NEW_YORK, utc(2024, 3, 9), {}, id="new-york-spring-default"),
            pytest.param(
                NEW_YORK,
                utc(2024, 3, 9),
                {"daily": hours("01:30", "02:45"), "weekdays": {"mon": None}},
                id="new-york-spring-gap",
            ),
            pytest.param(
                NEW_YORK, utc(2024, 11, 2), {"daily": hours("01:00", "01:45")}, id="new-york-fold"
            ),
            pytest.param(
                NEW_YORK, utc(2024, 11, 2), {"daily": hours("00:30", "01:30")}, id="new-york-fold-2"
            ),
            pytest.param(
                LONDON, utc(2024, 10, 26), {"daily": hours("01:15", "01:45")}, id="london"
            ),
            pytest.param(
                SYDNEY,
                utc(2024, 10, 4),
                {"daily": hours("02:00", "03:30"), "weekdays": {"sat": None}},
                id="sydney-spring",
            ),
            pytest.param(
                SYDNEY, utc(2024, 4, 5), {"daily": hours("02:15", "02:45")}, id="sydney-fall"
            ),
            pytest.param(
                LORD_HOWE, utc(2024, 10, 4), {"daily": hours("02:10", "02:20")}, id="lord-howe-gap"
            ),
            pytest.param(
                CHATHAM, utc(2024, 9, 27), {"daily": hours("02:50", "03:50")}, id="chatham-gap"
            ),
            pytest.param(
                KOLKATA,
                utc(2024, 6, 6),
                {"weekdays": {"sat": None, "sun": hours("12:00", "13:00")}},
                id="kolkata-weekend",
            ),
        ],
    )
    def test_the_result_is_the_first_allowed_instant(
        self, zone: ZoneInfo, start: datetime, json: dict[str, Any]
    ) -> None:
        window = SendWindow.model_validate(json)
        minutes = [start + timedelta(minutes=n) for n in range(6 * 24 * 60)]
        first_allowed = first_allowed_minutes(
            minutes, [is_allowed(minute, zone, window) for minute in minutes]
        )

        for index in range(0, 3 * 24 * 60, 7):
            for at in (minutes[index], minutes[index] + timedelta(seconds=30)):
                sent = next_allowed(at, zone, window)

                assert sent >= at
                assert is_allowed(sent, zone, window)
                # By brute force: `at` itself, else the first whole minute after it allowed.
                expected = at if is_allowed(at, zone, window) else first_allowed[index + 1]
                assert sent == expected, at


class TestNextLocalTime:
    TEN = time(10, 0)

    def test_later_today(self) -> None:
        assert next_local_time(utc(2024, 6, 5, 12, 0), NEW_YORK, self.TEN) == utc(2024, 6, 5, 14, 0)

    def test_once_passed_it_is_tomorrows(self) -> None:
        assert next_local_time(utc(2024, 6, 5, 15, 0), NEW_YORK, self.TEN) == utc(2024, 6, 6, 14, 0)

    def test_at_that_very_time_it_is_now(self) -> None:
        at = datetime(2024, 6, 5, 10, 0, tzinfo=NEW_YORK)

        assert next_local_time(at, NEW_YORK, self.TEN) == at

    def test_only_on_the_weekdays_given(self) -> None:
        wednesday = utc(2024, 6, 5, 12, 0)

        assert next_local_time(wednesday, NEW_YORK, self.TEN, weekdays=["mon"]) == utc(
            2024, 6, 10, 14, 0
        )

    def test_in_a_half_hour_zone(self) -> None:
        assert next_local_time(utc(2024, 6, 5, 0, 0), KOLKATA, self.TEN) == utc(2024, 6, 5, 4, 30)

    @pytest.mark.parametrize(
        ("zone", "at", "reached"),
        [
            pytest.param(NEW_YORK, utc(2024, 3, 10, 5, 0), utc(2024, 3, 10, 7, 0), id="new-york"),
            pytest.param(SYDNEY, utc(2024, 10, 5, 14, 0), utc(2024, 10, 5, 16, 0), id="sydney"),
        ],
    )
    def test_a_time_skipped_by_spring_forward_is_reached_at_the_jump(
        self, zone: ZoneInfo, at: datetime, reached: datetime
    ) -> None:
        assert next_local_time(at, zone, time(2, 30)) == reached

    def test_a_time_the_fall_back_repeats_comes_at_its_first_reading(self) -> None:
        assert next_local_time(utc(2024, 11, 3, 4, 0), NEW_YORK, time(1, 30)) == utc(
            2024, 11, 3, 5, 30
        )

    def test_the_second_reading_of_a_repeated_time_does_not_count(self) -> None:
        # 01:40 EDT: the clock will read 01:30 again (in EST), but that day's 01:30 has passed.
        assert next_local_time(utc(2024, 11, 3, 5, 40), NEW_YORK, time(1, 30)) == utc(
            2024, 11, 4, 6, 30
        )

    def test_a_time_with_a_zone_is_refused(self) -> None:
        with pytest.raises(ValueError, match="without a time zone"):
            next_local_time(utc(2024, 6, 5, 12, 0), NEW_YORK, time(10, tzinfo=UTC))

    def test_an_empty_set_of_weekdays_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one day"):
            next_local_time(utc(2024, 6, 5, 12, 0), NEW_YORK, self.TEN, weekdays=[])
