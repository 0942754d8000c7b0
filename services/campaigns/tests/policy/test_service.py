"""A tenant's policy as the scheduler applies it: the window a send to one address must keep to."""

from __future__ import annotations

from datetime import time

import pytest

from switchboard.campaigns.policy.service import Policy
from switchboard.campaigns.timing import DailyWindow, SendWindow


def daily(start: int, end: int) -> SendWindow:
    return SendWindow(daily=DailyWindow(start=time(start), end=time(end)))


POLICY = Policy(
    send_window=SendWindow(daily=DailyWindow(start=time(7), end=time(20)), weekdays={"sun": None}),
    region_windows={"DE": daily(10, 22)},
)


class TestWindowFor:
    @pytest.mark.parametrize(
        "address", ["+4915112345678", "whatsapp:+4915112345678", " +49 151 12345678"]
    )
    def test_a_number_of_a_region_with_a_window_keeps_to_all_three(self, address: str) -> None:
        # Platform 08-21, tenant 07-20 and no Sundays, Germany 10-22: 10-20, no Sundays.
        assert POLICY.window_for(address) == SendWindow(
            daily=DailyWindow(start=time(10), end=time(20)), weekdays={"sun": None}
        )

    @pytest.mark.parametrize(
        "address", ["+12125550123", "+15551234567", "+80012345678", "not a number", ""]
    )
    def test_any_other_address_keeps_to_the_platforms_and_the_tenants(self, address: str) -> None:
        assert POLICY.window_for(address) == SendWindow(
            daily=DailyWindow(start=time(8), end=time(20)), weekdays={"sun": None}
        )

    def test_the_defaults_keep_to_the_platforms_window(self) -> None:
        assert Policy().window_for("+4915112345678") == daily(8, 21)
