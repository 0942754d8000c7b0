"""When a proactive send may reach a contact, on their local clock: their time zone, the send
window (quiet hours) a send is held until, and times of day a campaign step waits for.

Pure: no database, no I/O beyond the zone database.
"""

from __future__ import annotations

from switchboard.campaigns.timing.quiet_hours import (
    WEEKDAYS,
    ClockTime,
    ClosedWindowError,
    DailyWindow,
    SendWindow,
    Weekday,
    hold,
    is_allowed,
    next_allowed,
    next_local_time,
)
from switchboard.campaigns.timing.zones import (
    ResolvedZone,
    ZoneSource,
    contact_zone,
    number_zone,
    resolve_zone,
    validate_zone,
)

__all__ = [
    "WEEKDAYS",
    "ClockTime",
    "ClosedWindowError",
    "DailyWindow",
    "ResolvedZone",
    "SendWindow",
    "Weekday",
    "ZoneSource",
    "contact_zone",
    "hold",
    "is_allowed",
    "next_allowed",
    "next_local_time",
    "number_zone",
    "resolve_zone",
    "validate_zone",
]
