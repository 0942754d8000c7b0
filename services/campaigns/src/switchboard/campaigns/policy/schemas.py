"""HTTP models of the sending-policy API: quiet hours per tenant and region, and frequency caps.

The platform's send window is the outer bound: a tenant's window, and a region's within it, can
only narrow it. A wider window is accepted, and `effective_send_window` shows what applies.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from switchboard.campaigns.timing.quiet_hours import ClosedWindowError, DailyWindow, SendWindow
from switchboard.campaigns.timing.zones import validate_zone

PLATFORM_HOURS = "08:00-21:00"
PLATFORM_SEND_WINDOW = SendWindow(daily=DailyWindow(start=time(8), end=time(21)))
"""08:00 to 21:00 every day on the contact's clock: no tenant sends outside it."""
DEFAULT_TIME_ZONE = "UTC"
"""The zone assumed for a contact whose zone neither their profile nor their number gives."""


def _region(code: str) -> str:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise PydanticCustomError(
            "region",
            "'{code}' is not a region: use an ISO 3166 alpha-2 code in capitals, e.g. US or DE.",
            {"code": code},
        )
    return code


def _zone(name: str) -> str:
    try:
        return validate_zone(name)
    except ValueError as error:
        raise PydanticCustomError("time_zone", "{reason}", {"reason": str(error)}) from None


RegionCode = Annotated[str, StringConstraints(max_length=3), AfterValidator(_region)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]


class FrequencyCap(BaseModel):
    """At most `max_messages` proactive messages to one contact in any `period_hours`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_messages: int = Field(ge=1, le=1000, examples=[3])
    period_hours: int = Field(ge=1, le=8760, examples=[24])

    @property
    def period(self) -> timedelta:
        """The sliding period the cap counts over."""
        return timedelta(hours=self.period_hours)


class PolicyWrite(BaseModel):
    """The tenant's whole sending policy; a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    send_window: SendWindow = Field(
        default=PLATFORM_SEND_WINDOW,
        description="When proactive messages may reach a contact, on their clock; narrowed to "
        f"the platform's {PLATFORM_HOURS}.",
    )
    region_windows: dict[RegionCode, SendWindow] = Field(
        default_factory=dict,
        description="Narrower windows for contacts whose number is of a region (ISO 3166 "
        "alpha-2, e.g. DE).",
        examples=[{"DE": {"daily": {"start": "09:00", "end": "20:00"}, "weekdays": {"sun": None}}}],
    )
    default_time_zone: TimeZone = Field(
        default=DEFAULT_TIME_ZONE,
        description="For a contact whose zone neither their profile nor their number gives.",
        examples=["America/New_York"],
    )
    frequency_cap: FrequencyCap | None = Field(
        default=None, description="null: no cap on proactive messages per contact."
    )

    @field_validator("send_window")
    @classmethod
    def _opens_within_the_platform(cls, window: SendWindow) -> SendWindow:
        _checked(window)
        return window

    @field_validator("region_windows")
    @classmethod
    def _regions_open(
        cls, windows: dict[str, SendWindow], info: ValidationInfo
    ) -> dict[str, SendWindow]:
        tenant = info.data.get("send_window")
        if tenant is not None:
            for region, window in windows.items():
                _checked(tenant, window, region=region)
        return windows


class PolicyRead(BaseModel):
    send_window: SendWindow = Field(description="The tenant's window, as written.")
    region_windows: dict[str, SendWindow]
    default_time_zone: str
    frequency_cap: FrequencyCap | None
    effective_send_window: SendWindow = Field(
        description="What applies: the platform's window and the tenant's, both."
    )
    effective_region_windows: dict[str, SendWindow] = Field(
        description="What applies to a region's contacts: the platform's, the tenant's and the "
        "region's windows, all three."
    )
    platform_send_window: SendWindow = Field(description="The bound no tenant sends outside.")
    updated_at: datetime | None = Field(description="null: the tenant never set a policy.")


def narrowed(*windows: SendWindow) -> SendWindow:
    """The platform's window narrowed by each of `windows` (the tenant's, then a region's);
    ClosedWindowError when they leave no hour open on any day."""
    window = PLATFORM_SEND_WINDOW
    for other in windows:
        window = window.intersect(other)
    return window


def _checked(*windows: SendWindow, region: str | None = None) -> SendWindow:
    try:
        return narrowed(*windows)
    except ClosedWindowError:
        if region is None:
            message = (
                f"This window shares no hour with the platform's ({PLATFORM_HOURS}) on any day: "
                "nothing could ever be sent."
            )
        else:
            message = (
                f"The window of {region} shares no hour with the tenant's send window (within "
                f"the platform's {PLATFORM_HOURS}) on any day: nothing could ever be sent there."
            )
        raise PydanticCustomError("closed_window", "{reason}", {"reason": message}) from None
